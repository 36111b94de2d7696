"""Shared fixtures: the real `zero.train` command run on the tiny recipe.

`tiny_run` runs configs/tiny.yaml exactly as the README's first command does (W&B offline), once per test session,
and hands its run directory to the learning test and the notebook test. `tiny_control_run` runs its spurious-reward
control (configs/tiny_random.yaml) from the same cold start.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import TINY_CONTROL_RECIPE, TINY_RECIPE, run_zero_train


@pytest.fixture(autouse=True)
def _offline_wandb(monkeypatch):
    """No test ever talks to W&B's servers or prompts for a login."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    for key in ("WANDB_DIR", "WANDB_RUN_ID", "WANDB_RESUME", "WANDB_PROJECT"):
        monkeypatch.delenv(key, raising=False)


def _run_recipe(recipe: Path, output_dir: Path) -> Path:
    mp = pytest.MonkeyPatch()
    mp.setenv("WANDB_MODE", "offline")
    try:
        code = run_zero_train(str(recipe), f"output_dir={output_dir}", "disable_tqdm=true")
    finally:
        mp.undo()
    assert code == 0, f"{recipe.name} failed"
    return output_dir


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """The full tiny recipe (cold start + GRPO), run once per session; returns its output_dir."""
    return _run_recipe(TINY_RECIPE, tmp_path_factory.mktemp("tiny") / "run")


@pytest.fixture(scope="session")
def tiny_control_run(tiny_run, tmp_path_factory) -> Path:
    """The random-reward control, once per session, after `tiny_run`. Same seed, so it trains the same base model
    and cold start again (zero.train refuses an output_dir that holds files but no checkpoint, so they are not
    copied in)."""
    return _run_recipe(TINY_CONTROL_RECIPE, tmp_path_factory.mktemp("tiny_random") / "run")
