"""zero.generate: the acceptance rule, trace rows with provenance, resuming, bad input, and a real tiny teacher.

Run: OMP_NUM_THREADS=1 python -m pytest tests/test_generate.py          (about 20 s on 2 CPU cores)
"""

import json

import pytest

from zero import generate
from zero.generate import GenerateConfig, Problem, select, trace_row, verdicts
from zero.sampling import Sample
from zero.tiny.model import build_tiny_model
from zero.traces import check_rows

RIGHT, WRONG, UNTAGGED = "<think> 2 </think> <answer> 2 </answer>", "<think> 2 </think> <answer> 3 </answer>", "2"


@pytest.mark.parametrize(
    "text, truncated, require_format, accepted",
    [
        (RIGHT, False, True, True),
        (WRONG, False, True, False),  # wrong answer
        ("<answer> 2 </answer>", False, True, False),  # right answer, no think block
        ("<answer> 2 </answer>", False, False, True),  # ... accepted when only correctness is asked for
        (RIGHT, True, True, False),  # cut at max_completion_length
        (UNTAGGED, False, False, False),  # no answer region at all
    ],
)
def test_a_sample_is_accepted_only_when_correct_well_formed_and_finished(text, truncated, require_format, accepted):
    (verdict,) = verdicts([text], [truncated], ["2"], "answer_tag", timeout_s=2.0, require_format=require_format)
    assert verdict["accepted"] is accepted and verdict["truncated"] is truncated


def _sample(problem_index, sample_index, accepted, response=RIGHT):
    verdict = {"accuracy": float(accepted), "format": 1.0, "truncated": False, "accepted": accepted}
    return {"problem_index": problem_index, "sample_index": sample_index, "seed": 10 * problem_index + sample_index,
            "response": response, "verdict": verdict}  # fmt: skip


def test_select_keeps_accepted_samples_in_order_with_provenance_and_a_cap():
    problems = [Problem(0, "p0", "1 + 1", "2", "Q: 1 + 1"), Problem(1, "p1", "0 + 2", "2", "Q: 0 + 2")]
    samples = [_sample(1, 1, True), _sample(0, 2, True), _sample(0, 0, True), _sample(0, 1, False), _sample(1, 0, False)]
    cfg = GenerateConfig(model_name_or_path="org/teacher", template="r1_zero", num_generations=3, max_kept_per_problem=1)
    rows = select(problems, samples, cfg.num_generations, cfg.max_kept_per_problem, lambda p, s: trace_row(p, s, cfg))
    assert [(r["problem_id"], r["sample_index"]) for r in rows] == [("p0", 0), ("p1", 1)]
    assert rows[0]["teacher"] == "org/teacher" and rows[0]["sampling"]["seed"] == 0 and rows[0]["answer"] == "2"
    assert rows[0]["verdict"]["accepted"] is True and rows[0]["prompt"] == "Q: 1 + 1"
    assert len(select(problems, samples, 3, None, lambda p, s: trace_row(p, s, cfg))) == 3
    assert len(select(problems, samples, 2, None, lambda p, s: trace_row(p, s, cfg))) == 2  # sample 2 is past k


def test_trace_rows_in_both_formats_pass_the_sft_check():
    problem = Problem(0, "p0", "1 + 1", "2", [{"role": "user", "content": "1 + 1"}])
    cfg = GenerateConfig(model_name_or_path="org/t", template="chat")
    flat = trace_row(problem, _sample(0, 0, True), cfg)
    cfg.row_format = "messages"
    chat = trace_row(problem, _sample(0, 0, True), cfg)
    assert chat["messages"][-1] == {"role": "assistant", "content": RIGHT}
    render = lambda p: p if isinstance(p, str) else "|".join(m["content"] for m in p)  # noqa: E731
    for template in ("chat", None):
        kept, report = check_rows([flat, chat], render, template)
        assert report.kept == 2 and [k["completion"] for k in kept] == [RIGHT, RIGHT]
    assert kept[0]["prompt"] == "1 + 1"


class ScriptedTeacher:
    """A backend that answers problem i "i + 2" right on even sample indices, wrong (+50) on odd ones, and can stop after N batches."""

    def __init__(self, stop_after=None):
        self.stop_after, self.drawn = stop_after, []

    def generate(self, requests, sampling, on_done):
        for start in range(0, len(requests), 4):
            if self.stop_after is not None and start // 4 == self.stop_after:
                raise KeyboardInterrupt
            batch = requests[start : start + 4]
            self.drawn += [r.key for r in batch]
            texts = [RIGHT.replace("2", str(r.key[0] + 2 + r.key[1] % 2 * 50)) for r in batch]
            on_done([Sample(r.key, r.prompt_ids, [1, 2], t, False) for r, t in zip(batch, texts)])


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return str(build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", seed=0))


def _problems_file(tmp_path, n=5):
    path = tmp_path / "problems.jsonl"
    path.write_text("".join(json.dumps({"id": f"q{i}", "problem": f"{i} + 2", "answer": str(i + 2)}) + "\n" for i in range(n)))
    return str(path)


def _argv(tiny_dir, tmp_path, *extra):
    return [f"model_name_or_path={tiny_dir}", f"dataset_name={_problems_file(tmp_path)}", "template=r1_zero",
            "num_generations=3", f"output_file={tmp_path / 'out' / 'traces.jsonl'}", "reward_workers=1", *extra]  # fmt: skip


def test_generate_writes_only_verified_rows_and_resumes_where_it_stopped(tiny_dir, tmp_path, monkeypatch, capsys):
    interrupted = ScriptedTeacher(stop_after=2)
    monkeypatch.setattr(generate, "make_generator", lambda *args: interrupted)
    with pytest.raises(KeyboardInterrupt):
        generate.main(_argv(tiny_dir, tmp_path))
    log = tmp_path / "out" / "traces.samples.jsonl"
    assert len(log.read_text().splitlines()) == 8  # two batches of 4 were graded and kept before the stop
    with log.open("a") as f:
        f.write('{"problem_index": 3, "sampl')  # a write cut short by the kill
    resumed = ScriptedTeacher()
    monkeypatch.setattr(generate, "make_generator", lambda *args: resumed)
    assert generate.main(_argv(tiny_dir, tmp_path)) == 0
    assert len(resumed.drawn) == 15 - 8 and not set(resumed.drawn) & set(interrupted.drawn)
    rows = [json.loads(line) for line in (tmp_path / "out" / "traces.jsonl").read_text().splitlines()]
    # 5 problems x samples 0 and 2 (the right ones), in problem order, each with its provenance
    assert [(r["problem_id"], r["sample_index"]) for r in rows] == [(f"q{i}", j) for i in range(5) for j in (0, 2)]
    assert all(r["verdict"] == {"accuracy": 1.0, "format": 1.0, "truncated": False, "accepted": True} for r in rows)
    assert rows[0]["answer"] == "2" and rows[0]["response"] == RIGHT and rows[0]["prompt"].endswith("User: 0 + 2. Assistant:")
    assert "10 of 15 samples accepted" in capsys.readouterr().out


def test_a_log_from_another_teacher_or_resume_never_is_refused(tiny_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(generate, "make_generator", lambda *args: ScriptedTeacher())
    assert generate.main(_argv(tiny_dir, tmp_path)) == 0
    assert generate.main(_argv(tiny_dir, tmp_path, "resume=never")) == 2
    assert "resume=auto continues it" in capsys.readouterr().err
    other = str(build_tiny_model(tmp_path / "other", seed=1))
    argv = _argv(tiny_dir, tmp_path)
    argv[0] = f"model_name_or_path={other}"
    assert generate.main(argv) == 2
    assert "another teacher" in capsys.readouterr().err


@pytest.mark.parametrize(
    "override, message",
    [
        ("model_name_or_path=", "model_name_or_path (the teacher) is not set"),
        ("template=r1", "unknown template 'r1'"),
        ("num_generations=0", "num_generations must be >= 1"),
        ("backend=sglang", "backend='sglang': choose one of auto, vllm, hf"),
        ("output_file=traces.json", "must end in .jsonl"),
        ("model_name_or_path=/no/such/dir", "does not exist"),
    ],
)
def test_bad_config_exits_2_with_one_line_and_writes_nothing(tiny_dir, tmp_path, capsys, override, message):
    assert generate.main(_argv(tiny_dir, tmp_path, override)) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_hf_backend_samples_a_real_tiny_model(tiny_dir, tmp_path):
    assert generate.main(_argv(tiny_dir, tmp_path, "backend=hf", "max_completion_length=8", "temperature=1.0")) == 0
    log = [json.loads(line) for line in (tmp_path / "out" / "traces.samples.jsonl").read_text().splitlines()]
    assert sorted((s["problem_index"], s["sample_index"]) for s in log) == [(i, j) for i in range(5) for j in range(3)]
    assert all(s["completion_tokens"] >= 1 for s in log)
    # an untrained model writes no well-formed answer: every sample is graded and rejected
    assert not any(s["verdict"]["accepted"] for s in log)
    assert (tmp_path / "out" / "traces.jsonl").read_text() == ""
