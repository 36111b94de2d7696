"""The run directory: what a run writes, and whether an existing one is resumed or refused.

    output_dir/
      zero_config.yaml           the resolved config (every key; feed it back to zero.train to rerun)
      completions/completions_{step:05d}.parquet   every rollout of every step (TRL's log_completions)
      checkpoint-N/              trainer checkpoints (model, optimizer, RNG states)
      wandb/                     the W&B run (offline when there is no key or network)
      base_model/, cold_start/   the tiny recipe's starting points

A run that stopped resumes from its last checkpoint: the steps after it run again and rewrite their rollout
files under the same names, so no step's file is lost or duplicated.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from zero.config import ConfigError, ZeroConfig, write_resolved

CONFIG_FILE = "zero_config.yaml"


def last_checkpoint(output_dir: Path) -> str | None:
    """The checkpoint-N directory with the largest N that holds a complete trainer state, or None."""
    done = [p for p in output_dir.glob("checkpoint-*") if (p / "trainer_state.json").exists()]
    done = [p for p in done if p.name.split("-")[-1].isdigit()]
    return str(max(done, key=lambda p: int(p.name.split("-")[-1]))) if done else None


def plan_output_dir(cfg: ZeroConfig, args) -> str | None:
    """Check the run's own settings and `output_dir`; return the checkpoint to resume from, or None for a new run.

    Raises ConfigError (and writes nothing) when the directory holds something that must not be overwritten.
    """
    if not args.log_completions:
        raise ConfigError("log_completions=false would keep no rollouts on disk: zero needs it true")
    if args.logging_steps != 1:
        # TRL keeps one generation batch of completions and writes it at each log: logging less often than
        # every step would drop rollouts.
        raise ConfigError(f"logging_steps={args.logging_steps} would lose rollouts: set logging_steps=1")
    return resume_point(Path(args.output_dir), cfg.resume, "zero")


def resume_point(output_dir: Path, resume: str, prog: str) -> str | None:
    """The checkpoint an existing `output_dir` resumes from, None for an empty or missing one; a ConfigError
    (nothing touched) for a directory that holds files but no checkpoint, or any run when `resume` is never.
    Shared by zero.train and zero.sft."""
    if resume not in ("auto", "never"):
        raise ConfigError(f"resume={resume!r}: choose auto or never")
    if not output_dir.exists() or not any(output_dir.iterdir()):
        return None
    checkpoint = last_checkpoint(output_dir)
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


def write_config(cfg: ZeroConfig, args) -> Path:
    """Create output_dir and write the resolved config into it; return the directory.

    On resume, a changed config is reported key by key (the new values apply) and the file is rewritten.
    """
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / CONFIG_FILE
    old = (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}
    values = write_resolved(path, (cfg, args))
    changed = sorted(k for k in values if k in old and old[k] != values[k])
    if changed:
        print("zero: resumed with changed keys:", ", ".join(f"{k}: {old[k]!r} -> {values[k]!r}" for k in changed))
    return output_dir
