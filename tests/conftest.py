"""Shared fixtures: the real `zero.train` command run on the tiny recipe.

`tiny_run` runs configs/tiny.yaml exactly as the README's first command does (W&B offline), once per test session,
and hands its run directory to the learning test and the notebook test.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import TINY_RECIPE, run_zero_train


@pytest.fixture(autouse=True)
def _offline_wandb(monkeypatch):
    """No test ever talks to W&B's servers or prompts for a login."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    for key in ("WANDB_DIR", "WANDB_RUN_ID", "WANDB_RESUME", "WANDB_PROJECT"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """The full tiny recipe (cold start + GRPO), run once per session; returns its output_dir."""
    output_dir = tmp_path_factory.mktemp("tiny") / "run"
    mp = pytest.MonkeyPatch()
    mp.setenv("WANDB_MODE", "offline")
    try:
        code = run_zero_train(str(TINY_RECIPE), f"output_dir={output_dir}", "disable_tqdm=true")
    finally:
        mp.undo()
    assert code == 0, "the tiny recipe failed"
    return output_dir
