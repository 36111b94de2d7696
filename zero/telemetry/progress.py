"""A readable console for GRPO: one progress bar with the numbers that matter, one summary line every N steps.

zero logs every step (the rollout files need `logging_steps: 1`), and transformers' ProgressCallback prints each
step's whole metrics dict (~50 keys) under the bar. `CompactProgressCallback` keeps the bar and shows reward,
accuracy, format and length on it; the full metrics still go to W&B and `trainer_state.json`.
"""

from __future__ import annotations

from transformers.trainer_callback import ProgressCallback

# (label, metric key, format) shown on the bar and in the summary lines
SHOWN = (
    ("reward", "reward", "{:.3f}"),
    ("acc", "rewards/reward_accuracy/mean", "{:.3f}"),
    ("format", "rewards/reward_format/mean", "{:.3f}"),
    ("len", "reasoning/length/mean", "{:.1f}"),
    ("refl/1k", "reasoning/reflection/rate_per_1k_tokens", "{:.1f}"),
)


def compact(logs: dict) -> dict[str, str]:
    """The shown metrics present in `logs`, formatted.

    >>> compact({"reward": 0.51234, "rewards/reward_accuracy/mean": 0.5, "loss": 1.0})
    {'reward': '0.512', 'acc': '0.500'}
    """
    out = {}
    for label, key, fmt in SHOWN:
        value = logs.get(key)
        if isinstance(value, (int, float)):
            out[label] = fmt.format(value)
    return out


class CompactProgressCallback(ProgressCallback):
    """ProgressCallback that puts the key metrics on the bar and writes one line every `every` steps."""

    def __init__(self, every: int = 10):
        super().__init__()
        self.every = every

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or self.training_bar is None or not logs:
            return
        shown = compact(logs)
        if not shown:  # the end-of-training summary (train_runtime, ...): print it as transformers does
            self.training_bar.write(str(logs))
            return
        self.training_bar.set_postfix(shown, refresh=False)
        if state.global_step % self.every == 0 or state.global_step == state.max_steps:
            self.training_bar.write(f"step {state.global_step}: " + "  ".join(f"{k} {v}" for k, v in shown.items()))
