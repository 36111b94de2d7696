"""DAPO's soft overlong punishment (Yu et al. 2025, "DAPO", Eq. 13): a length penalty that grows linearly over the
last `cache_length` tokens before the cap `max_length`, so a completion that is about to be cut off learns to
finish instead of being scored as if its truncated answer were simply wrong.

    R_length(y) = 0                                        if |y| <= L_max - L_cache
                = ((L_max - L_cache) - |y|) / L_cache      if L_max - L_cache < |y| <= L_max
                = -1                                       if |y| > L_max

|y| is the completion's token count (`completion_ids`, which TRL passes every reward). DAPO adds it to the accuracy
reward; give it weight 1.0 in `reward_weights` to match. `overlong` is a factory: the recipe sets both lengths in
``reward_kwargs: {overlong: {max_length: L_max, cache_length: L_cache}}`` (DAPO: 20480 and 4096, with the
generation cap at L_max).

>>> punish = soft_overlong_punishment(max_length=100, cache_length=20)
>>> punish(completion_ids=[[1] * 80, [1] * 90, [1] * 100, [1] * 101])
[0.0, -0.5, -1.0, -1.0]
>>> soft_overlong_punishment(max_length=10, cache_length=20)
Traceback (most recent call last):
...
ValueError: overlong: need 0 < cache_length <= max_length, got cache_length=20, max_length=10
"""

from __future__ import annotations

from collections.abc import Sequence


class SoftOverlongPunishment:
    """The reward `soft_overlong_punishment` returns: a class, not a closure, so it pickles (to a reward worker)."""

    __name__ = "overlong"

    def __init__(self, max_length: int, cache_length: int):
        self.max_length, self.cache_length = max_length, cache_length

    def __call__(self, completion_ids: Sequence[Sequence[int]], **kwargs) -> list[float]:
        expected = self.max_length - self.cache_length  # L_max - L_cache: lengths up to here are free
        out = []
        for ids in completion_ids:
            n = len(ids)
            out.append(0.0 if n <= expected else -1.0 if n > self.max_length else (expected - n) / self.cache_length)
        return out


def soft_overlong_punishment(max_length: int, cache_length: int) -> SoftOverlongPunishment:
    """DAPO's Eq. 13 with L_max = `max_length` and L_cache = `cache_length` tokens (module docstring)."""
    ok = all(isinstance(v, int) and not isinstance(v, bool) for v in (max_length, cache_length))
    if not ok or not 0 < cache_length <= max_length:
        raise ValueError(f"overlong: need 0 < cache_length <= max_length, got cache_length={cache_length!r}, "
                         f"max_length={max_length!r}")
    return SoftOverlongPunishment(max_length, cache_length)
