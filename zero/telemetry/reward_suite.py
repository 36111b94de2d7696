"""Reward functions for TRL, and everything the rollout files record about each completion.

TRL 1.16 already writes every rollout of a step to `output_dir/completions/completions_{step:05d}.parquet`
(`log_completions=True`): `step`, `prompt`, `completion`, one column per reward function, `advantage`. It also
passes each reward function `log_extra` (extra columns for that table) and `log_metric` (scalars). `RewardSuite`
rides on both: it wraps the configured `rewards/` functions, and after the last one has scored a batch it adds
the columns TRL does not know (`prompt_id`, `solution`, the weighted `reward`, `completion_tokens`, `truncated`,
`rollout_step` and the reasoning telemetry of `zero.telemetry.reasoning`) and logs `reasoning/...` metrics. One file per
step, one copy of each rollout.

The wrappers are named `reward_<name>`, so TRL's own columns are `reward_accuracy`, `reward_format` and its
metrics `rewards/reward_accuracy/mean`: one spelling in the files, in W&B and in the docs.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import rewards
from rewards.isolated import IsolatedReward
from rewards.loader import (TRL_KWARGS, Reward, RewardError, call_arguments, check_signature, checked_scores,
                            load_rewards)
from rewards.text import completion_text
from zero.config import ConfigError
from zero.run import launch
from zero.telemetry import reasoning


def weighted_total(scores: Sequence[Sequence[float | None]], weights: Sequence[float]) -> list[float]:
    """Per-completion sum of weight * score over reward functions, skipping None; NaN when all are None
    (TRL's rule: an unscorable completion carries no reward).

    >>> weighted_total([[1.0, 0.0, None], [1.0, 1.0, None]], [1.0, 0.5])
    [1.5, 0.5, nan]
    """
    out = []
    for column in zip(*scores):
        parts = [w * s for w, s in zip(weights, column) if s is not None and not math.isnan(s)]
        out.append(sum(parts) if parts else math.nan)
    return out


class RewardSuite:
    """The reward functions TRL calls, plus the rollout columns and reasoning metrics of each batch.

    `reward_funcs` is what `GRPOTrainer(reward_funcs=...)` takes; its order is TRL's `reward_weights` order. Each
    entry of `names` is a registered name, ``package.module:function`` or ``path/to/file.py:function``
    (`rewards.loader`), with its arguments in `reward_kwargs`. Every reward, built-in or not, gets its
    ``reward_<name>`` column and metric, its Nones counted (``rewards/<name>/none``), and its output checked (one
    score per completion, each a number or None: else a one-line `RewardError` naming it). A user's reward runs in
    a worker process with a hard deadline of `custom_timeout_s` seconds per batch (`rewards.isolated`): past it the
    batch scores None for that reward, counted in ``rewards/<name>/timeouts``; None runs it in the training process.
    `columns` are the dataset's: a reward may ask for any of them, and those beyond the problem are kept in the
    rollout files. `curriculum` (zero.curriculum) is told every step's groups.
    """

    def __init__(
        self,
        names: Sequence[str],
        weights: Sequence[float] | None,
        answer_region: str,
        eos_and_pad_ids: Sequence[int],
        lexicon: Sequence[str] | None = None,
        timeout_s: float | None = None,
        seed: int | None = None,
        reward_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
        custom_timeout_s: float | None = None,
        columns: Sequence[str] | None = None,
        curriculum: Any = None,
    ):
        if weights is not None and len(weights) != len(names):
            raise ConfigError(f"reward_weights has {len(weights)} values for {len(names)} reward_funcs: give one each")
        try:
            self.rewards = load_rewards(names, reward_kwargs)
            for r in self.rewards:
                check_signature(r.entry, r.func, columns)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        self.names = [r.name for r in self.rewards]
        self.task_columns = task_columns(columns or [])
        self.weights = list(weights) if weights is not None else [1.0] * len(self.names)
        self.answer_region = answer_region
        self.stop_ids = set(eos_and_pad_ids)
        self.lexicon = lexicon
        self.timeout_s = timeout_s
        self.seed = seed
        self.curriculum = curriculum
        self._scores: dict[str, list[float | None]] = {}
        self.reward_funcs = [self._wrap(i, r, custom_timeout_s, reward_kwargs) for i, r in enumerate(self.rewards)]

    def _wrap(self, index: int, reward: Reward, custom_timeout_s: float | None, reward_kwargs) -> Callable:
        last = index == len(self.rewards) - 1
        name, options = reward.name, self._options(reward.func)
        isolated = None
        if not reward.builtin and custom_timeout_s is not None:
            isolated = IsolatedReward(reward.entry, (reward_kwargs or {}).get(name), custom_timeout_s)

        def call(completions, **kwargs):
            texts = [completion_text(c) for c in completions]
            if isolated is not None:
                scores = isolated(completions=texts, **options, **kwargs)  # the worker picks what it takes
                if scores is None:  # past the deadline: the worker was killed, nothing scored this batch
                    scores = [None] * len(texts)
                    _log(kwargs, f"rewards/{name}/timeouts", 1.0)
            elif reward.builtin:
                scores = reward.func(**call_arguments(reward.func, completions=texts, **options, **kwargs))
            else:  # the user's code in this process: whatever it raises stops the run, with a line naming it
                try:
                    scores = reward.func(**call_arguments(reward.func, completions=texts, **options, **kwargs))
                except Exception as e:
                    raise RewardError(f"reward {reward.entry!r} raised {type(e).__name__}: {e}") from e
            scores = checked_scores(reward.entry, scores, len(texts))
            _log(kwargs, f"rewards/{name}/none", float(sum(s is None for s in scores)))
            self._scores[name] = scores
            if last:
                self._record(texts, kwargs)
            return scores

        call.__name__ = call.__qualname__ = f"reward_{name}"
        return call

    def _score(self, name: str, texts: list[str], kwargs: dict) -> list[float | None]:
        """A reward's scores for this batch: the one TRL just computed, or computed here for telemetry."""
        if name in self._scores:
            return self._scores[name]
        quiet = {k: v for k, v in kwargs.items() if k != "log_metric"}  # counted once, by the configured rewards
        func = rewards.get_reward(name)
        return list(func(**call_arguments(func, completions=texts, **self._options(func), **quiet)))

    def _options(self, func: Callable) -> dict[str, Any]:
        """The answer region, the grading deadline and the run's seed (the `random` control's coins), for every
        reward that names them: chosen by its signature, not by its name, so renaming or adding a reward cannot
        drop them. None leaves each reward's own default."""
        parameters = _parameter_names(func)
        options = {"answer_region": self.answer_region, "timeout_s": self.timeout_s, "seed": self.seed}
        return {k: v for k, v in options.items() if v is not None and k in parameters}

    def _record(self, texts: list[str], kwargs: dict[str, Any]) -> None:
        log_extra, log_metric = kwargs.get("log_extra"), kwargs.get("log_metric")
        ids = kwargs.get("completion_ids") or [[] for _ in texts]
        state = kwargs.get("trainer_state")
        accuracy = self._score("accuracy", texts, kwargs)
        format_ok = [s == 1.0 for s in self._score("format", texts, kwargs)]
        is_correct = [None if s is None else s == 1.0 for s in accuracy]
        columns: dict[str, list] = {
            "prompt_id": [str(p) for p in kwargs.get("prompt_id", [""] * len(texts))],
            "solution": [str(s) for s in kwargs.get("solution", [""] * len(texts))],
            "reward": weighted_total([self._scores[n] for n in self.names], self.weights),
            "completion_tokens": [len(i) for i in ids],
            "truncated": [not i or i[-1] not in self.stop_ids for i in ids],
            "rollout_step": [state.global_step + 1 if state is not None else 0] * len(texts),
        }
        for key in self.task_columns:  # the task's own columns (Countdown's nums, target), for replay
            if key in kwargs:
                columns[key] = list(kwargs[key])
        columns.update(
            reasoning.annotate(
                texts, is_correct, format_ok, columns["completion_tokens"], self.answer_region, lexicon=self.lexicon
            )
        )
        columns["is_correct"], columns["format_ok"] = is_correct, format_ok
        self._scores.clear()
        if log_extra is not None:
            for key, values in columns.items():
                log_extra(key, values)
        if log_metric is not None:
            # TRL averages each log_metric value over the processes: right for a mean, wrong for a max, a p90 or a
            # share of prompts. So every process computes the metrics from every process's completions.
            everyone = launch.gather_columns({key: columns[key] for key in reasoning.STEP_METRIC_INPUTS})
            for key, value in reasoning.step_metrics(everyone).items():
                log_metric(key, value)
            if self.curriculum is not None:  # every process sees every group, so all samplers skip alike
                self.curriculum.observe(columns["rollout_step"][0], everyone["prompt_id"], everyone["is_correct"])
                for key, value in self.curriculum.metrics().items():
                    log_metric(key, value)


def _log(kwargs: dict, key: str, value: float) -> None:
    if kwargs.get("log_metric") is not None:
        kwargs["log_metric"](key, value)


def _parameter_names(func: Callable) -> set[str]:
    try:
        return set(inspect.signature(func).parameters)
    except (TypeError, ValueError):
        return set()


# What the rollout files already hold (TRL's columns and zero's): a dataset column with one of these names would
# be ambiguous in the files and in replay.
ROLLOUT_COLUMNS = ("step", "prompt", "completion", "advantage", "images", "prompt_id", "solution", "reward",
                   "completion_tokens", "truncated", "rollout_step", "is_correct", "format_ok", "reflection_count",
                   "reflection_words", "reflection_in_think", "reflection_in_answer", "self_correction",
                   "self_correction_context")


def task_columns(columns: Sequence[str]) -> list[str]:
    """The dataset's columns beyond the problem, its gold and its id (a task's own: Countdown's `nums`, `target`),
    which reach every reward as keywords (TRL passes them) and are kept in the rollout files; a ConfigError for a
    column whose name TRL's reward arguments or the rollout files already use.

    >>> task_columns(["prompt", "solution", "prompt_id", "nums", "target"])
    ['nums', 'target']
    >>> task_columns(["prompt", "completion_ids"])
    Traceback (most recent call last):
    ...
    zero.errors.ConfigError: the dataset's column 'completion_ids' has the name of one of TRL's reward arguments or a rollout column: rename it
    """
    taken = set(TRL_KWARGS) | set(ROLLOUT_COLUMNS) - {"prompt", "prompt_id", "solution"}
    clash = [c for c in columns if c in taken or c.startswith("reward_")]
    if clash:
        raise ConfigError(f"the dataset's column {clash[0]!r} has the name of one of TRL's reward arguments or a "
                          "rollout column: rename it")
    return [c for c in columns if c not in ("prompt", "prompt_id", "solution")]
