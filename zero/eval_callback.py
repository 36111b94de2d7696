"""Benchmark the policy every N training steps, logged as `eval/<benchmark>/<metric>` (e.g. eval/gsm8k/pass@1).

It runs `zero.eval.evaluate` on the live policy with the HF backend (the training vLLM engine is TRL's, with its own
weight-sync schedule; a separate engine would hold a second copy of the model), writes each evaluation's files to
`<output_dir>/eval/step_<N>/` (the same samples/results files as `python -m zero.eval`, readable afterwards), appends
the metrics to the trainer's `log_history`, and logs them to the active W&B run against `train/global_step`.

With several processes every one of them generates its share of the samples (`zero.sampling.ShardedGenerator`),
and the main process grades them and writes the files. Under ZeRO-3 or FSDP the weights are sharded and each forward
pass needs every process, so an evaluation on the main process alone would hang the run.

W&B is written directly rather than through `Trainer.log`: GRPOTrainer.log averages and clears its own metric
buffers on every call, so logging an evaluation through it would cut the training metrics' logging window short.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from zero.run import launch
from zero.eval import EvalConfig, evaluate
from zero.sampling import HFGenerator, ShardedGenerator


def flat_metrics(results: dict) -> dict[str, float]:
    """results.json's per-benchmark figures as `eval/<benchmark>/<metric>` scalars.

    >>> flat_metrics({"benchmarks": {"gsm8k": {"pass@1": 0.5, "n": 4}}})
    {'eval/gsm8k/pass@1': 0.5, 'eval/gsm8k/n': 4.0}
    """
    return {f"eval/{name}/{key}": float(value) for name, m in results["benchmarks"].items() for key, value in m.items()}


class EvalCallback(TrainerCallback):
    """Evaluate on `cfg.benchmarks` (with `cfg.limit`, `cfg.n`, ...) every `every` steps and at the last step.

    `cfg.model_name_or_path` is ignored: the policy being trained is what generates.
    """

    def __init__(self, cfg: EvalConfig, every: int, output_dir: str | Path):
        if every < 1:
            raise ValueError(f"eval every must be >= 1 step, got {every}")
        self.cfg, self.every, self.output_dir = cfg, every, Path(output_dir) / "eval"
        self.last: dict[str, float] = {}

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, processing_class: Any = None,
                    **kwargs: Any) -> None:
        step = state.global_step
        if step % self.every and step != state.max_steps:
            return
        if model is None or processing_class is None:
            raise ValueError("EvalCallback needs the trainer's model and processing_class")
        cfg = dataclasses.replace(
            self.cfg,
            model_name_or_path=f"policy at step {step}",  # a label: the live policy generates, not a checkpoint
            output_dir=str(self.output_dir / f"step_{step:06d}"),
            backend="hf",
        )
        parallel = launch.world_size() > 1
        generator = HFGenerator(model, processing_class, cfg.batch_size, synced=parallel)
        if parallel:  # every process generates its share (see the module docstring)
            generator = ShardedGenerator(generator)
            if not launch.is_main():
                generator.serve()
                return
        try:
            results = evaluate(cfg, generator=generator, tokenizer=processing_class)
        finally:
            if isinstance(generator, ShardedGenerator):
                generator.finish()
        self.last = flat_metrics(results)
        state.log_history.append({**self.last, "step": step})
        _log_wandb(self.last, step)
        print(f"zero: step {step}: " + ", ".join(f"{k} {v:.3f}" for k, v in self.last.items() if "pass@1" in k))


def _log_wandb(metrics: dict[str, float], step: int) -> None:
    import sys

    if "wandb" not in sys.modules:  # never import wandb just to find no run
        return
    import wandb

    if wandb.run is not None:
        wandb.log({**metrics, "train/global_step": step})
