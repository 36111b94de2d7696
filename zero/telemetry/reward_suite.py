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
from collections.abc import Callable, Sequence
from typing import Any

import rewards
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

    `reward_funcs` is what `GRPOTrainer(reward_funcs=...)` takes; its order is TRL's `reward_weights` order.
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
    ):
        if weights is not None and len(weights) != len(names):
            raise ConfigError(f"reward_weights has {len(weights)} values for {len(names)} reward_funcs: give one each")
        self.names = list(names)
        try:
            self.funcs = rewards.get_rewards(self.names)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        self.weights = list(weights) if weights is not None else [1.0] * len(self.names)
        self.answer_region = answer_region
        self.stop_ids = set(eos_and_pad_ids)
        self.lexicon = lexicon
        self.timeout_s = timeout_s
        self.seed = seed
        self._scores: dict[str, list[float | None]] = {}
        self.reward_funcs = [self._wrap(i, n, f) for i, (n, f) in enumerate(zip(self.names, self.funcs))]

    def _wrap(self, index: int, name: str, func: Callable) -> Callable:
        last = index == len(self.names) - 1

        def reward(completions, **kwargs):
            texts = [completion_text(c) for c in completions]
            scores = func(texts, answer_region=self.answer_region, **self._options(func), **kwargs)
            self._scores[name] = list(scores)
            if last:
                self._record(texts, kwargs)
            return scores

        reward.__name__ = reward.__qualname__ = f"reward_{name}"
        return reward

    def _score(self, name: str, texts: list[str], kwargs: dict) -> list[float | None]:
        """A reward's scores for this batch: the one TRL just computed, or computed here for telemetry."""
        if name in self._scores:
            return self._scores[name]
        quiet = {k: v for k, v in kwargs.items() if k != "log_metric"}  # counted once, by the configured rewards
        func = rewards.get_reward(name)
        return list(func(texts, answer_region=self.answer_region, **self._options(func), **quiet))

    def _options(self, func: Callable) -> dict[str, Any]:
        """The grading deadline and the run's seed (the `random` control's coins), for every reward that takes
        them: chosen by its signature, not by its name, so renaming or adding a reward cannot drop them. None leaves
        each reward's own default."""
        parameters = inspect.signature(func).parameters
        options = {"timeout_s": self.timeout_s, "seed": self.seed}
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
