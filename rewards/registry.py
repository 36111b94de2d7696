"""The registry of zero's own rewards, by the name a recipe's `reward_funcs` uses (`rewards.get_reward`,
`rewards.loader`). Its own module so that the loader reads it without importing the package that imports the
loader.
"""

from __future__ import annotations

from collections.abc import Callable

from rewards.accuracy import accuracy_reward
from rewards.format import format_reward
from rewards.overlong import soft_overlong_punishment
from rewards.spurious import random_reward

# `random` is the spurious-reward control (rewards/spurious.py): a coin flip that ignores the text. `overlong` is a
# factory (DAPO's length shaping, rewards/overlong.py): its two lengths come from the recipe's reward_kwargs.
REWARDS: dict[str, Callable[..., list]] = {"accuracy": accuracy_reward, "format": format_reward,
                                          "overlong": soft_overlong_punishment, "random": random_reward}
