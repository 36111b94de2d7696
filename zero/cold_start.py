"""The tiny recipe's cold start: DeepSeek-R1's SFT before RL, scaled down (the traces are `zero.tiny.cold_start_traces`).

It needs both `zero.tiny` (the tiny world: task, traces, model, tokenizer) and `zero.sft` (SFTTrainer on rows), and
`zero.sft` itself needs `zero.tiny` for `builtin:tiny` students, so in either of those two modules it would close an
import cycle (tests/test_package.py checks there is none). `zero.train` calls `prepare_policy` for `builtin:tiny`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from zero import launch, tiny
from zero.config import ConfigError
from zero.sft import run_sft

COLD_START_BATCH = 32  # traces per cold-start SFT step, over all processes


def prepare_policy(
    output_dir: Path,
    problems: list[dict[str, str]],
    render_prompt: Callable[[str], str],
    *,
    max_operand: int,
    cold_start_steps: int,
    cold_start_learning_rate: float,
    cold_start_correct_share: float,
    seed: int,
    resuming: bool,
) -> str:
    """The path the trainer (and vLLM) load the tiny starting policy from.

    The tiny model is built into `output_dir/base_model`; with `cold_start_steps`, its cold start (SFT on
    `cold_start_traces` of `problems`, prompts rendered by `render_prompt`) is trained into `output_dir/cold_start`
    first. A resumed run reuses both as they are.
    """
    base = output_dir / "base_model"
    if launch.is_main() and not (base / "config.json").exists():
        tiny.build_tiny_model(base, seed=seed)
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
    rows = [
        {"prompt": render_prompt(r["problem"]), "completion": r["completion"]}
        for r in tiny.cold_start_traces(problems, max_operand, cold_start_correct_share, seed)
    ]
    if launch.is_main():
        print(
            f"zero: cold start: {cold_start_steps} SFT steps on {len(rows)} traces, "
            f"{cold_start_correct_share:.0%} of them with the right answer"
        )
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
    )
    return str(cold)


def _has_accelerator() -> bool:
    import torch

    return torch.cuda.is_available()
