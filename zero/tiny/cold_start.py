"""The tiny recipe's cold start: DeepSeek-R1's SFT before RL, scaled down (the traces are `zero.tiny.cold_start_traces`).

It builds on the tiny world (task, traces, model) and on `zero.sft` (SFTTrainer on rows); `zero.train` calls
`prepare_policy` for `builtin:tiny`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from zero import tiny
from zero.tiny.model import build_tiny_model
from zero.run import launch
from zero.config import ConfigError
from zero.sft import run_sft

COLD_START_BATCH = 32  # traces per cold-start SFT step, over all processes
COLD_START_SEED = 1_000_003  # added to the run's seed: the cold start's problems are not RL's


def prepare_policy(
    output_dir: Path,
    render_prompt: Callable[[str], str],
    *,
    max_operand: int,
    cold_start_steps: int,
    cold_start_learning_rate: float,
    cold_start_mix: list[float],
    seed: int,
    resuming: bool,
) -> str:
    """The path the trainer (and vLLM) load the tiny starting policy from.

    The tiny model is built into `output_dir/base_model`; with `cold_start_steps`, its cold start is trained into
    `output_dir/cold_start` first: SFT on `cold_start_traces` (kinds mixed by `cold_start_mix`) of
    `cold_start_steps` x 32 problems drawn afresh (seeded apart from RL's set, so every step sees new chains),
    prompts rendered by `render_prompt`. A resumed run reuses both as they are.
    """
    base = output_dir / "base_model"
    if launch.is_main() and not (base / "config.json").exists():
        build_tiny_model(base, seed=seed)
    launch.barrier()  # the other processes load what the main one built
    if cold_start_steps <= 0:
        return str(base)
    cold = output_dir / "cold_start"
    done = (cold / "config.json").exists()
    launch.barrier()  # every process has looked before the cold start below writes it
    if done:
        return str(cold)
    if resuming:
        raise ConfigError(f"{cold} is missing from a run that has checkpoints: restore it or start a new output_dir")
    problems = tiny.arithmetic_problems(cold_start_steps * COLD_START_BATCH, max_operand, seed=COLD_START_SEED + seed)
    traces = tiny.cold_start_traces(problems, cold_start_mix, seed)
    rows = [{"prompt": render_prompt(r["problem"]), "completion": r["completion"]} for r in traces]
    if launch.is_main():
        kinds = ", ".join(f"{m} {sum(r['mode'] == m for r in traces) / len(traces):.0%}" for m in tiny.MODES)
        print(f"zero: cold start: {cold_start_steps} SFT steps on {len(rows)} fresh traces ({kinds})")
    # Under a multi-process launch every process takes part (the SFT is data-parallel too), each with its share of
    # the same 32-trace batch.
    run_sft(
        base,
        rows,
        cold,
        max_steps=cold_start_steps,
        learning_rate=cold_start_learning_rate,
        per_device_train_batch_size=max(1, COLD_START_BATCH // launch.world_size()),
        lr_scheduler_type="linear",
        seed=seed,
        use_cpu=not _has_accelerator(),
        bf16=False,
        gradient_checkpointing=False,  # SFTConfig's default is on: about 2x slower here, and memory is no issue
    )
    return str(cold)


def _has_accelerator() -> bool:
    import torch

    return torch.cuda.is_available()
