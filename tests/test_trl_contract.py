"""What zero relies on in TRL 1.16 (and the transformers Trainer under it), asserted on the installed packages.

zero configures GRPOTrainer and never forks it, but seven of its behaviours are load-bearing. A TRL or transformers
upgrade that moves one of them fails here, by name, instead of training something else. The tests drive TRL's own
objects (a real GRPOTrainer on a 1-layer model, built but never trained), not zero's code; where the behaviour is an
order of calls inside the training loop, they read that order from the installed source:

1. Callback order (zero/train.py `add_callbacks`; zero/sft.py puts DivergenceGuard first too): the Trainer calls
   `callback_handler.callbacks` in list order, DefaultFlowCallback and the `report_to` reporters first, the
   callbacks it was given next, the progress bar last; an instance inserted at 0 runs before all of them, and
   `remove_callback(ProgressCallback)` removes the bar.
2. Editing the `logs` dict (zero/run/guards.py `DivergenceGuard`): every `on_log` gets the same dict, so a key a
   callback adds (`train/collapse`) reaches the reporters after it, and an exception raised there ends the log
   before they run.
3. `on_log` before the parquet write (zero/telemetry/tables.py): `GRPOTrainer.log` calls the `on_log` callbacks
   before it writes `completions/completions_{step:05d}.parquet`, with the `log_extra` columns in it; and the
   Trainer logs a step before it saves that step's checkpoint (zero/run/guards.py: a diverged step is never saved).
4. Bypassing `Trainer.log` (zero/eval_callback.py, zero/telemetry/tables.py): `GRPOTrainer.log` averages and clears
   its metric buffers on every call, so zero logs evaluations and tables to W&B itself, against
   `train/global_step`, which transformers' WandbCallback declares as the step of every metric.
5. Re-installed signal handlers (zero/run/guards.py `StopCallback`, zero/run/lifecycle.py `Stops`): with
   `enable_jit_checkpoint`, the Trainer takes SIGTERM when it is built, so zero installs its handlers again in
   `on_train_begin`, which `train()` fires before the first step.
6. Matching error strings (zero/run/lifecycle.py): torch's "probability tensor contains" (sampling from a diverged
   policy) and "unexpected pos" / "file write failed" (torch.save on a full disk).
7. An `all_gather` inside a reward call (zero/telemetry/reward_suite.py via zero/run/launch.py `gather_columns`):
   TRL calls the reward functions on every process, one after the other in `reward_funcs` order, once per batch,
   with the dataset columns, `completion_ids`, `trainer_state`, `log_extra` and `log_metric`; and it averages a
   `log_metric` value over the processes.

Run: `OMP_NUM_THREADS=1 PYTHONPATH=$PWD python -m pytest tests/test_trl_contract.py -q` (seconds, no training).
"""

from __future__ import annotations

import inspect
import math
import signal
from pathlib import Path

import pytest

trl = pytest.importorskip("trl")

from transformers import Qwen2Config, Trainer, TrainerCallback  # noqa: E402
from transformers.integrations import WandbCallback  # noqa: E402
from transformers.trainer_callback import DefaultFlowCallback, ProgressCallback  # noqa: E402
from trl import GRPOConfig, GRPOTrainer  # noqa: E402


def test_the_installed_trl_is_the_one_this_contract_was_read_from():
    assert trl.__version__.startswith("1.16."), f"TRL {trl.__version__}: read the list above against its source"


class Recorder(TrainerCallback):
    """Records the `on_log` calls it sees (name, the dict's identity, its keys, whether the step's file exists)."""

    def __init__(self, name: str, calls: list, add: dict | None = None, raises: bool = False):
        self.name, self.calls, self.add, self.raises = name, calls, add or {}, raises

    def on_log(self, args, state, control, logs=None, **kwargs):
        parquet = Path(args.output_dir) / "completions" / f"completions_{state.global_step:05d}.parquet"
        self.calls.append((self.name, id(logs), set(logs), parquet.exists()))
        logs.update(self.add)
        if self.raises:
            raise FloatingPointError(self.name)


class RewardLog:
    """A reward function that records how TRL called it."""

    def __init__(self, name: str, calls: list):
        self.__name__, self.calls = name, calls

    def __call__(self, completions, **kwargs):
        self.calls.append((self.__name__, sorted(kwargs)))
        kwargs["log_extra"](f"{self.__name__}_len", [len(c) for c in completions])
        kwargs["log_metric"](f"{self.__name__}/metric", 2.0)
        return [1.0] * len(completions)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A GRPOTrainer as zero builds one (W&B reporter, log_completions, JIT checkpointing), on a 1-layer model;
    with the SIGTERM handler before and after it was built (restored afterwards)."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM

    from zero.tiny.model import load_tokenizer

    tokenizer = load_tokenizer()
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, pad_token_id=tokenizer.pad_token_id)  # fmt: skip
    model = AutoModelForCausalLM.from_config(config)
    args = GRPOConfig(
        output_dir=str(tmp_path_factory.mktemp("contract")),
        report_to=["wandb"],  # conftest: WANDB_MODE=offline, and nothing here starts a run
        per_device_train_batch_size=2,
        num_generations=2,
        max_completion_length=4,
        max_steps=1,
        logging_steps=1,
        log_completions=True,
        use_cpu=True,
        enable_jit_checkpoint=True,
    )
    dataset = Dataset.from_dict({"prompt": ["1+1=", "2+2="], "solution": ["2", "4"]})
    rewards: list = []
    funcs = [RewardLog("first", rewards), RewardLog("second", rewards)]
    before = signal.getsignal(signal.SIGTERM)
    try:
        trainer = GRPOTrainer(model=model, args=args, reward_funcs=funcs, train_dataset=dataset,
                              processing_class=tokenizer, callbacks=[Recorder("given", [])])  # fmt: skip
        after = signal.getsignal(signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, before)
    return trainer, rewards, before, after


def _log(trainer, logs: dict, callbacks: list) -> None:
    """`trainer.log(logs)` with `callbacks` ahead of the trainer's own, a step's rollouts staged as TRL stages them."""
    handler = trainer.callback_handler
    saved = list(handler.callbacks)
    handler.callbacks[:0] = callbacks
    trainer.state.global_step += 1
    trainer._logs["prompt"].extend(["p"])
    trainer._logs["completion"].extend(["c"])
    trainer._logs["rewards"]["first"].extend([1.0])
    trainer._logs["advantages"].extend([0.0])
    trainer._logs["extra"]["first_len"].extend([1])
    try:
        trainer.log(logs)
    finally:
        handler.callbacks[:] = saved


def test_callbacks_run_in_list_order_trl_s_first_the_given_ones_next_the_bar_last(built):
    trainer = built[0]
    kinds = [type(c) for c in trainer.callback_handler.callbacks]
    flow, wandb, given, bar = (kinds.index(k) for k in (DefaultFlowCallback, WandbCallback, Recorder, ProgressCallback))
    assert flow < wandb < given < bar == len(kinds) - 1, kinds
    trainer.remove_callback(ProgressCallback)
    try:
        assert ProgressCallback not in [type(c) for c in trainer.callback_handler.callbacks]
    finally:
        trainer.add_callback(ProgressCallback)
    # GRPOTrainer hands `callbacks` to Trainer.__init__, which builds the list above
    assert "callbacks=callbacks" in inspect.getsource(GRPOTrainer.__init__)


def test_every_on_log_gets_the_same_dict_in_order_and_a_raise_stops_the_rest(built):
    trainer, calls = built[0], []
    _log(trainer, {"loss": 1.0}, [Recorder("first", calls, add={"train/collapse": 0.0}), Recorder("second", calls)])
    (first, first_id, _, _), (second, second_id, second_keys, _) = calls[:2]
    assert (first, second) == ("first", "second") and first_id == second_id
    assert "train/collapse" in second_keys  # what the first added, the later ones (the reporters) log
    calls.clear()
    with pytest.raises(FloatingPointError):
        _log(trainer, {"loss": math.nan}, [Recorder("guard", calls, raises=True), Recorder("reporter", calls)])
    assert [c[0] for c in calls] == ["guard"]


def test_on_log_runs_before_the_step_s_rollout_file_is_written(built):
    import pandas as pd

    trainer, calls = built[0], []
    _log(trainer, {"loss": 1.0}, [Recorder("tables", calls)])
    written = Path(trainer.args.output_dir) / "completions" / f"completions_{trainer.state.global_step:05d}.parquet"
    assert calls[0][3] is False and written.exists()
    assert {"step", "prompt", "completion", "first", "first_len", "advantage"} <= set(pd.read_parquet(written))


def test_the_trainer_logs_a_step_before_it_saves_its_checkpoint():
    source = inspect.getsource(Trainer._maybe_log_save_evaluate)
    assert 0 <= source.index("self.log(") < source.index("self._save_checkpoint(")


def test_grpo_log_clears_its_metric_buffers_so_zero_logs_evaluations_to_wandb_itself(built):
    trainer = built[0]
    trainer._metrics["train"]["reward"].extend([1.0, 0.0])
    logged: list = []
    _log(trainer, {}, [Recorder("seen", logged)])
    assert "reward" in logged[0][2] and not trainer._metrics["train"]  # averaged once, then cleared
    setup = inspect.getsource(WandbCallback.setup)
    assert 'define_metric("train/global_step")' in setup and 'step_metric="train/global_step"' in setup


def test_jit_checkpointing_takes_sigterm_when_the_trainer_is_built_and_train_begins_later(built):
    _, _, before, after = built
    assert after is not before and getattr(after, "__name__", "") == "_sigterm_handler", after
    loop = inspect.getsource(Trainer._inner_training_loop)  # on_train_begin, then the epochs and their steps
    assert 0 <= loop.index(".on_train_begin(") < loop.index("self._run_epoch(")
    assert ".on_step_begin(" in inspect.getsource(Trainer._run_epoch)


def test_torch_s_error_strings_that_zero_matches():
    import torch

    with pytest.raises(RuntimeError, match="probability tensor contains"):
        torch.multinomial(torch.tensor([math.nan, 1.0]), 1)
    if Path("/dev/full").exists():  # a full disk, as torch.save meets it
        with pytest.raises(RuntimeError, match="unexpected pos"):
            torch.save(torch.zeros(10_000), "/dev/full")
    library = Path(torch.__file__).parent / "lib" / "libtorch_cpu.so"
    if library.exists():  # miniz's message when a write fails mid-file (PytorchStreamWriter)
        import mmap

        with library.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            assert data.find(b"file write failed") >= 0


def test_reward_functions_run_in_order_once_per_batch_with_the_keywords_zero_reads(built):
    trainer, calls = built[0], built[1]
    calls.clear()
    inputs = [{"prompt": "1+1=", "solution": "2"}, {"prompt": "1+1=", "solution": "2"}]
    scores = trainer._calculate_rewards(inputs, ["1+1="] * 2, ["2", "3"], [[5], [6]])
    assert scores.shape == (2, 2)  # [completions, reward functions], gathered over the processes
    expected = ["completion_ids", "log_extra", "log_metric", "prompts", "solution", "trainer_state"]
    assert calls == [("first", expected), ("second", expected)]
    assert trainer._pending_metrics["first/metric"] == [2.0]
    # every process calls _calculate_rewards (not only the main one): the call is at the top of the method's body
    source = inspect.getsource(GRPOTrainer._generate_and_score_completions)
    assert "\n        rewards_per_func = self._calculate_rewards(" in source
    # a log_metric value becomes the mean over processes of the values they logged
    assert "self._metrics[mode][name].append(total / count)" in source
    trainer._pending_metrics.clear()
    trainer._pending_extra_logs.clear()
