"""The spurious-reward control: a seeded coin flip per completion, independent of its text.

Shao et al. 2025 ("Spurious Rewards: Rethinking Training Signals in RLVR") train with rewards that carry no
information about correctness, to tell what RL *teaches* from what it merely shakes loose. Run a recipe with
`reward_funcs=[random,format]` beside the real one: whatever the real run gains above this control is the
accuracy reward's doing.

The flips depend only on (`seed`, the trainer's step, the process rank) and the completion's position in the
batch, never on the text, so a rerun (or a resume) draws the same coins.

>>> random_reward(["a", "b", "c", "d"], seed=0) == random_reward(["w", "x", "y", "z"], seed=0)
True
>>> random_reward(["a", "b", "c", "d"], seed=0)
[1.0, 0.0, 0.0, 0.0]
"""

from __future__ import annotations

import os
import random


def random_reward(completions: list, seed: int = 0, p: float = 0.5, trainer_state=None, **kwargs) -> list[float]:
    """1.0 with probability `p`, else 0.0, for each completion, drawn from a generator seeded by `seed`, the
    step (`trainer_state.global_step`, 0 outside the trainer) and the process rank; other keyword arguments
    (TRL's, the dataset's columns) are ignored."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"random_reward: p must be in [0, 1], got {p}")
    step = trainer_state.global_step if trainer_state is not None else 0
    rng = random.Random(f"random_reward:{seed}:{step}:{os.environ.get('RANK', '0')}")
    return [1.0 if rng.random() < p else 0.0 for _ in completions]
