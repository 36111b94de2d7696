"""Replay from a run directory's files: loading, per-step summary, aha finder, PNGs and the notebook.

Run: python -m pytest tests/test_replay.py -q

The run directory is tests/helpers.py's `write_synthetic_run` (3 prompts x 4 completions, accuracy rising
0 -> 3/4, one self-correction at step 5).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from helpers import AHA_STEP, AHA_TEXT, execute_notebook, write_synthetic_run

from zero import replay


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return write_synthetic_run(tmp_path / "run")


def test_synthetic_run_holds_one_self_correction(run_dir):
    frame = pd.read_parquet(run_dir / "completions" / f"completions_{AHA_STEP:05d}.parquet")
    assert frame["self_correction"].sum() == 1
    assert frame.loc[frame["self_correction"], "completion"].item() == AHA_TEXT


def test_load_rollouts_keeps_each_rollout_batch_once(run_dir):
    df = replay.load_rollouts(run_dir)
    assert len(df) == 4 * 12
    assert sorted(df["step"].unique()) == [1, 3, 5, 7]


def test_summarize_per_step(run_dir):
    summary = replay.summarize(replay.load_rollouts(run_dir))
    assert summary["accuracy"].tolist() == [0.0, 0.25, 0.5, 0.75]
    assert summary["reasoning/self_corrections"].tolist() == [0.0, 0.0, 1.0, 0.0]
    assert summary["reasoning/length/mean"].is_monotonic_increasing
    assert summary["reasoning/truncated_share"].tolist() == [0.25] * 4  # completion 3 of each prompt: never correct
    assert summary.loc[1, "reward"] == pytest.approx(0.75)  # no accuracy, 9 of 12 formatted
    assert "reasoning/reflection/accuracy_with" in summary


def test_first_aha(run_dir):
    aha = replay.first_aha(replay.load_rollouts(run_dir))
    assert aha["step"] == AHA_STEP
    assert aha["prompt_id"] == "p1"
    assert aha["prompt"] == "User: What is 6 * 2?. Assistant:"
    assert aha["context"].startswith("<think>6 * 2 = 8. Wait")


def test_prompt_curves_and_early_vs_late(run_dir):
    df = replay.load_rollouts(run_dir)
    curves = replay.prompt_curves(df)
    assert list(curves.columns) == [1, 3, 5, 7]
    assert curves.loc["p0"].tolist() == [0.0, 0.25, 0.5, 0.75]
    prompt_id, early, late = replay.early_vs_late(df, "p2")
    assert (prompt_id, early["step"].unique().tolist(), late["step"].unique().tolist()) == ("p2", [1], [7])
    with pytest.raises(ValueError, match="not in this run"):
        replay.early_vs_late(df, "nope")
    assert replay.completions_at(df, 6)["step"].unique().tolist() == [5]


def test_missing_optional_columns_are_derived(tmp_path):
    """A file with TRL's columns only (chat prompts, no zero extras) still replays."""
    (tmp_path / "completions").mkdir()
    prompt = [{"role": "user", "content": "What is 1 + 1?"}]
    pd.DataFrame(
        {
            "step": [1, 1],
            "prompt": [prompt, prompt],
            "completion": ["<think>Wait, 2</think><answer>2</answer>", "<answer>3</answer>"],
            "reward_accuracy": [1.0, 0.0],
            "reward_format": [1.0, float("nan")],
            "advantage": [0.5, -0.5],
            "unknown_column": ["x", "y"],
        }
    ).to_parquet(tmp_path / "completions" / "completions_00001.parquet")
    df = replay.load_rollouts(tmp_path)
    assert df["is_correct"].tolist() == [True, False]
    assert df["reflection_count"].tolist() == [1, 0]
    assert df["reflection_in_think"].tolist() == [1, 0]
    assert df["prompt_text"].tolist() == ["What is 1 + 1?"] * 2
    assert df["prompt_id"].nunique() == 1
    summary = replay.summarize(df)
    assert summary.loc[1, "accuracy"] == 0.5 and summary.loc[1, "reward"] == pytest.approx(1.0)
    assert replay.first_aha(df) is None  # no self_correction column: unknown, not invented
    paths = replay.write_plots(df, tmp_path / "plots")
    assert all(p.stat().st_size > 0 for p in paths)


def test_a_file_without_a_step_in_its_name_is_left_out_by_every_reader(tmp_path, capsys):
    """One rule (zero.telemetry.rollout_files): replay names and skips it, a restart neither reads nor deletes it."""
    from zero.run.output_dir import Plan, prepare
    from zero.telemetry.rollout_files import file_step, rollout_files

    run_dir = write_synthetic_run(tmp_path / "run")
    expected = replay.load_rollouts(run_dir)
    stray = run_dir / "completions" / "completions_best.parquet"
    stray.write_bytes((run_dir / "completions" / "completions_00003.parquet").read_bytes())
    assert file_step(stray) is None and [s for s, _ in rollout_files(run_dir)] == list(range(1, 9))
    capsys.readouterr()
    pd.testing.assert_frame_equal(replay.load_rollouts(run_dir), expected)
    assert "completions_best.parquet" in capsys.readouterr().err
    prepare(Plan(run_dir, resume_step=4))  # a restart from step 4: the rollouts of steps 5..8 go, the stray stays
    assert [s for s, _ in rollout_files(run_dir)] == [1, 2, 3, 4] and stray.exists()


def test_load_rollouts_error_names_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="log_completions"):
        replay.load_rollouts(tmp_path)


def test_cli_prints_summary_and_writes_pngs(run_dir, capsys):
    assert replay.main([str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "first aha moment: step 5, prompt p1" in out and "**Wait**" in out
    assert re.search(r"^\s*7\s+12\s", out, re.M)  # the step-7 row: 12 completions
    for name in replay.PLOT_FILES:
        path = run_dir / "replay" / name
        assert path.stat().st_size > 10_000, f"{path} is (nearly) empty"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_notebook_runs_headless(run_dir, monkeypatch):
    """Executes notebooks/replay.ipynb against the synthetic run; any failing cell fails the test."""
    outputs = execute_notebook(run_dir, monkeypatch)
    text = "".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    html = "".join(str(o.get("data", {}).get("text/html", "")) for o in outputs)
    assert "first aha moment at step 5" in text
    assert "<mark>Wait</mark>" in html
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 3
