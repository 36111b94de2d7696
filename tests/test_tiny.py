"""The tiny world and its control: the task generator, the cold-start traces, the `random` reward,
configs/tiny_random.yaml, zero.emergence.

Run: ``python -m pytest tests/test_tiny.py -q`` (a few seconds; no training). The learning test that runs both
recipes is tests/test_train.py::test_tiny_recipe_learns (slow).
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
import yaml

from helpers import TINY_CONTROL_RECIPE, TINY_RECIPE
from rewards import REWARDS
from zero import emergence, tiny
from zero.tiny import analysis, model, task
from zero.telemetry.reasoning import annotate
from zero.telemetry.rollout_files import load_rollouts
from zero.telemetry.reward_suite import RewardSuite


def test_problems_are_seeded_chains_with_every_answer_equally_likely():
    rows = tiny.arithmetic_problems(5000, 5, seed=0)
    assert rows == tiny.arithmetic_problems(5000, 5, seed=0) and rows != tiny.arithmetic_problems(5000, 5, seed=1)
    for row in rows[:500]:
        start, ops = task._parse(row["problem"])
        assert len(ops) == 4 == len(set(ops)) and set(ops) <= set(tiny.operations(5))
        value = start
        for op in ops:  # left to right on a ten-hour clock, written out again
            value = eval(f"({value}) {op[0]} {op[1:]}") % 10
        assert row["answer"] == str(value) and row["prompt_id"] == row["problem"].replace(" ", "")
    counts = pd.Series([r["answer"] for r in rows]).value_counts(normalize=True)
    assert len(counts) == 10 and counts.max() < 0.12 and counts.min() > 0.08
    assert len({r["problem"] for r in rows}) > 4000  # far more chains than a 0.8M-parameter model can memorise
    with pytest.raises(ValueError, match="tiny_max_operand >= 3"):
        tiny.arithmetic_problems(3, 2, seed=0)


def _final(completion: str) -> str:
    return completion.split("<answer>")[1].split("</answer>")[0].strip()


def test_cold_start_traces_plant_three_kinds_and_reflection_catches_real_errors():
    problems = tiny.arithmetic_problems(4000, 5, seed=0)
    gold = {p["problem"]: p["answer"] for p in problems}
    rows = tiny.cold_start_traces(problems, [0.6, 0.25, 0.15], seed=0)
    assert rows == tiny.cold_start_traces(problems, [0.6, 0.25, 0.15], seed=0)
    by_mode = {m: [r for r in rows if r["mode"] == m] for m in tiny.MODES}
    assert all(tiny.trace_kind(r["completion"]) == r["mode"] for r in rows)  # what `python -m zero.tiny` counts
    for mode, share in zip(tiny.MODES, [0.6, 0.25, 0.15]):
        assert abs(len(by_mode[mode]) / len(rows) - share) < 0.03, mode
    right = {m: sum(_final(r["completion"]) == gold[r["problem"]] for r in rs) / len(rs) for m, rs in by_mode.items()}
    assert right["direct"] == right["reflective"] == 1.0
    assert 0.3 < right["stepwise"] < 0.5  # a chain that meets no misremembered fact, or one whose error lands right
    wrong_facts = [(v, op) for v in range(10) for op in tiny.operations(5) if tiny.misremembered(v, op) != tiny.apply(v, op)]
    assert 15 <= len(wrong_facts) <= 35
    completions = [r["completion"] for r in rows]
    cols = annotate(completions, [_final(c) == gold[r["problem"]] for c, r in zip(completions, rows)],
                    [True] * len(rows), [len(c.split()) for c in completions], "answer_tag",
                    extract_answer=lambda text, region: _final(text))  # fmt: skip
    for r, count, corrected in zip(rows, cols["reflection_count"], cols["self_correction"]):
        assert (count > 0) == (r["mode"] == "reflective")
        guess = r["completion"].split(" wait")[0].split("= ")[-1] if r["mode"] == "reflective" else None
        assert corrected == (guess is not None and guess != gold[r["problem"]])  # the aha finder sees each catch
    guessed_right = sum(", yes" in r["completion"] for r in by_mode["reflective"]) / len(by_mode["reflective"])
    assert 0.2 < guessed_right < 0.4
    tokenizer = model.load_tokenizer()
    assert all(tokenizer.unk_token_id not in tokenizer(c)["input_ids"] for c in completions[:300])
    assert max(len(tokenizer(c)["input_ids"]) for c in completions) < 48  # configs/tiny.yaml's completion budget


def test_kinds_by_step_counts_each_planted_kind_and_its_accuracy_per_window():
    problems = tiny.arithmetic_problems(8, 5, seed=0)
    early = tiny.cold_start_traces(problems, [1.0, 0.0, 0.0], seed=0)
    late = tiny.cold_start_traces(problems, [0.0, 0.25, 0.75], seed=0)
    df = pd.DataFrame([{"step": step, "completion": r["completion"], "is_correct": r["mode"] != "stepwise",
                        "completion_tokens": len(r["completion"].split())}
                       for step, rs in [(1, early), (2, early), (3, late), (4, late)] for r in rs])  # fmt: skip
    table = analysis.kinds_by_step(df, windows=2)
    assert list(table.index) == ["1-1", "1-2", "3-4"]
    assert table.loc["1-2", "direct share"] == 1.0 and table.loc["1-2", "direct acc"] == 1.0
    assert math.isnan(table.loc["1-2", "reflective acc"])
    late_share = sum(r["mode"] == "reflective" for r in late) / len(late)
    assert table.loc["3-4", "reflective share"] == late_share and table.loc["3-4", "acc"] == late_share
    assert table.loc["3-4", "length"] > table.loc["1-1", "length"]
    assert list(analysis.kinds_by_step(df, windows=10).index) == ["1-1", "1-1", "2-2", "3-3", "4-4"]  # a span a step


@pytest.mark.parametrize("main, argv, message", [
    (analysis.main, ["--windows", "0"], "--windows must be >= 1"),
    (analysis.main, [], "no rollout files"),
    (emergence.main, [], "no rollout files"),
])  # fmt: skip
def test_the_analysis_commands_refuse_no_windows_and_a_dir_without_rollouts(tmp_path, capsys, main, argv, message):
    with pytest.raises(SystemExit) as exit_:
        main([str(tmp_path), *argv])
    assert exit_.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.slow
def test_the_tiny_run_moves_from_guessing_to_checking(tiny_run, capsys):
    assert analysis.main([str(tiny_run)]) == 0
    printed = capsys.readouterr().out
    assert "reflective share" in printed and "91-100" in printed
    table = analysis.kinds_by_step(load_rollouts(tiny_run))
    assert table["reflective share"].iloc[-1] >= 2 * table["reflective share"].iloc[0]
    assert table["direct share"].iloc[-1] < table["direct share"].iloc[0]


@pytest.mark.parametrize("mix", [[0.5, 0.5], [0.6, 0.6, -0.2], [0.2, 0.2, 0.2]])
def test_a_bad_mix_is_refused(mix):
    with pytest.raises(ValueError, match="cold_start_mix must be 3 shares >= 0 that sum to 1"):
        tiny.cold_start_traces(tiny.arithmetic_problems(2, 5, seed=0), mix, seed=0)


class _State:
    global_step = 7


def test_random_reward_is_a_seeded_coin_independent_of_the_text():
    random_reward = REWARDS["random"]
    texts = [f"<think> {i} </think> <answer> {i} </answer>" for i in range(400)]
    flips = random_reward(texts, seed=1, trainer_state=_State())
    assert flips == random_reward(["x"] * 400, seed=1, trainer_state=_State())  # the text does not matter
    assert flips == random_reward(texts, seed=1, trainer_state=_State())  # reproducible (and on resume)
    assert flips != random_reward(texts, seed=2, trainer_state=_State())
    assert flips != random_reward(texts, seed=1)  # another step, other coins
    assert set(flips) == {0.0, 1.0} and 0.4 < sum(flips) / len(flips) < 0.6
    assert random_reward(texts[:10], seed=1, p=0.0) == [0.0] * 10
    with pytest.raises(ValueError, match="p must be"):
        random_reward(texts, p=1.5)


def test_random_reward_is_counted_like_every_reward():
    """In the trainer's suite it gets its `reward_random` column and weight, and the telemetry still grades accuracy,
    so a control run's files show what the policy got right while coin flips rewarded it."""
    metrics, extra = {}, {}
    suite = RewardSuite(["random", "format"], [1.0, 0.1], "answer_tag", [0, 1], seed=0)
    texts = ["<think> 1 + 2 = 3 </think> <answer> 3 </answer>", "<think> 1 + 2 = 4 </think> <answer> 4 </answer>"]
    scores = [
        fn(texts, solution=["3", "3"], prompt_id=["a", "a"], completion_ids=[[5, 0], [5, 0]],
           log_extra=extra.__setitem__, log_metric=metrics.__setitem__)
        for fn in suite.reward_funcs
    ]  # fmt: skip
    assert [fn.__name__ for fn in suite.reward_funcs] == ["reward_random", "reward_format"]
    assert scores[0] == REWARDS["random"](texts, seed=0) and scores[1] == [1.0, 1.0]
    assert extra["reward"] == pytest.approx([s + 0.1 for s in scores[0]])
    assert extra["is_correct"] == [True, False]


def test_control_recipe_is_the_tiny_recipe_with_a_coin_for_the_accuracy_reward():
    real, control = (yaml.safe_load(p.read_text()) for p in (TINY_RECIPE, TINY_CONTROL_RECIPE))
    differ = {k for k in real.keys() | control.keys() if real.get(k) != control.get(k)}
    assert differ == {"reward_funcs", "output_dir"}
    assert real["reward_funcs"] == ["accuracy", "format"] and control["reward_funcs"] == ["random", "format"]


def _rollouts(steps: int, accuracy, tokens, reflects, corrections=0) -> pd.DataFrame:
    """8 completions per step; `accuracy`, `tokens`, `reflects` map a step to the step's share correct, length and
    share with a reflection word."""
    rows = []
    for step in range(1, steps + 1):
        for i in range(8):
            correct = i < round(8 * accuracy(step))
            rows.append({"step": step, "is_correct": correct, "completion_tokens": tokens(step) + (2 if correct else 0),
                         "reflection_count": int(i < round(8 * reflects(step))),
                         "self_correction": step <= corrections and i == 0})  # fmt: skip
    return pd.DataFrame(rows)


def test_emergence_figures_use_the_first_and_last_tenth_of_steps():
    df = _rollouts(20, accuracy=lambda s: 0.25 if s <= 2 else 1.0 if s > 18 else 0.5,
                   tokens=lambda s: 10 if s <= 2 else 20, reflects=lambda s: 0.125 if s <= 2 else 0.5, corrections=3)  # fmt: skip
    e = emergence.measure(df)
    assert (e.steps, e.accuracy_start, e.accuracy_end) == (20, 0.25, 1.0)
    assert e.length_start == pytest.approx(10.5) and e.length_end == 22
    assert (e.reflection_share_start, e.reflection_share_end, e.self_corrections) == (0.125, 0.5, 3)
    assert math.isnan(e.length_incorrect_end) and not math.isnan(e.accuracy_without_reflection_end)
    checks = emergence.targets(e)
    assert checks["accuracy ends >= 0.8"][0] and checks["accuracy gains >= 0.4"][0]
    assert checks["length ends >= 1.5x start"][0] and checks["reflection share ends >= 2x start and >= 0.2"][0]
    assert not checks["self-corrections >= 10"][0]


def test_control_comparison():
    run = emergence.measure(_rollouts(10, lambda s: 0.25 if s == 1 else 1.0, lambda s: 10 * s, lambda s: 0))
    flat = emergence.measure(_rollouts(10, lambda s: 0.25, lambda s: 10, lambda s: 0))
    checks = emergence.targets(run, control=flat)
    assert checks["control gain >= 0.3 below the run's"] == (True, "+0.00 vs +0.75")
    assert checks["control length ratio below the run's"][0]
    assert not emergence.targets(run, control=run)["control gain >= 0.3 below the run's"][0]
    assert "control" in emergence.format_figures({"run": run, "control": flat})
