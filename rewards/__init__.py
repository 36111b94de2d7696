"""Reward functions for R1-Zero training, in TRL's signature: ``fn(completions, solution, **kwargs)``.

The reward is the whole teacher: a wrong reward trains the wrong thing, a slow one idles the GPUs. So the answer
is read only from the final answer region (`extract_answer`), obvious hedges score 0, and math-verify runs in a
pool of worker processes with a hard per-answer deadline (`rewards.pool`).

Select rewards by name (the recipe YAML does, with weights), or name your own as ``package.module:function`` or
``path/to/file.py:function`` (`rewards.loader`):

>>> sorted(REWARDS)
['accuracy', 'format', 'overlong', 'random']
>>> get_reward("accuracy") is accuracy_reward
True
>>> get_reward("speed")
Traceback (most recent call last):
...
ValueError: unknown reward 'speed': choose from accuracy, format, overlong, random
>>> get_rewards([])
Traceback (most recent call last):
...
ValueError: reward_funcs is empty: name at least one of accuracy, format, overlong, random

Run the doctests with ``python -m pytest --doctest-modules rewards``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rewards import pool
from rewards.accuracy import accuracy_reward
from rewards.extract import extract_answer, gold_answer
from rewards.format import format_reward
from rewards.grade import GradeResult, GradeStats, grade, grade_batch, last_stats
from rewards.registry import REWARDS
from rewards.spurious import random_reward


def get_reward(name: str) -> Callable[..., list]:
    """The reward function called `name`; a `ValueError` listing the valid names otherwise."""
    try:
        return REWARDS[name]
    except KeyError:
        raise ValueError(f"unknown reward {name!r}: choose from {', '.join(sorted(REWARDS))}") from None


def get_rewards(names: Sequence[str], reward_kwargs: Mapping[str, Mapping[str, Any]] | None = None) -> list[Callable]:
    """The reward functions a recipe's `reward_funcs` names, in order, each with its `reward_kwargs`
    (`rewards.loader`: registered names, package.module:function, path/to/file.py:function, factories); a
    `ValueError` naming the entry and the fix when the list is empty or an entry is bad. The one check of a reward
    list: the config calls it when built, the trainer's reward suite loads through the same `load_rewards`."""
    from rewards.loader import load_rewards

    return [r.func for r in load_rewards(names, reward_kwargs)]


__all__ = [
    "REWARDS",
    "GradeResult",
    "GradeStats",
    "accuracy_reward",
    "extract_answer",
    "format_reward",
    "get_reward",
    "get_rewards",
    "gold_answer",
    "grade",
    "grade_batch",
    "last_stats",
    "pool",
    "random_reward",
]
