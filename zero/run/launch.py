"""Several processes, one run: zero.train under `accelerate launch` or `torchrun` (DDP, FSDP, DeepSpeed).

Every process runs all of `zero.train`. TRL gathers each step's completions, rewards, `log_extra` columns and
`log_metric` scalars from every rank to the main process, which alone writes the rollout file; the Trainer writes
checkpoints and W&B from the main process. What zero adds on top is here: the checks that a multi-process launch
really is one distributed run (`check`), and the rank helpers that keep zero's own files single-writer
(`is_main`, `barrier`).

On a machine without CUDA, `accelerate launch --cpu --num_processes N` starts ONE process (accelerate 1.15 starts
several CPU processes only through mpirun); a torchrun launch without `use_cpu=true` starts N processes that each
train alone; and an FSDP or DeepSpeed accelerate config with `use_cpu=true` trains plain DDP (accelerate 1.15's
AcceleratorState applies FSDP and DeepSpeed only on accelerator backends, although torch itself shards on CPUs:
FSDP2 `fully_shard` over gloo works, tests/test_multiprocess.py). Each would silently train something else than
asked, so `check` refuses them. What works:

    accelerate launch --multi_gpu --num_processes 2 -m zero.train configs/tiny.yaml use_cpu=true   # DDP on gloo
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from zero.config import ConfigError

# Variables a launcher sets in each of N processes (torchrun: WORLD_SIZE; mpirun: the others).
_WORLD_SIZE_KEYS = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")
CPU_LAUNCH = "accelerate launch --multi_gpu --num_processes N -m zero.train CONFIG use_cpu=true"


def check(args: Any, env: Mapping[str, str] = os.environ) -> None:
    """ConfigError when the processes of this launch are not the distributed run they look like.

    `args` is the parsed GRPOConfig (its `world_size` is the distributed state transformers set up).

    >>> from types import SimpleNamespace as NS
    >>> check(NS(world_size=2, use_cpu=True), {"WORLD_SIZE": "2"})
    >>> check(NS(world_size=2, use_cpu=True), {"WORLD_SIZE": "2", "ACCELERATE_USE_FSDP": "true"})
    Traceback (most recent call last):
    ...
    zero.errors.ConfigError: accelerate 1.15 does not apply FSDP on CPUs (the run would be plain unsharded DDP): drop the --config_file to train DDP over gloo, or use GPUs
    >>> check(NS(world_size=1, use_cpu=False), {"WORLD_SIZE": "2", "RANK": "1"})
    Traceback (most recent call last):
    ...
    zero.errors.ConfigError: this is process 1 of 2, but the processes are not one distributed run (no CUDA here?): add use_cpu=true to train on CPUs over gloo
    """
    if env.get("ACCELERATE_USE_CPU", "").lower() == "true" and "MASTER_PORT" in env:
        if not any(k in env for k in _WORLD_SIZE_KEYS):
            raise ConfigError(
                "accelerate launch --cpu with --num_processes > 1 started one process (accelerate starts several "
                f"CPU processes only through mpirun): launch with {CPU_LAUNCH}"
            )
    for engine in ("FSDP", "DEEPSPEED"):
        if args.use_cpu and env.get(f"ACCELERATE_USE_{engine}", "").lower() == "true":
            # AcceleratorState turns on FSDP and DeepSpeed only for accelerator backends; on CPUs it stays MULTI_CPU
            raise ConfigError(
                f"accelerate 1.15 does not apply {'DeepSpeed' if engine == 'DEEPSPEED' else engine} on CPUs "
                "(the run would be plain unsharded DDP): drop the --config_file to train DDP over gloo, or use GPUs"
            )
    size = int(env.get("WORLD_SIZE", "1"))
    if size > 1 and args.world_size != size:
        raise ConfigError(
            f"this is process {env.get('RANK', '?')} of {size}, but the processes are not one distributed run "
            "(no CUDA here?): add use_cpu=true to train on CPUs over gloo"
        )


def _group_ready() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    """Processes in the run (1 when not distributed)."""
    import torch.distributed as dist

    return dist.get_world_size() if _group_ready() else 1


def rank() -> int:
    import torch.distributed as dist

    return dist.get_rank() if _group_ready() else 0


def is_main() -> bool:
    """True in the one process that writes zero's own files (config, W&B id, the tiny model, eval results)."""
    return rank() == 0


def barrier() -> None:
    """Wait until every process gets here (nothing to wait for in a single process)."""
    if world_size() > 1:
        import torch.distributed as dist

        dist.barrier()


def gather_columns(columns: dict[str, list]) -> dict[str, list]:
    """Each column concatenated over every process, in rank order (as they are, in a single process). Every
    process must call it, at the same point."""
    if world_size() == 1:
        return columns
    import torch.distributed as dist

    everyone: list[dict[str, list] | None] = [None] * world_size()
    dist.all_gather_object(everyone, columns)
    return {key: [v for part in everyone for v in (part or {})[key]] for key in columns}
