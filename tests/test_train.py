"""The real `python -m zero.train` command on the tiny recipe: smoke run, bad input, resume, and learning.

Run: python -m pytest tests/test_train.py            (smoke, resume and the full tiny recipe's learning: minutes)
     python -m pytest tests/test_train.py -m "not slow"  (the refusals only)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from helpers import REPO, TINY_RECIPE, run_zero_train

# A short run of the tiny recipe: a few cold-start steps, two GRPO steps, small batches.
FAST = ["cold_start_steps=40", "cold_start_learning_rate=3e-3", "max_steps=2", "num_generations=4", "per_device_train_batch_size=8",
        "tiny_num_problems=40", "disable_tqdm=true", "save_steps=1"]
ROLLOUT_COLUMNS = {"step", "prompt_id", "prompt", "completion", "solution", "reward", "reward_accuracy",
                   "reward_format", "advantage", "completion_tokens", "truncated", "is_correct", "format_ok",
                   "reflection_count", "reflection_words", "self_correction", "rollout_step"}


@pytest.mark.slow
def test_two_step_smoke_run_trains_and_writes_everything(tmp_path):
    out = tmp_path / "run"
    evaluation = ["eval.every=2", "eval.benchmarks=gsm8k", "eval.limit=2", "eval.n=2", "eval.max_tokens=8"]
    assert run_zero_train(str(TINY_RECIPE), f"output_dir={out}", *FAST, *evaluation) == 0

    before, after = load_file(out / "cold_start" / "model.safetensors"), load_file(out / "model.safetensors")
    moved = [k for k in before if not torch.equal(before[k], after[k])]
    assert moved, "GRPO did not change any parameter"

    files = sorted((out / "completions").glob("completions_*.parquet"))
    assert [f.name for f in files] == ["completions_00001.parquet", "completions_00002.parquet"]
    for step, f in enumerate(files, start=1):
        df = pd.read_parquet(f)
        assert ROLLOUT_COLUMNS <= set(df.columns), ROLLOUT_COLUMNS - set(df.columns)
        assert len(df) == 8 and (df["step"] == step).all() and (df["rollout_step"] == step).all()
        expected = df["reward_accuracy"] * 1.0 + df["reward_format"] * 0.1  # reward_weights of the recipe
        assert (df["reward"] - expected).abs().max() < 1e-9
        assert df["solution"].str.fullmatch(r"\d+").all()

    assert list((out / "wandb").glob("offline-run-*/run-*.wandb")), "no offline W&B run written"
    import json

    results = json.loads((out / "eval" / "step_000002" / "results.json").read_text())
    assert results["benchmarks"]["gsm8k"]["n"] == 2
    history = json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())["log_history"]
    assert any("eval/gsm8k/pass@1" in entry for entry in history)
    config = (out / "zero_config.yaml").read_text()
    assert "max_steps: 2" in config and "cold_start_steps: 40" in config


@pytest.mark.slow
def test_resume_continues_from_the_last_checkpoint_without_duplicating_rollouts(tmp_path):
    out = tmp_path / "run"
    assert run_zero_train(str(TINY_RECIPE), f"output_dir={out}", *FAST) == 0
    first = pd.read_parquet(out / "completions" / "completions_00002.parquet")
    assert run_zero_train(str(TINY_RECIPE), f"output_dir={out}", *FAST, "max_steps=4") == 0
    files = sorted(p.name for p in (out / "completions").glob("*.parquet"))
    assert files == [f"completions_{i:05d}.parquet" for i in range(1, 5)]
    # steps 1-2 were not run again: their files are the first run's
    assert pd.read_parquet(out / "completions" / "completions_00002.parquet").equals(first)
    assert (out / "checkpoint-4" / "trainer_state.json").exists()
    assert run_zero_train(str(TINY_RECIPE), f"output_dir={out}", *FAST, "max_steps=4", "resume=never") == 2


def cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zero.train", *argv], cwd=REPO, capture_output=True, text=True,
                          env={**__import__("os").environ, "WANDB_MODE": "offline"}, timeout=300)


@pytest.mark.parametrize(
    "argv, message",
    [(["/nope/recipe.yaml"], "config file '/nope/recipe.yaml' not found"),
     ([str(TINY_RECIPE), "template=r2"], "unknown template 'r2'"),
     ([str(TINY_RECIPE), "model_name_or_path=./no/such/dir"], "model path './no/such/dir' does not exist"),
     ([str(TINY_RECIPE), "learning_rate=fast"], "learning_rate: expected a number"),
     ([str(TINY_RECIPE), "lerning_rate=1e-3"], "did you mean 'learning_rate'"),
     ([str(TINY_RECIPE), "logging_steps=5"], "set logging_steps=1"),
     ([str(TINY_RECIPE), "reward_funcs=accuracy,speed"], "unknown reward 'speed'")],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, argv, message):
    out = tmp_path / "run"
    result = cli(*argv, f"output_dir={out}")
    assert result.returncode == 2, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("zero.train: error:")]
    assert len(errors) == 1 and message in errors[0], result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == errors[0]  # the error is the last thing printed
    assert not out.exists()


def test_empty_dataset_and_occupied_output_dir(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    result = cli(str(TINY_RECIPE), f"dataset_name={empty}", f"output_dir={tmp_path / 'a'}")
    assert result.returncode == 2 and "is empty" in result.stderr
    occupied = tmp_path / "b"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine")
    result = cli(str(TINY_RECIPE), f"output_dir={occupied}")
    assert result.returncode == 2 and "no checkpoint to resume" in result.stderr
    assert [p.name for p in occupied.iterdir()] == ["notes.txt"]


@pytest.mark.slow
def test_tiny_recipe_learns(tiny_run, tiny_control_run):
    """Reasoning emerges, and it is the reward's doing. Every target of the tiny recipe (zero.emergence, first vs
    last 10 % of steps, the definition README quotes): accuracy ends >= 0.8 and >= 0.4 above where RL began; the
    mean length grows >= 1.5x and correct completions are the longer ones; the share with a reflection word at
    least doubles to >= 0.2 and pays; >= 10 self-corrections; and the random-reward control (same seed, same cold
    start) gains at least 0.3 less accuracy and less length."""
    from zero import emergence
    from zero.replay import load_rollouts

    run, control = (emergence.measure(load_rollouts(d)) for d in (tiny_run, tiny_control_run))
    print(emergence.format_figures({"run": run, "control": control}))
    checks = emergence.targets(run, control)
    assert len(checks) == 9
    missed = {name: figures for name, (met, figures) in checks.items() if not met}
    assert not missed, f"targets missed: {missed}"


@pytest.mark.slow
def test_notebook_and_replay_cli_on_the_tiny_run(tiny_run, monkeypatch, capsys):
    """The replay notebook and `python -m zero.replay` read a real run's files (CI: the tiny recipe's)."""
    from helpers import execute_notebook
    from zero import replay

    outputs = execute_notebook(tiny_run, monkeypatch)
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 3
    assert replay.main([str(tiny_run)]) == 0
    assert "step" in capsys.readouterr().out
    for png in replay.PLOT_FILES:
        assert (tiny_run / "replay" / png).stat().st_size > 10_000
