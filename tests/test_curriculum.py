"""The pass-rate curriculum, both halves: the online rule that sets problems aside and brings them back, its sampler
(TRL's order without the retired, deterministic, restored from a checkpoint), and the offline pass rates of a known
model on known problems with the `dataset_pass_rate` band that keeps them.

Run: OMP_NUM_THREADS=1 python -m pytest tests/test_curriculum.py          (about 30 s on 2 CPU cores)
"""

from __future__ import annotations

import json

import pytest
import torch
from trl.trainer.utils import RepeatSampler

from zero.args import CurriculumArgs
from zero.curriculum import Curriculum, CurriculumSampler
from zero.errors import ConfigError

IDS = [f"p{i}" for i in range(10)]


def _group(pid, right, n=4):
    return [pid] * n, [right] * n


def test_a_problem_retires_after_n_all_right_groups_and_returns_after_retire_steps():
    c = Curriculum(IDS, solved_groups=2, failed_groups=0, retire_steps=3)
    c.observe(1, *_group("p0", True))
    assert c.retired_ids() == set()  # one all-right group is not two
    c.observe(2, *_group("p0", True))
    assert c.retired_ids() == {"p0"} and c.metrics() == {"data/retired_prompts": 1.0, "data/retirements": 1.0,
                                                  "data/retired_drawn": 0.0}
    c.observe(4, *_group("p1", True))
    assert c.retired_ids() == {"p0"}  # retired at step 2 for 3 steps: still out at step 4
    c.observe(5, *_group("p1", False))
    assert c.retired_ids() == set() and c.retirements == 1  # back at step 5 ...
    c.observe(6, *_group("p0", True))
    assert c.retired_ids() == set()  # ... with a clean history: one all-right group again is not enough


def test_a_mixed_group_resets_the_streak_and_all_wrong_has_its_own_n():
    c = Curriculum(IDS, solved_groups=2, failed_groups=1, retire_steps=10)
    c.observe(1, *_group("p0", True))
    c.observe(2, ["p0"] * 4, [True, True, False, True])  # one wrong completion: the group teaches
    c.observe(3, *_group("p0", True))
    assert c.retired_ids() == set()
    c.observe(4, *_group("p2", False))
    assert c.retired_ids() == {"p2"}  # failed_groups=1: one all-wrong group retires it
    c.observe(5, ["p3"] * 4, [None, True, True, True])  # an ungradable gold: neither right nor wrong
    c.observe(6, ["p3"] * 4, [None, True, True, True])
    assert c.retired_ids() == {"p2"}


def _draws(sampler, n):
    it = iter(sampler)
    return [next(it) for _ in range(n)]


def test_without_retirements_the_sampler_draws_trl_s_order():
    c = Curriculum(IDS, solved_groups=1, failed_groups=0, retire_steps=5)
    ours = CurriculumSampler(c, mini_repeat_count=2, batch_size=3, repeat_count=2, seed=7)
    trl = RepeatSampler(IDS, mini_repeat_count=2, batch_size=3, repeat_count=2, seed=7)
    assert list(ours) == list(trl) and len(ours) == len(trl)


def test_the_sampler_skips_retired_problems_and_is_deterministic_under_a_seed():
    def run():
        c = Curriculum(IDS, solved_groups=1, failed_groups=0, retire_steps=100)
        sampler = CurriculumSampler(c, mini_repeat_count=1, batch_size=2, repeat_count=1, seed=3)
        it = iter(sampler)
        first = [next(it), next(it)]
        c.observe(1, [IDS[i] for i in first] * 2, [True] * 4)  # both solved: set aside
        rest = [next(it) for _ in range(6)]
        return first, rest

    first, rest = run()
    assert not set(first) & set(rest) and len(set(rest)) == 6
    assert run() == (first, rest)


def test_when_too_few_problems_are_in_play_retired_ones_fill_the_batch_and_are_counted():
    c = Curriculum(IDS[:3], solved_groups=1, failed_groups=0, retire_steps=100)
    c.observe(1, IDS[:3], [True, True, True])  # every problem set aside
    sampler = CurriculumSampler(c, mini_repeat_count=1, batch_size=2, repeat_count=1, seed=0)
    chunk = _draws(sampler, 2)
    assert len(set(chunk)) == 2 and c.fallbacks == 2  # the batch is full; the fallback is counted
    assert c.metrics()["data/retired_drawn"] == 2.0


def test_a_resumed_sampler_replays_this_pass_then_goes_on_as_the_uninterrupted_one(tmp_path):
    def observe_all(c, draws, step):
        c.observe(step, [IDS[i] for i in draws], [i % 2 == 0 for i in draws])  # even problems are solved

    whole = Curriculum(IDS, solved_groups=1, failed_groups=0, retire_steps=4)
    uninterrupted = iter(CurriculumSampler(whole, mini_repeat_count=1, batch_size=2, repeat_count=1, seed=1))
    head = Curriculum(IDS, solved_groups=1, failed_groups=0, retire_steps=4)
    interrupted = iter(CurriculumSampler(head, mini_repeat_count=1, batch_size=2, repeat_count=1, seed=1))
    expected, got = [], []
    for step in (1, 2):
        a, b = [next(uninterrupted) for _ in range(2)], [next(interrupted) for _ in range(2)]
        observe_all(whole, a, step)
        observe_all(head, b, step)
        expected += a
        got += b
    head.save(tmp_path)  # the checkpoint at step 2

    resumed = Curriculum(IDS, solved_groups=1, failed_groups=0, retire_steps=4)
    assert resumed.load(tmp_path)
    again = iter(CurriculumSampler(resumed, mini_repeat_count=1, batch_size=2, repeat_count=1, seed=1))
    assert [next(again) for _ in range(4)] == got  # the trainer skips these two steps by drawing them again
    for step in (3, 4):
        a, b = [next(uninterrupted) for _ in range(2)], [next(again) for _ in range(2)]
        observe_all(whole, a, step)
        observe_all(resumed, b, step)
        assert a == b
    assert resumed.metrics() == whole.metrics()


def test_a_checkpoint_from_other_settings_is_refused(tmp_path):
    Curriculum(IDS, solved_groups=1, failed_groups=0, retire_steps=4).save(tmp_path)
    with pytest.raises(ConfigError, match="other curriculum settings"):
        Curriculum(IDS, solved_groups=2, failed_groups=0, retire_steps=4).load(tmp_path)
    assert Curriculum(IDS, 1, 0, 4).load(tmp_path / "nowhere") is False


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"dataset_pass_rate": [0.1, 0.9]}, "pass_rate_file and dataset_pass_rate go together"),
        ({"pass_rate_file": "x.jsonl", "dataset_pass_rate": [0.9, 0.1]}, "must be [lo, hi] with 0 <= lo <= hi <= 1"),
        ({"pass_rate_file": "no/such.jsonl", "dataset_pass_rate": [0.1, 0.9]}, "does not exist"),
        ({"curriculum_solved_groups": -1}, "curriculum_solved_groups must be >= 0"),
        ({"curriculum_retire_steps": 0}, "curriculum_retire_steps must be >= 1"),
    ],
)
def test_bad_curriculum_settings_are_one_line_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        CurriculumArgs(**kwargs)


# --- offline: pass rates of a known model, and the band ----------------------------------------------------------

class KnownModel:
    """A backend that answers problem i ("i + 2") right on its first i samples and wrong on the others, so with k=4
    problem i's pass rate is min(i, 4) / 4."""

    def generate(self, requests, sampling, on_done):
        from zero.sampling import Sample

        batch = []
        for r in requests:
            i, j = r.key
            answer = i + 2 if j < i else i + 50
            batch.append(Sample(r.key, r.prompt_ids, [1, 2], f"<think> {i} + 2 </think> <answer> {answer} </answer>",
                                False))
        on_done(batch)


@pytest.fixture
def problems_file(tmp_path):
    path = tmp_path / "problems.jsonl"
    path.write_text("".join(json.dumps({"id": f"q{i}", "problem": f"{i} + 2", "answer": str(i + 2)}) + "\n"
                            for i in range(6)))
    return path


def test_the_offline_pass_rate_of_a_known_model_on_known_problems(tmp_path, problems_file, capsys):
    from zero import pass_rate
    from zero.tiny.model import build_tiny_model

    model = build_tiny_model(tmp_path / "model", seed=0)
    out = tmp_path / "rates.jsonl"
    argv = [f"model_name_or_path={model}", f"dataset_name={problems_file}", "num_generations=4",
            f"output_file={out}", "reward_workers=1"]
    assert pass_rate.main(argv, generator=KnownModel()) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["prompt_id"], r["pass_rate"], r["correct"], r["k"]) for r in rows] == [
        ("q0", 0.0, 0, 4), ("q1", 0.25, 1, 4), ("q2", 0.5, 2, 4), ("q3", 0.75, 3, 4), ("q4", 1.0, 4, 4),
        ("q5", 1.0, 4, 4)]
    assert "6 problems, mean pass rate 0.583 (k=4); never solved 1, always solved 2" in capsys.readouterr().out


def test_dataset_pass_rate_keeps_the_problems_inside_the_band(tmp_path, problems_file, capsys):
    from zero import data
    from zero.config import ZeroConfig

    rates = tmp_path / "rates.jsonl"
    rates.write_text("".join(json.dumps({"prompt_id": f"q{i}", "pass_rate": i / 4}) + "\n" for i in range(5)))
    cfg = ZeroConfig(dataset_name=str(problems_file), pass_rate_file=str(rates), dataset_pass_rate=[0.25, 0.75])
    ds = data.load_problems(cfg, 0, tiny_num_problems=1, tiny_max_operand=5,
                            pass_rates=(cfg.pass_rate_file, cfg.dataset_pass_rate))
    assert ds["prompt_id"] == ["q1", "q2", "q3"]
    assert "keeps 3 of 6 problems (1 not rated in" in capsys.readouterr().err
    with pytest.raises(ConfigError, match=r"no problem has a pass rate in \[0.3, 0.4\]"):
        data.load_problems(cfg, 0, tiny_num_problems=1, tiny_max_operand=5, pass_rates=(str(rates), [0.3, 0.4]))
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"prompt_id": "zz", "pass_rate": 0.5}) + "\n")
    with pytest.raises(ConfigError, match="rates none of this dataset's problems"):
        data.load_problems(cfg, 0, tiny_num_problems=1, tiny_max_operand=5, pass_rates=(str(other), [0.0, 1.0]))


def test_a_generator_state_round_trips_through_json():
    g = torch.Generator()
    g.manual_seed(5)
    state = g.get_state().tolist()
    h = torch.Generator()
    h.set_state(torch.tensor(json.loads(json.dumps(state)), dtype=torch.uint8))
    assert torch.randperm(10, generator=g).tolist() == torch.randperm(10, generator=h).tolist()
