"""The trainer callbacks of `zero.run.lifecycle`: a clean stop at the end of a step, and divergence caught.

Separate from zero.run.lifecycle because they import transformers, which zero.train imports only after its
environment check.
"""

from __future__ import annotations

import math
import sys
from collections import deque
from pathlib import Path

from transformers import TrainerCallback

from zero.run.lifecycle import Diverged, Stops, last_checkpoint


def install(trainer, output_dir: str | Path, stops: Stops) -> None:
    """Add a run's two guards to `trainer` (GRPOTrainer or SFTTrainer), each where transformers' callback order needs
    it (tests/test_trl_contract.py asserts that order). The trainer calls its callbacks in list order:
    DefaultFlowCallback, one reporter per `report_to`, then ProgressCallback.
    - `DivergenceGuard` goes first: its `on_log` raises on a non-finite loss or grad norm before any reporter logs
      that step and before the trainer saves its checkpoint (the trainer calls `on_log` first), and the
      `train/collapse` it adds to the `logs` dict reaches the reporters because they run after it.
    - `StopCallback` is appended: its `on_step_end` sets `should_save` and `should_training_stop`, which the trainer
      reads after every callback's `on_step_end`, and `should_log` where DefaultFlowCallback decided to save or stop,
      so it must come after DefaultFlowCallback. Its `on_train_begin` installs zero's signal handlers again, over
      the SIGTERM handler that transformers' JIT checkpointing (`enable_jit_checkpoint`) installs when the Trainer
      is built.
    """
    trainer.callback_handler.callbacks.insert(0, DivergenceGuard(output_dir))
    trainer.add_callback(StopCallback(stops))


class StopCallback(TrainerCallback):
    """Ends training at the end of the step in which a stop signal arrived, saving a checkpoint there; and logs
    at every step that saves or ends training (the final save follows), so that `DivergenceGuard` reads the loss
    of the weights about to be saved (zero.sft logs every `logging_steps`, and a save may fall between two logs).
    It comes after transformers' DefaultFlowCallback, which decides the step's save first; the trainer logs before
    it saves (`Trainer._maybe_log_save_evaluate`, transformers 5)."""

    def __init__(self, stops: Stops):
        self.stops = stops

    def on_train_begin(self, args, state, control, **kwargs):
        # Installed again: transformers' JIT checkpointing (enable_jit_checkpoint) takes SIGTERM when the Trainer
        # is built, before this runs.
        self.stops.install()
        self.stops.defer()

    def on_step_end(self, args, state, control, **kwargs):
        if _on_any_rank(self.stops.signum is not None):  # every process stops at the same step
            control.should_save = True  # saved by the trainer right after this step's log (rollout file included)
            control.should_training_stop = True
        self._log_before_saving(control)

    def on_epoch_end(self, args, state, control, **kwargs):
        self._log_before_saving(control)  # save_strategy=epoch

    @staticmethod
    def _log_before_saving(control) -> None:
        if control.should_save or control.should_training_stop:
            control.should_log = True  # the trainer skips it if this step was logged already


def _on_any_rank(flag: bool) -> bool:
    """`flag` or-ed over the processes of a distributed run (one tiny all-reduce per step; `flag` alone otherwise).
    A signal reaches each process at its own moment: without this, one would stop and the others hang."""
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return flag
    device = f"cuda:{torch.cuda.current_device()}" if dist.get_backend() == "nccl" else "cpu"
    value = torch.tensor([float(flag)], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def _finite(value) -> bool:
    return not isinstance(value, (int, float)) or math.isfinite(value)


class DivergenceGuard(TrainerCallback):
    """Stops a run whose loss or gradient norm is not finite, and warns when the policy collapses.

    The check runs in `on_log`, which the trainer calls before it saves that step's checkpoint: raising there
    means the diverged weights are never saved. Collapse: entropy (TRL's mean per-token policy entropy, nats)
    below `entropy_floor` while the mean reward of the last `window` steps is below that of the `window` before;
    a diverging policy does this (measured with learning_rate=1e3: entropy 5.5 -> 0 within a few steps).
    """

    KEYS = ("loss", "grad_norm")

    def __init__(self, output_dir: str | Path, entropy_floor: float = 0.05, window: int = 5):
        self.output_dir = Path(output_dir)
        self.entropy_floor = entropy_floor
        self.rewards: deque[float] = deque(maxlen=2 * window)
        self.window = window
        self.warned = False

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        for key in self.KEYS:
            if key in logs and not _finite(logs[key]):
                raise Diverged(
                    f"training diverged at step {state.global_step}: {key} is {logs[key]}; this step was not "
                    f"saved. Last checkpoint: {last_checkpoint(self.output_dir)}. Lower learning_rate and rerun in a new "
                    "output_dir, or resume from that checkpoint"
                )
        if "entropy" in logs and "reward" in logs:
            self.rewards.append(float(logs["reward"]))
            collapsed = self.collapsed(float(logs["entropy"]))
            logs["train/collapse"] = float(collapsed)  # seen by W&B: this callback runs before the reporters
            if collapsed and not self.warned:
                self.warned = True
                print(
                    f"zero: warning: policy collapse at step {state.global_step}: entropy {logs['entropy']:.3g} "
                    f"with the reward falling over the last {self.window} steps (learning_rate too high?)",
                    file=sys.stderr,
                )

    def collapsed(self, entropy: float) -> bool:
        """
        >>> g = DivergenceGuard(".", window=2)
        >>> g.rewards.extend([0.5, 0.4, 0.2, 0.1]); g.collapsed(0.01), g.collapsed(1.0)
        (True, False)
        """
        if entropy >= self.entropy_floor or len(self.rewards) < 2 * self.window:
            return False
        values = list(self.rewards)
        before, recent = values[: self.window], values[self.window :]
        return sum(recent) < sum(before)
