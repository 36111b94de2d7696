"""The run directory: what a run writes, and how an existing one is resumed, restarted, finished or refused.

    output_dir/
      zero_config.yaml           the resolved config (every key; feed it back to zero.train to rerun)
      zero.lock                  held by the process running in it (zero.run.lifecycle); holds its pid
      completions/completions_{step:05d}.parquet   every rollout of every step (TRL's log_completions)
      checkpoint-N/              trainer checkpoints (model, optimizer, RNG states)
      broken_checkpoints/        checkpoints whose weights diverged (inf/nan), moved aside
      wandb/                     the W&B run (offline when there is no key or network)
      base_model/, cold_start/   the tiny recipe's starting points

A stopped run restarts with the same command. It resumes from the newest checkpoint that loads (its state JSON
parses, its weights and optimizer files are whole); newer ones that do not load are deleted, each named. Rollout files of steps after that checkpoint are deleted: those steps run again
and write them anew, so every step's file exists exactly once. A run of ours (zero_config.yaml present) with no
checkpoint that loads starts over in place: its rollouts and partial checkpoints are cleared and a complete
base model and cold start are reused. A run whose checkpoint reached max_steps is finished: the command says so
and trains nothing.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from zero.config import ConfigError, ZeroConfig, resolved

CONFIG_FILE = "zero_config.yaml"
BROKEN_DIR = "broken_checkpoints"
STARTING_POINTS = ("base_model", "cold_start")
# Keys whose new value a resumed run cannot apply: the optimizer's param groups (learning rate, weight decay,
# Adam's betas and epsilon) come back from the checkpoint's optimizer state, whatever the config says.
FROM_CHECKPOINT = ("learning_rate", "weight_decay", "adam_beta1", "adam_beta2", "adam_epsilon", "optim")
# Shaped by the starting point, which a resumed run reuses as it is.
FROM_START = ("model_name_or_path", "torch_dtype", "cold_start_steps", "cold_start_learning_rate",
              "cold_start_mix")


def checkpoint_step(path: Path) -> int:
    """N of a checkpoint-N directory, -1 for any other name."""
    tail = path.name.removeprefix("checkpoint-")
    return int(tail) if path.name.startswith("checkpoint-") and tail.isdigit() else -1


def checkpoint_problem(path: Path) -> str | None:
    """Why the checkpoint at `path` cannot be resumed from, or None when every file it needs reads back."""
    import torch
    from safetensors import safe_open

    if (path / "checkpoint-is-incomplete.txt").exists():  # transformers' JIT checkpoint sentinel
        return "its save did not finish"
    try:
        state = json.loads((path / "trainer_state.json").read_text())
        int(state["global_step"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        return f"trainer_state.json does not read ({type(e).__name__})"
    weights = sorted(path.glob("*.safetensors")) + sorted(path.glob("pytorch_model*.bin"))
    if not weights:
        return "it holds no model weights"
    for f in weights + [path / "optimizer.pt"]:
        try:
            if f.suffix == ".safetensors":
                with safe_open(str(f), "pt") as s:
                    s.keys()
            else:  # mmap reads only the zip directory: a truncated file fails without loading gigabytes
                torch.load(f, map_location="cpu", mmap=True, weights_only=True)
        except Exception as e:  # safetensors and torch raise their own types for a bad file
            return f"{f.name} does not read ({str(e).splitlines()[0][:80]})"
    return None


def model_complete(path: Path) -> bool:
    """Whether a saved model directory (base_model/, cold_start/) is whole: config, weights and tokenizer read."""
    from safetensors import safe_open

    try:
        json.loads((path / "config.json").read_text())
        json.loads((path / "tokenizer_config.json").read_text())
        if (path / "tokenizer.json").exists():  # absent for sentencepiece-only tokenizers
            json.loads((path / "tokenizer.json").read_text())
        weights = sorted(path.glob("*.safetensors"))
        for f in weights:
            with safe_open(str(f), "pt") as s:
                s.keys()
        return bool(weights)
    except Exception:  # a missing, empty or truncated file: the directory is not whole
        return False


@dataclass
class Plan:
    """What to do with `output_dir`: resume from `checkpoint`, start (over), or nothing (`finished`)."""

    output_dir: Path
    checkpoint: str | None = None
    finished_step: int | None = None
    broken: dict[Path, str] = field(default_factory=dict)  # checkpoints that do not load, and why
    resume_step: int = 0

    @property
    def finished(self) -> bool:
        return self.finished_step is not None


def check_rollout_logging(args) -> None:
    """ConfigError unless TRL's settings keep every step's rollouts on disk (zero.replay and the notebooks read
    only those files). `args` is TRL's GRPOConfig, which has no check of ours when it is built."""
    if not args.log_completions:
        raise ConfigError("log_completions=false would keep no rollouts on disk: zero needs it true")
    if args.logging_steps != 1:
        # TRL keeps one generation batch of completions and writes it at each log: logging less often than
        # every step would drop rollouts.
        raise ConfigError(f"logging_steps={args.logging_steps} would lose rollouts: set logging_steps=1")


def plan_output_dir(output_dir: Path, resume: str, max_steps: int) -> Plan:
    """Say what to do with zero.train's `output_dir` (`resume`: auto or never; a checkpoint at `max_steps` or
    beyond is a finished run). Reads only.

    Raises ConfigError when the directory holds something that must not be touched.
    """
    plan = Plan(output_dir)
    entries = [p for p in output_dir.iterdir() if p.name != "zero.lock"] if output_dir.is_dir() else []
    if not entries:
        return plan
    if not (output_dir / CONFIG_FILE).exists():
        raise ConfigError(
            f"output_dir {str(output_dir)!r} already holds files but no zero run (no {CONFIG_FILE}) and no "
            "checkpoint to resume from: pick a new output_dir (or delete that one)"
        )
    for path in sorted(output_dir.glob("checkpoint-*"), key=checkpoint_step, reverse=True):
        if checkpoint_step(path) < 0:
            continue
        problem = checkpoint_problem(path)
        if problem is None:
            plan.checkpoint, plan.resume_step = str(path), checkpoint_step(path)
            break
        plan.broken[path] = problem
    if resume == "never":
        raise ConfigError(
            f"output_dir {str(output_dir)!r} already holds a run: pick a new output_dir, or resume=auto to continue it"
        )
    if plan.checkpoint is not None and plan.resume_step >= max_steps:
        plan.finished_step = plan.resume_step
    return plan


def resume_point(output_dir: Path, resume: str, prog: str) -> str | None:
    """The checkpoint an existing `output_dir` resumes from, None for an empty or missing one; a ConfigError
    (nothing touched) for a directory that holds files but no checkpoint, or any run when `resume` is never.
    zero.sft's rule (zero.train's is `plan_output_dir`)."""
    if resume not in ("auto", "never"):
        raise ConfigError(f"resume={resume!r}: choose auto or never")
    if not output_dir.exists() or not any(output_dir.iterdir()):
        return None
    done = sorted((p for p in output_dir.glob("checkpoint-*") if checkpoint_step(p) >= 0), key=checkpoint_step)
    checkpoint = next((str(p) for p in reversed(done) if checkpoint_problem(p) is None), None)
    if checkpoint is None:
        raise ConfigError(
            f"output_dir {str(output_dir)!r} already holds files but no checkpoint to resume from: "
            "pick a new output_dir (or delete that one)"
        )
    if resume == "never":
        raise ConfigError(
            f"output_dir {str(output_dir)!r} already holds files of a run (last: {Path(checkpoint).name}): "
            "pick a new output_dir, or resume=auto to continue it"
        )
    print(f"{prog}: resuming {output_dir} from {Path(checkpoint).name}")
    return checkpoint


def prepare(plan: Plan, prog: str = "zero") -> None:
    """Make `output_dir` match the plan (call it holding the directory's lock): checkpoints that do not load deleted,
    rollouts after the resume step deleted, incomplete starting points removed so that they are built again."""
    out = plan.output_dir
    for path, problem in plan.broken.items():
        shutil.rmtree(path)  # nothing in it can be used, and on a full disk its space is needed
        print(f"{prog}: {path.name} does not load ({problem}): deleted")
    stale = [f for f in (out / "completions").glob("completions_*.parquet") if _file_step(f) > plan.resume_step]
    for f in stale:
        f.unlink()
    if plan.checkpoint is not None:
        print(f"{prog}: resuming {out} from {Path(plan.checkpoint).name}")
        return
    for name in STARTING_POINTS:
        if (out / name).exists() and not model_complete(out / name):
            shutil.rmtree(out / name)
    if (out / CONFIG_FILE).exists():
        kept = [n for n in STARTING_POINTS if (out / n).exists()]
        print(f"{prog}: no checkpoint to resume from in {out}: starting over"
              + (f", reusing {' and '.join(kept)}" if kept else "")
              + (f" ({len(stale)} stale rollout files cleared)" if stale else ""))


def _file_step(path: Path) -> int:
    tail = path.stem.removeprefix("completions_")
    return int(tail) if tail.isdigit() else 0


def finish(plan: Plan, prog: str = "zero") -> None:
    """A finished run: make sure the final model is in output_dir (a kill during the final save left only the
    last checkpoint), and say so."""
    out, ckpt = plan.output_dir, Path(plan.checkpoint)
    if not model_complete(out):
        skip = {"optimizer.pt", "scheduler.pt", "trainer_state.json", "rng_state.pth"}
        for f in ckpt.iterdir():
            if f.is_file() and f.name not in skip:
                shutil.copy2(f, out / f.name)
    print(f"{prog}: {out} already finished at step {plan.finished_step} ({ckpt.name}): nothing to train. "
          f"Raise max_steps to train further (python -m zero.replay {out} to look at it)")


def write_config(cfg: ZeroConfig, args, resuming: bool = False) -> Path:
    """Create output_dir and write the resolved config into it; return the directory.

    On resume, a changed config is reported key by key; the keys that cannot apply (restored from the
    checkpoint, or shaping the reused starting model) are named as such and keep their old value in the file.
    """
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / CONFIG_FILE
    values = resolved((cfg, args))
    if path.exists() and resuming:
        old = yaml.safe_load(path.read_text()) or {}
        changed = sorted(k for k in values if k in old and old[k] != values[k])
        applied = [k for k in changed if k not in FROM_CHECKPOINT + FROM_START]
        kept = [k for k in changed if k in FROM_CHECKPOINT]
        start = [k for k in changed if k in FROM_START]
        if applied:
            print("zero: resumed with changed keys:", ", ".join(f"{k}: {old[k]!r} -> {values[k]!r}" for k in applied))
        if kept:
            print("zero: warning: changed keys that do NOT apply on resume (the checkpoint's optimizer and "
                  "scheduler states win):", ", ".join(f"{k}: {old[k]!r} (new {values[k]!r} ignored)" for k in kept))
        if start:
            print("zero: warning: changed keys that do NOT apply on resume (the run's starting model is reused):",
                  ", ".join(f"{k}: {old[k]!r} (new {values[k]!r} ignored)" for k in start))
        values.update({k: old[k] for k in kept + start})  # the file says what the run trains with
    path.write_text(yaml.safe_dump(values, sort_keys=False))
    return output_dir
