"""Helpers the test modules share; not a test module itself (tests import this, never each other).

- `run_zero_train`: the real `python -m zero.train` in this process, W&B environment restored afterwards.
- `write_synthetic_run`: a small run directory in the documented rollout format: 3 prompts x 4 completions,
  accuracy rising 0 -> 3/4 over four rollout batches, each batch logged at two consecutive steps (as TRL does with
  num_iterations=2, with a `rollout_step` column), and one self-correction at step `AHA_STEP`.
- `execute_notebook`: notebooks/replay.ipynb executed headless against a run directory.
- `parse_recipe`: a recipe parsed as its command parses it, also where vllm is not installed.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import time
from pathlib import Path

import pandas as pd

from zero.telemetry import reasoning

REPO = Path(__file__).resolve().parents[1]
TINY_RECIPE = REPO / "configs" / "tiny.yaml"
TINY_CONTROL_RECIPE = REPO / "configs" / "tiny_random.yaml"


def run_zero_train(*argv: str) -> int:
    """`python -m zero.train ARGV` in this process, with the environment it changes restored afterwards: W&B's
    variables, and the RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT that TRL's vLLM colocate mode
    sets (trl/generation/vllm_generation.py), which would make every later subprocess look like a distributed
    launch to zero.run.launch and accelerate."""
    from zero.train import main

    saved = dict(os.environ)
    try:
        return main(list(argv))
    finally:
        import wandb

        if wandb.run is not None:
            wandb.finish()
        wandb.teardown()
        os.environ.clear()
        os.environ.update(saved)


VLLM_REFUSAL = "backend=vllm but vllm is not installed"


def parse_recipe(argv: list[str], classes: tuple[type, ...]):
    """`zero.config.parse(argv, classes)`. Where vllm is not installed (`pip install -e .[dev]`), a recipe written
    for `backend: vllm` must be refused by name, and everything else in it must parse: it is parsed again with
    `backend=hf`, so every other check still runs."""
    from zero.config import ConfigError, parse

    if importlib.util.find_spec("vllm") is not None:
        return parse(argv, classes)
    try:
        return parse(argv, classes)
    except ConfigError as e:
        if VLLM_REFUSAL not in str(e):
            raise
    return parse([*argv, "backend=hf"], classes)


PROMPTS = {"p0": ("What is 3 + 4?", "7"), "p1": ("What is 6 * 2?", "12"), "p2": ("What is 9 - 5?", "4")}
AHA_STEP = 5
AHA_TEXT = "<think>6 * 2 = 8. Wait, that is wrong: 6 * 2 = 12</think> <answer>12</answer>"


def _answer(text: str, region: str) -> str | None:
    found = re.findall(r"<answer>(.*?)</answer>", text, re.S)
    return found[-1].strip() if found else None


def _completion(rollout: int, gold: str, correct: bool, index: int) -> str:
    filler = " ".join(["step"] * (5 * rollout))  # completions grow longer batch by batch
    if not correct and index == 3:
        return f"<think>{filler} hmm, still thinking"  # truncated: no closing tags
    answer = gold if correct else str(int(gold) + 1)
    check = " Let me check: it holds." if rollout >= 3 else ""
    return f"<think>{filler} so it is {answer}.{check}</think> <answer>{answer}</answer>"


def write_synthetic_run(run_dir: Path, rollouts: int = 4) -> Path:
    """A run directory with 2 * `rollouts` completion files and a zero_config.yaml; returns `run_dir`."""
    (run_dir / "completions").mkdir(parents=True)
    (run_dir / "zero_config.yaml").write_text("template: r1_zero\nanswer_region: null\nreflection_lexicon: null\n")
    for rollout in range(1, rollouts + 1):
        rows = []
        for prompt_id, (problem, gold) in PROMPTS.items():
            for index in range(4):
                correct = index < rollout - 1  # 0, 1, 2, 3 of 4 correct
                text = _completion(rollout, gold, correct, index)
                if prompt_id == "p1" and index == 0 and 2 * rollout - 1 == AHA_STEP:
                    text = AHA_TEXT
                rows.append(
                    {
                        "prompt": f"User: {problem}. Assistant:",
                        "completion": text,
                        "reward_accuracy": 1.0 if correct else 0.0,
                        "reward_format": 1.0 if "</answer>" in text else 0.0,
                        "prompt_id": prompt_id,
                        "solution": gold,
                        "completion_tokens": len(text.split()),
                        "truncated": "</answer>" not in text,
                        "rollout_step": rollout,
                    }
                )
        frame = pd.DataFrame(rows)
        frame["reward"] = frame["reward_accuracy"] + frame["reward_format"]
        frame["advantage"] = frame["reward"] - frame.groupby("prompt_id")["reward"].transform("mean")
        columns = reasoning.annotate(
            frame["completion"].tolist(),
            (frame["reward_accuracy"] == 1.0).tolist(),
            (frame["reward_format"] == 1.0).tolist(),
            frame["completion_tokens"].tolist(),
            "answer_tag",
            extract_answer=_answer,
        )
        frame = frame.assign(**columns)
        for step in (2 * rollout - 1, 2 * rollout):  # num_iterations=2: the batch is logged at two steps
            frame.assign(step=step).to_parquet(run_dir / "completions" / f"completions_{step:05d}.parquet")
    return run_dir


def execute_notebook(run_dir: Path, monkeypatch) -> list[dict]:
    """Executes notebooks/replay.ipynb against `run_dir` (any failing cell raises); returns the code cells' outputs."""
    import nbclient  # the dev extra: a missing one fails the test rather than skipping it
    import nbformat

    monkeypatch.setenv("ZERO_RUN_DIR", str(run_dir))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    notebook = nbformat.read(REPO / "notebooks" / "replay.ipynb", as_version=4)
    # kernel "python3" runs on sys.executable (jupyter_client substitutes it for "python"): the venv's python
    client = nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(REPO / "notebooks")}}
    )
    client.execute()
    return [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]


def wait_for(path: Path, proc: subprocess.Popen, limit_s: float = 300) -> None:
    """Poll until `path` exists (the child reached that point); fail if the child exits first."""
    deadline = time.monotonic() + limit_s
    while not path.exists():
        assert proc.poll() is None, f"the run ended before {path} appeared:\n{proc.stdout.read()[-3000:]}"
        assert time.monotonic() < deadline, f"{path} did not appear in {limit_s} s"
        time.sleep(0.05)
