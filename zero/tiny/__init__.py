"""The tiny world, built in code so that `python -m zero.train configs/tiny.yaml` runs offline on a CPU on the same
code path as the GPU recipes (templates, `rewards/`, TRL's GRPOTrainer, vLLM when asked), in minutes.

- `zero.tiny.task`: the task (`builtin:arithmetic`), chains on a ten-hour clock;
- `zero.tiny.traces`: the cold start's three kinds of trace (direct, stepwise, reflective) and `trace_kind`;
- `zero.tiny.model`: the ~0.8M-parameter Qwen2 model (`builtin:tiny`) and its word-level tokenizer;
- `zero.tiny.cold_start`: DeepSeek-R1's cold-start SFT, scaled down (zero.train calls it for `builtin:tiny`);
- `zero.tiny.analysis`: `python -m zero.tiny RUN_DIR`, each planted kind's share and accuracy per window of steps.

The package itself holds the pure task and traces (no torch), so the config groups can check a mix against `MODES`.
"""

from zero.tiny.task import CHAIN_LENGTH, MODULUS, apply, arithmetic_problems, operations, partial_results
from zero.tiny.traces import (
    GUESS_RIGHT,
    MISREMEMBERED,
    MODES,
    check_mix,
    cold_start_trace,
    cold_start_traces,
    misremembered,
    trace_kind,
)

__all__ = ["CHAIN_LENGTH", "GUESS_RIGHT", "MISREMEMBERED", "MODES", "MODULUS", "apply", "arithmetic_problems",
           "check_mix", "cold_start_trace", "cold_start_traces", "misremembered", "operations", "partial_results",
           "trace_kind"]
