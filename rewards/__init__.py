"""Reward functions for R1-Zero training, in TRL's signature: ``fn(completions, solution, **kwargs)``.

The reward is the whole teacher: a wrong reward trains the wrong thing, a slow one idles the GPUs. So the answer
is read only from the final answer region (`extract_answer`), obvious hedges score 0, and math-verify runs in a
pool of worker processes with a hard per-answer deadline (`rewards.pool`).

Select rewards by name (the recipe YAML does, with weights):

>>> sorted(REWARDS)
['accuracy', 'format', 'random']
>>> get_reward("accuracy") is accuracy_reward
True
>>> get_reward("speed")
Traceback (most recent call last):
...
ValueError: unknown reward 'speed': choose from accuracy, format, random
>>> get_rewards([])
Traceback (most recent call last):
...
ValueError: reward_funcs is empty: name at least one of accuracy, format, random

Run the doctests with ``python -m pytest --doctest-modules rewards``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rewards import pool
from rewards.accuracy import accuracy_reward
from rewards.extract import extract_answer, gold_answer
from rewards.format import format_reward
from rewards.grade import GradeResult, GradeStats, grade, grade_batch, last_stats
from rewards.spurious import random_reward

# `random` is the spurious-reward control (rewards/spurious.py): a coin flip that ignores the text.
REWARDS: dict[str, Callable[..., list]] = {"accuracy": accuracy_reward, "format": format_reward, "random": random_reward}


def get_reward(name: str) -> Callable[..., list]:
    """The reward function called `name`; a `ValueError` listing the valid names otherwise."""
    try:
        return REWARDS[name]
    except KeyError:
        raise ValueError(f"unknown reward {name!r}: choose from {', '.join(sorted(REWARDS))}") from None


def get_rewards(names: Sequence[str]) -> list[Callable[..., list]]:
    """The reward functions called `names` (a recipe's `reward_funcs`), in order; a `ValueError` naming the valid
    ones when `names` is empty or one is unknown. The one check of a reward list: the config calls it when built,
    the trainer's reward suite when it looks the functions up."""
    if not names:
        raise ValueError(f"reward_funcs is empty: name at least one of {', '.join(sorted(REWARDS))}")
    return [get_reward(name) for name in names]


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
