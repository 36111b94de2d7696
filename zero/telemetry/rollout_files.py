"""The rollout files: the one place that names, finds and reads them. `load_rollouts(run_dir)` reads them as one
table (TRL's files, with zero's columns) and derives what files written without zero's columns lack. Below
zero.replay and zero.emergence, which both read runs through it; reads only the files, never the trainer.

TRL 1.16 writes `completions/completions_{step:05d}.parquet` (`GRPOTrainer._log_completions`). A file in that
folder whose name carries no step (`completions_best.parquet`, a copy) is not one of TRL's, and every command
treats it the same way: `rollout_files` leaves it out, so it is never read, deleted on resume (zero.run.output_dir)
or published to W&B (zero.telemetry.tables); `load_rollouts` names what it left out. Skipping, not raising,
because the W&B tables run inside training: a user's stray file must not stop a run.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zero import templates
from zero.args import PromptArgs
from zero.data import prompt_id
from zero.telemetry import reasoning

if TYPE_CHECKING:
    import pandas as pd

ROLLOUT_DIR = "completions"
CONFIG_FILE = "zero_config.yaml"  # zero.train's resolved config, written by zero.run.output_dir.write_config
COMPLETIONS_GLOB = f"{ROLLOUT_DIR}/completions_*.parquet"
_NAME = re.compile(r"completions_(\d+)\.parquet")


def file_step(path: str | Path) -> int | None:
    """The optimizer step a rollout file holds, from its name; None for a name TRL does not write.

    >>> file_step("completions/completions_00042.parquet"), file_step("completions/completions_best.parquet")
    (42, None)
    """
    found = _NAME.fullmatch(Path(path).name)
    return int(found.group(1)) if found else None


def rollout_files(run_dir: str | Path) -> list[tuple[int, Path]]:
    """The run's rollout files as (step, path), by step; files without a step in their name left out."""
    steps = ((file_step(path), path) for path in Path(run_dir).glob(COMPLETIONS_GLOB))
    return sorted((step, path) for step, path in steps if step is not None)


def load_config(run_dir: str | Path) -> dict[str, Any]:
    """The resolved config the run trained with (`zero_config.yaml`); `{}` when the run has none."""
    import yaml

    path = Path(run_dir) / CONFIG_FILE
    if not path.exists():
        return {}
    with path.open() as f:
        config = yaml.safe_load(f) or {}
    if not isinstance(config, dict):
        raise ValueError(f"{path} must hold a mapping of config keys, not {type(config).__name__}")
    return config


def answer_region(config: dict[str, Any]) -> str:
    """The answer region a run's resolved config (`load_config`) names: its `answer_region`, else its template's."""
    return templates.answer_region(config.get("template") or PromptArgs.template, config.get("answer_region"))


def prompt_text(prompt: Any) -> str:
    """A prompt as one string: plain prompts as they are, chat prompts as their last user message.

    >>> prompt_text([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "1+1?"}])
    '1+1?'
    """
    if isinstance(prompt, str):
        return prompt
    messages = [m for m in list(prompt) if isinstance(m, dict)]
    users = [m.get("content", "") for m in messages if m.get("role") == "user"]
    return str(users[-1]) if users else str(prompt)


def load_rollouts(run_dir: str | Path) -> pd.DataFrame:
    """Every rollout of the run, one row per completion, from `completions/completions_*.parquet`.

    With `num_iterations > 1` consecutive files hold the same rollout batch; when the files carry
    `rollout_step`, each batch is kept once, at the first step that logged it. Unknown columns pass through;
    missing optional ones are derived where the files allow it (`is_correct` from `reward_accuracy == 1`,
    reflection counts from the completion text with the run's lexicon, `prompt_id` from the prompt text).
    """
    import pandas as pd

    run_dir = Path(run_dir)
    files = rollout_files(run_dir)
    strays = sorted(set(run_dir.glob(COMPLETIONS_GLOB)) - {path for _, path in files})
    if strays:
        print(f"zero.replay: warning: {len(strays)} file(s) in {run_dir / ROLLOUT_DIR} not named "
              f"completions_<step>.parquet left out: {', '.join(p.name for p in strays[:5])}", file=sys.stderr)
    if not files:
        raise FileNotFoundError(
            f"no rollout files {run_dir / COMPLETIONS_GLOB}: is {run_dir} a run's output_dir, and did it log "
            "completions (log_completions: true)?"
        )
    frames = []
    for step, path in files:
        try:
            frame = pd.read_parquet(path)
        except (OSError, ValueError) as e:  # a truncated or garbled file (pyarrow's ArrowInvalid is a ValueError)
            print(f"zero.replay: warning: skipping unreadable rollout file {path} ({str(e).splitlines()[0][:120]})",
                  file=sys.stderr)
            continue
        if "step" not in frame:
            frame["step"] = step
        frames.append(frame)
    if not frames:
        raise ValueError(f"none of the {len(files)} rollout files in {run_dir / ROLLOUT_DIR} can be read")
    df = pd.concat(frames, ignore_index=True)
    for column in ("completion", "prompt"):
        if column not in df:
            raise ValueError(f"{files[0][1]} has no {column!r} column: not a rollout file written by TRL")
    df["step"] = df["step"].astype(int)
    if "rollout_step" in df:
        first_step = df.groupby("rollout_step")["step"].transform("min")
        df = df[df["step"] == first_step].reset_index(drop=True)
    df["prompt_text"] = [prompt_text(p) for p in df["prompt"]]
    if "prompt_id" not in df:
        df["prompt_id"] = [prompt_id(p) for p in df["prompt_text"]]
    df["prompt_id"] = df["prompt_id"].astype(str)
    if "is_correct" not in df and "reward_accuracy" in df:
        df["is_correct"] = [None if pd.isna(r) else bool(r == 1.0) for r in df["reward_accuracy"]]
    if "format_ok" not in df and "reward_format" in df:
        df["format_ok"] = [bool(r == 1.0) for r in df["reward_format"]]
    if "reflection_count" not in df:
        config = load_config(run_dir)
        region, lexicon = answer_region(config), config.get("reflection_lexicon")
        found = [reasoning.find_reflections(str(text), lexicon) for text in df["completion"]]
        ends = [reasoning.answer_start(str(text), region) for text in df["completion"]]
        df["reflection_count"] = [len(f) for f in found]
        df["reflection_words"] = [",".join(word for _, word in f) for f in found]
        df["reflection_in_think"] = [sum(o < end for o, _ in f) for f, end in zip(found, ends)]
    return df
