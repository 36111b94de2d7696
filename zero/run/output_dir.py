"""The run directory of zero.train and zero.sft: what a run writes, and how an existing one is resumed, restarted,
finished or refused. One rule for both commands; each names its own config file (a directory of the other
command's is not mistaken for one of its runs).

    output_dir/
      zero_config.yaml           the resolved config (every key; feed it back to the command to rerun);
                                 zero_sft_config.yaml for zero.sft
      trainer_state.json         written last by the final save: the run is complete at its global_step
      zero.lock                  held by the process running in it (zero.run.lifecycle); holds its pid
      completions/completions_{step:05d}.parquet   every rollout of every step (TRL's log_completions)
      checkpoint-N/              trainer checkpoints (model, optimizer, RNG states)
      broken_checkpoints/        checkpoints whose weights diverged (inf/nan), moved aside
      wandb/                     the W&B run (offline when there is no key or network)
      base_model/, cold_start/   the tiny recipe's starting points

A stopped run restarts with the same command. It resumes from the newest checkpoint that loads (its state JSON
parses, its weights and optimizer files are whole); newer ones that do not load are deleted, each named. Rollout
files of steps after that checkpoint are deleted: those steps run again and write them anew, so every step's file
exists exactly once. A run of ours (its config file present) with no checkpoint that loads starts over in place:
its rollouts and partial checkpoints are cleared and a complete base model and cold start are reused. A run whose
checkpoint, or whose whole final save, reached max_steps (or, with max_steps unset, the number of steps its epochs
came to) is finished: the command says so and trains nothing.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from zero.config import ConfigError, resolved, write_resolved
from zero.telemetry.rollout_files import CONFIG_FILE, rollout_files

FINAL_STATE = "trainer_state.json"  # Trainer.save_state's file, in output_dir itself: see `save_final`
BROKEN_DIR = "broken_checkpoints"
STARTING_POINTS = ("base_model", "cold_start")
# Keys whose new value a resumed run cannot apply: the optimizer's param groups (learning rate, weight decay,
# Adam's betas and epsilon) come back from the checkpoint's optimizer state, whatever the config says.
FROM_CHECKPOINT = ("learning_rate", "weight_decay", "adam_beta1", "adam_beta2", "adam_epsilon", "optim")
# Shaped by the starting point, which a resumed run reuses as it is.
FROM_START = ("model_name_or_path", "cold_start_steps", "cold_start_learning_rate",
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
    config_file: str = CONFIG_FILE  # the command's own: a directory holding it is one of its runs
    checkpoints: bool = True  # the run saves checkpoints (save_strategy is not "no")

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


def plan_output_dir(output_dir: Path, resume: str, max_steps: int, config_file: str = CONFIG_FILE,
                    checkpoints: bool = True) -> Plan:
    """Say what to do with a zero.train or zero.sft `output_dir` (`resume`: auto or never; `config_file`: the
    command's own, zero.train's by default; `checkpoints`: whether the run saves any, i.e. save_strategy is not
    "no"). A checkpoint that loads at `max_steps` or beyond (with `max_steps` <= 0: at the steps its epochs came to)
    is a finished run. Without checkpoints, a whole final save there is one too. Reads only.

    Raises ConfigError when the directory holds something that must not be touched.
    """
    plan = Plan(output_dir, config_file=config_file, checkpoints=checkpoints)
    entries = [p for p in output_dir.iterdir() if p.name != "zero.lock"] if output_dir.is_dir() else []
    if not entries:
        return plan
    if not (output_dir / config_file).exists():
        raise ConfigError(
            f"output_dir {str(output_dir)!r} already holds files but no zero run (no {config_file}) and no "
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
    if plan.checkpoint is not None and (step := _reached(Path(plan.checkpoint), max_steps)) is not None:
        plan.finished_step = step
    elif not checkpoints and plan.checkpoint is None and not plan.broken \
            and (step := _reached(output_dir, max_steps)) is not None and model_complete(output_dir):
        plan.finished_step = step  # a final save is all a run with save_strategy=no leaves
    # A run that saves checkpoints has one at max_steps (transformers' DefaultFlowCallback saves at the last step), so
    # where that one is missing or broken the run resumes or starts over from what loads, whatever final save lies
    # beside them.
    return plan


def _reached(state_dir: Path, max_steps: int) -> int | None:
    """The global_step of `state_dir`'s trainer_state.json when it is the run's last (`max_steps`; when that is
    <= 0, the `max_steps` the trainer computed from the epochs, recorded in the state), else None."""
    try:
        state = json.loads((state_dir / FINAL_STATE).read_text())
        step, planned = int(state["global_step"]), int(state["max_steps"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return step if step >= (max_steps if max_steps > 0 else planned) else None


def prepare(plan: Plan, prog: str = "zero") -> None:
    """Make `output_dir` match the plan (call it holding the directory's lock): checkpoints that do not load deleted,
    rollouts after the resume step deleted, incomplete starting points removed so that they are built again."""
    out = plan.output_dir
    (out / FINAL_STATE).unlink(missing_ok=True)  # an earlier, shorter run's final save: not this run's end
    for path, problem in plan.broken.items():
        shutil.rmtree(path)  # nothing in it can be used, and on a full disk its space is needed
        print(f"{prog}: {path.name} does not load ({problem}): deleted")
    stale = [path for step, path in rollout_files(out) if step > plan.resume_step]
    for f in stale:
        f.unlink()
    if plan.checkpoint is not None:
        print(f"{prog}: resuming {out} from {Path(plan.checkpoint).name}")
        return
    for name in STARTING_POINTS:
        if (out / name).exists() and not model_complete(out / name):
            shutil.rmtree(out / name)
    if (out / plan.config_file).exists():
        kept = [n for n in STARTING_POINTS if (out / n).exists()]
        print(f"{prog}: no checkpoint to resume from in {out}: starting over"
              + (f", reusing {' and '.join(kept)}" if kept else "")
              + (f" ({len(stale)} stale rollout files cleared)" if stale else ""))


def finish(plan: Plan, prog: str = "zero", then: str = "python -m zero.replay {out} to look at it") -> None:
    """A finished run: make sure the final model is in output_dir (a kill during the final save left only the
    last checkpoint), and say so; `then` ({out}: the directory) says what to do with it."""
    out = plan.output_dir
    if plan.checkpoint is not None and not model_complete(out):
        skip = {"optimizer.pt", "scheduler.pt", "trainer_state.json", "rng_state.pth"}
        for f in Path(plan.checkpoint).iterdir():
            if f.is_file() and f.name not in skip:
                shutil.copy2(f, out / f.name)
    where = f" ({Path(plan.checkpoint).name})" if plan.checkpoint is not None else ""
    print(f"{prog}: {out} already finished at step {plan.finished_step}{where}: nothing to train. "
          f"Raise max_steps to train further ({then.format(out=out)})")


def save_final(trainer, tokenizer) -> None:
    """The final save, on every process (FSDP and DeepSpeed gather the shards): the model, then (main process) the
    tokenizer, then the trainer state, written last, so that a whole final save is what `plan_output_dir` reads
    as the run's end. Returns once every process is done, so no process loads a half-written model."""
    from zero import lora

    out = trainer.args.output_dir
    if lora.is_peft(trainer.model):  # the adapter in out/adapter/, the merged model in out (zero.lora)
        lora.save_adapter_and_merged(trainer)
    else:
        trainer.save_model(out)
    if trainer.args.should_save:
        tokenizer.save_pretrained(out)
    trainer.save_state()  # output_dir/trainer_state.json (the main process only)
    trainer.accelerator.wait_for_everyone()


def write_config(cfg, args, resuming: bool = False, config_file: str = CONFIG_FILE, prog: str = "zero") -> Path:
    """Create output_dir (`args.output_dir`) and write the resolved config of `cfg` (zero's group) and `args`
    (TRL's) into its `config_file`; return the directory.

    On resume, a changed config is reported key by key; the keys that cannot apply (restored from the
    checkpoint, or shaping the reused starting model) are named as such and keep their old value in the file.
    """
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / config_file
    kept_values = {}
    if path.exists() and resuming:
        values = resolved((cfg, args))
        old = yaml.safe_load(path.read_text()) or {}
        changed = sorted(k for k in values if k in old and old[k] != values[k])
        applied = [k for k in changed if k not in FROM_CHECKPOINT + FROM_START]
        kept = [k for k in changed if k in FROM_CHECKPOINT]
        start = [k for k in changed if k in FROM_START]
        if applied:
            print(f"{prog}: resumed with changed keys:",
                  ", ".join(f"{k}: {old[k]!r} -> {values[k]!r}" for k in applied))
        if kept:
            print(f"{prog}: warning: changed keys that do NOT apply on resume (the checkpoint's optimizer and "
                  "scheduler states win):", ", ".join(f"{k}: {old[k]!r} (new {values[k]!r} ignored)" for k in kept))
        if start:
            print(f"{prog}: warning: changed keys that do NOT apply on resume (the run's starting model is reused):",
                  ", ".join(f"{k}: {old[k]!r} (new {values[k]!r} ignored)" for k in start))
        kept_values = {k: old[k] for k in kept + start}  # the file says what the run trains with
    write_resolved(path, (cfg, args), kept=kept_values)
    return output_dir
