"""zero.sft and zero.traces: the row-by-row trace check, the CLI on good and bad files, packing, and (slow) the tiny
generate -> sft -> train pipeline with its accuracy figures.

Run: OMP_NUM_THREADS=1 python -m pytest tests/test_sft.py -m "not slow"     (4 s on 2 CPU cores, beside a CI run)
     OMP_NUM_THREADS=1 python -m pytest tests/test_sft.py -m slow -s          (the CLI runs and the tiny pipeline: minutes)
"""

import json
from pathlib import Path

import pytest
import torch

from zero import sft
from zero.config import ConfigError
from zero.models import tokenizer_from_pretrained
from zero.tiny.model import build_tiny_model
from zero.traces import check_rows, read_jsonl, require_rows

GOOD = " <think> 1 + 1 = 2 </think> <answer> 2 </answer>"


def render(source):
    return source if isinstance(source, str) else " | ".join(m["content"] for m in source)


@pytest.mark.parametrize(
    "row, template, reason",
    [
        ({"problem": "1 + 1"}, "chat", "missing field 'response'"),
        ({"problem": "1 + 1", "response": " \n "}, "chat", "empty response"),
        ({"problem": "1 + 1", "response": 7}, "chat", "response is not a string"),
        ({"response": GOOD}, "chat", "missing field 'problem'"),
        ({"problem": "", "response": GOOD}, "chat", "empty 'problem'"),
        ({"problem": "1 + 1", "response": GOOD}, None, "missing field 'prompt'"),
        ({"messages": [{"role": "user", "content": "1 + 1"}]}, None, "malformed messages"),
        ({"messages": [{"role": "assistant", "content": GOOD}]}, None, "malformed messages"),
        ({"messages": "1 + 1"}, None, "malformed messages"),
        (["1 + 1", GOOD], "chat", "not a JSON object"),
        ({"problem": "1 + 1", "response": GOOD, "verdict": {"accepted": False}}, "chat", "rejected by its verdict"),
        ({"problem": "1 + 1 " * 20, "response": GOOD}, "chat", "over max_length"),
    ],
)
def test_each_bad_row_is_dropped_with_its_reason(row, template, reason):
    rows = [{"problem": "2 + 2", "response": GOOD, "prompt": "2 + 2"}, row]
    kept, report = check_rows(rows, render, template, count_tokens=lambda s: len(s.split()), max_length=40)
    assert report.kept == 1 and kept[0]["completion"] == GOOD
    assert [(i.row, i.reason) for i in report.issues] == [(2, reason)]


@pytest.mark.parametrize(
    "row, template, prompt",
    [
        ({"problem": "3 + 4", "prompt": "ignored", "response": GOOD}, "chat", "3 + 4"),
        ({"problem": "3 + 4", "prompt": "stored prompt", "response": GOOD}, None, "stored prompt"),
        ({"prompt": [{"role": "user", "content": "3 + 4"}], "response": GOOD}, None, "3 + 4"),
        ({"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "3 + 4"},
                       {"role": "assistant", "content": GOOD}]}, None, "S | 3 + 4"),  # fmt: skip
        ({"problem": "3 + 4", "messages": [{"role": "user", "content": "x"},
                                          {"role": "assistant", "content": GOOD}]}, "r1_zero", "3 + 4"),  # fmt: skip
    ],
)
def test_good_rows_in_every_form_become_prompt_completion_text(row, template, prompt):
    kept, report = check_rows([row], render, template)
    assert report.issues == [] and kept == [{"prompt": prompt, "completion": GOOD}]


def test_the_report_counts_by_reason_and_lists_every_row():
    rows = [{"problem": "1", "response": GOOD}] + [{"problem": "1", "response": ""}] * 3 + [{"problem": "1"}] * 2
    _, report = check_rows(rows, render, "chat", numbers=[10, 11, 12, 13, 14, 15], source="t.jsonl")
    assert report.counts() == {"empty response": 3, "missing field 'response'": 2}
    lines = report.lines(shown=4)
    assert lines[0] == "t.jsonl: 1 of 6 rows kept, 5 dropped"
    assert lines[3:] == ["  row 11: empty response", "  row 12: empty response", "  row 13: empty response",
                         "  row 14: missing field 'response' (nor 'messages'; the row has: problem)", "  ... and 1 more rows (all are listed in trace_report.json)"]  # fmt: skip
    assert report.to_dict()["dropped"] == 5 and len(report.to_dict()["issues"]) == 5


def test_no_usable_row_is_a_config_error_naming_the_most_common_reason():
    _, report = check_rows([{"problem": "1", "response": ""}] * 2 + [{"x": 1}], render, "chat", source="t.jsonl")
    with pytest.raises(ConfigError, match=r"no usable row in t.jsonl \(3 read; most common problem: empty response\)"):
        require_rows(report)


def test_read_jsonl_numbers_lines_and_reports_broken_ones(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2\n[1]\n')
    rows, issues = read_jsonl(path)
    assert rows == [(1, {"a": 1}), (4, [1])] and [(i.row, i.reason) for i in issues] == [(3, "not valid JSON")]
    with pytest.raises(ConfigError, match="does not exist: run python -m zero.generate first"):
        read_jsonl(tmp_path / "missing.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        read_jsonl(tmp_path / "empty.jsonl")


# --- the CLI ---------------------------------------------------------------------------------------------------

RECIPE = str(Path(__file__).resolve().parents[1] / "configs" / "sft" / "tiny_distill.yaml")


def write_traces(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return str(path)


def _cli(tmp_path, traces, *extra):
    return [RECIPE, f"dataset_name={traces}", f"output_dir={tmp_path / 'student'}", "disable_tqdm=true", *extra]


@pytest.mark.slow
def test_cli_trains_on_the_good_rows_and_reports_the_bad_ones(tmp_path, capsys):
    good = [{"problem": f"{a} + {b}", "response": f" <think> {a} + {b} = {a + b} </think> <answer> {a + b} </answer>"}
            for a in range(4) for b in range(4)]  # fmt: skip
    bad = [{"problem": "1 + 1"}, {"problem": "1 + 1", "response": "  "}, "not json",
           {"problem": "1 + 1", "response": " <think>" + " 1 + 1 = 2" * 60 + " </think>"}]  # fmt: skip
    traces = write_traces(tmp_path / "t.jsonl", good[:8] + bad + good[8:])
    assert sft.main(_cli(tmp_path, traces, "max_steps=4", "logging_steps=1")) == 0
    out = capsys.readouterr().out
    assert "16 of 20 rows kept, 4 dropped" in out
    for line in ("row 9: missing field 'response'", "row 10: empty response", "row 11: not valid JSON",
                 "row 12: over max_length ("):  # fmt: skip
        assert f"zero.sft:   {line}" in out
    student = tmp_path / "student"
    report = json.loads((student / "trace_report.json").read_text())
    assert report["kept"] == 16 and report["counts"] == {
        "empty response": 1, "missing field 'response'": 1, "not valid JSON": 1, "over max_length": 1}  # fmt: skip
    assert "model_name_or_path: builtin:tiny" in (student / "zero_sft_config.yaml").read_text()
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(student / "base_model").state_dict()
    trained = AutoModelForCausalLM.from_pretrained(student).state_dict()
    assert any(not torch.equal(base[k], trained[k]) for k in base)  # the weights moved
    assert tokenizer_from_pretrained(student).chat_template  # zero.train can render template=chat with it


@pytest.mark.parametrize(
    "rows, extra, message",
    [
        ([{"problem": "1", "response": ""}, {"problem": "2"}], [], "no usable row in"),
        ([{"problem": "1", "response": GOOD}], ["template=qwen_chat"], "unknown template 'qwen_chat'"),
        ([{"problem": "1", "response": GOOD}], ["max_length=none"], "max_length=None"),
        ([{"problem": "1", "response": GOOD}], ["completion_only_loss=false"], "would train on the prompts"),
        ([{"problem": "1", "response": GOOD}], ["resume=maybe"], "resume='maybe'"),
        ([{"problem": "1", "response": GOOD}], ["dataset_name=/no/such.jsonl"], "does not exist"),
        ([{"problem": "1", "response": GOOD}], ["lerning_rate=1"], "did you mean 'learning_rate'"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, rows, extra, message):
    traces = write_traces(tmp_path / "t.jsonl", rows)
    assert sft.main(_cli(tmp_path, traces, *extra)) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and err.startswith("zero.sft: error: ")
    assert not (tmp_path / "student").exists()


@pytest.mark.slow
def test_cli_template_none_trains_on_stored_messages(tmp_path, capsys):
    chat = [{"messages": [{"role": "user", "content": f"{a} + 1"}, {"role": "assistant", "content": GOOD}]}
            for a in range(6)]  # fmt: skip
    traces = write_traces(tmp_path / "t.jsonl", chat)
    assert sft.main(_cli(tmp_path, traces, "template=none", "max_steps=1")) == 0
    assert "6 of 6 rows kept, 0 dropped" in capsys.readouterr().out
    assert sft.main([]) == 2 and "no recipe given" in capsys.readouterr().err


def test_cli_refuses_an_output_dir_holding_files(tmp_path, capsys):
    (tmp_path / "student").mkdir()
    (tmp_path / "student" / "notes.txt").write_text("mine")
    traces = write_traces(tmp_path / "t.jsonl", [{"problem": "1", "response": GOOD}])
    assert sft.main(_cli(tmp_path, traces)) == 2
    assert "already holds files" in capsys.readouterr().err


@pytest.mark.slow
def test_run_sft_keeps_its_signature_for_the_tiny_cold_start(tmp_path):
    base = build_tiny_model(tmp_path / "base", seed=0)
    rows = [{"prompt": "1 + 1 =", "completion": GOOD}] * 8
    out = sft.run_sft(base, rows, tmp_path / "cold", max_steps=2, per_device_train_batch_size=4, use_cpu=True,
                      bf16=False, disable_tqdm=True)  # fmt: skip
    assert (out / "model.safetensors").exists() and (out / "tokenizer.json").exists()


def test_packed_rows_do_not_attend_to_each_other_on_cpu(tmp_path):
    """The tiny recipe packs rows padding-free (TRL bfd): position_ids restart per row and transformers builds a
    block-diagonal mask from them. A row's logits must be the same packed as alone."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(build_tiny_model(tmp_path / "m", seed=0), attn_implementation="sdpa")
    a, b = torch.tensor([[5, 6, 7, 8, 9]]), torch.tensor([[10, 11, 12]])
    packed = torch.cat([a, b], dim=1)  # [1, 8]
    positions = torch.tensor([[0, 1, 2, 3, 4, 0, 1, 2]])
    with torch.no_grad():  # use_cache=False as in training: transformers reads packing only without a KV cache
        together = model(input_ids=packed, position_ids=positions, use_cache=False).logits  # [1, 8, vocab]
        alone = model(input_ids=b, use_cache=False).logits  # [1, 3, vocab]
        leaky = model(input_ids=packed, use_cache=False).logits  # no restart: b sees a
    assert torch.allclose(together[:, 5:], alone, atol=1e-5)
    assert not torch.allclose(leaky[:, 5:], alone, atol=1e-3)


def test_a_think_block_the_template_opens_is_not_opened_twice():
    rows = [{"prompt": "<|Assistant|><think>\n", "response": "<think>\nso 2 </think> \\boxed{2}"}]
    kept, _ = check_rows(rows, render, None)
    assert kept == [{"prompt": "<|Assistant|><think>\n", "completion": "\nso 2 </think> \\boxed{2}"}]


# --- the tiny pipeline: teacher -> zero.generate -> zero.sft -> zero.train ------------------------------------


HELD_OUT = 999  # the seed of the 100 held-out chains that greedy_accuracy scores


def greedy_accuracy(model_dir, template):
    """Greedy accuracy of a checkpoint on 100 held-out chains of the tiny world under `template`."""
    import rewards
    from zero.sampling import HFGenerator, Request, Sampling
    from zero.tiny.task import arithmetic_problems
    from zero.traces import prompt_renderer

    tok = tokenizer_from_pretrained(model_dir)
    to_text = prompt_renderer(template, tok)
    problems = [(p["problem"], p["answer"]) for p in arithmetic_problems(100, 5, seed=HELD_OUT)]
    requests = [Request(i, tok(to_text(p), add_special_tokens=False)["input_ids"], 0) for i, (p, _) in enumerate(problems)]
    samples = []
    HFGenerator.load(str(model_dir), tok, batch_size=100, dtype="float32").generate(
        requests, Sampling(0.0, 1.0, 64), samples.extend
    )
    samples.sort(key=lambda s: s.key)
    scores = rewards.accuracy_reward([s.text for s in samples], [gold for _, gold in problems])
    return sum(scores) / len(scores)


def first_step_accuracy(tmp_path, name, *overrides):
    """Mean accuracy reward of the rollouts of the first GRPO step of configs/tiny.yaml with `overrides`."""
    import pandas as pd

    from zero import train

    out = tmp_path / name
    argv = [str(Path(RECIPE).parents[1] / "tiny.yaml"), *overrides, "max_steps=1", "report_to=none",
            "save_strategy=no", f"output_dir={out}", "disable_tqdm=true"]  # fmt: skip
    assert train.main(argv) == 0
    return float(pd.read_parquet(out / "completions" / "completions_00001.parquet")["reward_accuracy"].mean())


TEACHER_STEPS = 400


@pytest.mark.slow
def test_tiny_pipeline(tmp_path):
    """generate -> sft -> train end to end on CPU. Figures over 3 seeds: README "Cold start and distillation"."""
    from zero import generate
    from zero.templates import render
    from zero.tiny.task import arithmetic_problems
    from zero.tiny.traces import cold_start_traces

    # The teacher: the tiny model fine-tuned on the tiny world's reflective traces only (a guess, a check by running
    # partial results, the corrected answer), which always end right.
    problems = arithmetic_problems(TEACHER_STEPS * 32, 5, seed=123)
    teacher_rows = [{"prompt": render("r1_zero", r["problem"]), "completion": r["completion"]}
                    for r in cold_start_traces(problems, [0.0, 0.0, 1.0], seed=0)]  # fmt: skip
    teacher = sft.run_sft(build_tiny_model(tmp_path / "base", seed=0), teacher_rows, tmp_path / "teacher",
                          max_steps=TEACHER_STEPS, learning_rate=1e-3, per_device_train_batch_size=32,
                          lr_scheduler_type="linear", use_cpu=True, bf16=False, disable_tqdm=True,
                          gradient_checkpointing=False)  # fmt: skip
    traces = tmp_path / "traces.jsonl"
    recipe = str(Path(RECIPE).parent / "tiny_teacher_traces.yaml")
    assert generate.main([recipe, f"model_name_or_path={teacher}", f"output_file={traces}"]) == 0
    rows = [json.loads(line) for line in traces.read_text().splitlines()]
    assert len(rows) >= 100 and all(r["verdict"]["accepted"] and r["teacher"] == str(teacher) for r in rows)

    assert sft.main([RECIPE, f"dataset_name={traces}", f"output_dir={tmp_path / 'student'}", "disable_tqdm=true"]) == 0
    untrained = greedy_accuracy(tmp_path / "student" / "base_model", "chat")
    student = greedy_accuracy(tmp_path / "student", "chat")
    print(f"greedy accuracy on 100 held-out chains: untrained {untrained:.2f}, SFT student {student:.2f}")
    assert student >= untrained + 0.3

    from_student = first_step_accuracy(
        tmp_path, "rl_student", f"model_name_or_path={tmp_path / 'student'}", "template=chat", "cold_start_steps=0"
    )
    from_scratch = first_step_accuracy(tmp_path, "rl_scratch", "cold_start_steps=0")
    print(f"first GRPO step accuracy: from the SFT student {from_student:.2f}, from scratch {from_scratch:.2f}")
    assert from_student >= from_scratch + 0.2
