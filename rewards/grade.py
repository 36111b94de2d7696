"""Batch grading of final answers against gold answers: cheap paths first, the worker pool for the rest.

For a batch (one training step) the order is:

1. the gold answer is cut out of each solution as math-verify reads it (`rewards.extract.gold_parts`; several
   parts are graded as one list); a plain-number gold is parseable by definition, any other gold's parseability
   is remembered per process after its first parse;
2. both sides are read through `rewards.units.without_units` (``$1,000`` is 1,000, ``18 dollars`` is 18);
   a missing prediction is wrong; a prediction equal to the gold as a normalised string or as a number is right,
   and two different integers are wrong, without sympy (`quick_verdict`); the tiny task never reaches the pool;
3. a prediction far more complex than its gold is refused (`rewards.screen`) and scores 0;
4. the remaining *distinct* (prediction, gold) pairs go to the pool grouped by gold, so each gold is parsed once
   per prompt and a prediction repeated across a group is verified once.

>>> grade(["7", " 7 ", "8", None], ["7", "7", "7", "7"])
[True, True, False, False]
>>> last_stats().exact, last_stats().missing
(3, 1)
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field

from rewards import pool
from rewards.extract import as_number, gold_parts, join_parts, quick_verdict
from rewards.screen import refusal
from rewards.units import without_units

DEFAULT_TIMEOUT_S = 2.0  # per answer; a MATH answer verifies in ~5 ms, the slowest real ones in ~0.3 s
_GOLD_CACHE_SIZE = 65536


@dataclass
class GradeStats:
    """Counts for one `grade` call, per completion (a duplicate counts each time it occurs)."""

    completions: int = 0
    unique_pairs: int = 0  # distinct (prediction, gold) pairs sent to the pool
    exact: int = 0  # settled by string or number comparison, no sympy
    pooled: int = 0  # settled by math-verify in a worker
    missing: int = 0  # no final answer in the completion
    rejected: int = 0  # refused by rewards.screen as too costly to grade
    timeouts: int = 0  # over the per-answer deadline (soft timer or hard kill)
    gold_unparseable: int = 0  # verdict None: the gold itself could not be parsed (or its parse timed out)
    gold_multi_part: int = 0  # the gold is read from several boxes (rewards.extract): every part is needed
    kills: int = 0  # workers killed and replaced during the call
    longest_item_s: float = 0.0  # the longest one gold parse or one verification took in a worker
    seconds: float = 0.0

    def as_metrics(self, prefix: str = "rewards/") -> dict[str, float]:
        return {prefix + k: float(v) for k, v in asdict(self).items()}


@dataclass
class GradeResult:
    verdicts: list[bool | None] = field(default_factory=list)
    stats: GradeStats = field(default_factory=GradeStats)


_gold_ok: OrderedDict[str, bool] = OrderedDict()  # gold answer -> parseable, across steps
_last = GradeStats()


def _remember_gold(gold: str, ok: bool) -> None:
    _gold_ok[gold] = ok
    _gold_ok.move_to_end(gold)
    if len(_gold_ok) > _GOLD_CACHE_SIZE:
        _gold_ok.popitem(last=False)


def _known_gold(gold: str) -> bool | None:
    if as_number(gold) is not None:
        return True
    return _gold_ok.get(gold)


def grade_batch(
    predictions: list[str | None], golds: list[str], timeout_s: float = DEFAULT_TIMEOUT_S, screen: bool = True
) -> GradeResult:
    """Verdicts (True right, False wrong, None gold unparseable) and the counts behind them.

    `golds` are solution fields (a bare answer, a worked solution with a ``\\boxed{}``, or GSM8K's ``#### n``).
    `screen=False` sends even refused answers to the pool (for testing the deadline itself).
    """
    if len(predictions) != len(golds):
        raise ValueError(f"{len(predictions)} predictions but {len(golds)} golds: pass one gold per completion")
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be positive, got {timeout_s}")
    start = time.perf_counter()
    stats = GradeStats(completions=len(predictions))
    read: dict[str, list[str]] = {}  # solution -> gold parts, once per distinct solution (a prompt's group shares it)
    for g in golds:
        if g not in read:
            read[g] = gold_parts(g)
    gold_parts_of = [read[g] for g in golds]
    gold_texts = [without_units(join_parts(parts)) for parts in gold_parts_of]
    predictions = [None if p is None else without_units(p) for p in predictions]
    stats.gold_multi_part = sum(len(parts) > 1 for parts in gold_parts_of)
    decided: list[bool | None] = [None] * len(predictions)
    tasks: dict[str, list[str]] = {}  # gold -> distinct predictions needing sympy, in first-seen order
    for i, (prediction, gold) in enumerate(zip(predictions, gold_texts)):
        if _known_gold(gold) is None:
            tasks.setdefault(gold, [])  # its parseability must be learnt even if nothing needs sympy
        if prediction is None:
            decided[i], stats.missing = False, stats.missing + 1
            continue
        quick = quick_verdict(prediction, gold)
        if quick is not None:
            decided[i], stats.exact = quick, stats.exact + 1
        elif screen and refusal(prediction, gold) is not None:
            decided[i], stats.rejected = False, stats.rejected + 1
        else:
            pending = tasks.setdefault(gold, [])
            if prediction.strip() not in pending:
                pending.append(prediction.strip())
    verdict_of: dict[tuple[str, str], int] = {}
    gold_timed_out: set[str] = set()
    if tasks:
        task_list = sorted(tasks.items(), key=lambda task: -len(task[1]))  # longest first: a shorter tail
        for (gold, preds), result in zip(task_list, pool.run(task_list, timeout_s)):
            stats.kills += result.kills
            stats.longest_item_s = max(stats.longest_item_s, result.longest_s)
            if result.gold_ok is None:  # the gold's parse ran out of time: unparseable now, retried next call
                gold_timed_out.add(gold)
                _gold_ok.pop(gold, None)
            else:
                _remember_gold(gold, result.gold_ok)
            if result.gold_ok:
                verdict_of.update(((p, gold), v) for p, v in zip(preds, result.verdicts))
        stats.unique_pairs = sum(len(p) for p in tasks.values())
    verdicts: list[bool | None] = []
    for i, (prediction, gold) in enumerate(zip(predictions, gold_texts)):
        if gold in gold_timed_out or not _known_gold(gold):
            stats.gold_unparseable += 1
            stats.timeouts += gold in gold_timed_out
            verdicts.append(None)
            continue
        key = (prediction.strip(), gold) if prediction is not None else None
        if key in verdict_of:
            stats.pooled += 1
            stats.timeouts += verdict_of[key] == pool.TIMEOUT
            verdicts.append(verdict_of[key] == pool.CORRECT)
        else:
            verdicts.append(bool(decided[i]))
    stats.seconds = time.perf_counter() - start
    return GradeResult(verdicts, stats)


def record(stats: GradeStats) -> None:
    """Keep `stats` as the answer to `last_stats()`."""
    global _last
    _last = stats


def forget_golds() -> None:
    """Drop this process's memory of which golds parse (benchmarks start from it empty)."""
    _gold_ok.clear()


def grade(
    predictions: list[str | None], golds: list[str], timeout_s: float = DEFAULT_TIMEOUT_S
) -> list[bool | None]:
    """`grade_batch`'s verdicts; its counts are kept for `last_stats()`."""
    result = grade_batch(predictions, golds, timeout_s)
    record(result.stats)
    return result.verdicts


def last_stats() -> GradeStats:
    """The counts of this process's most recent `grade` (or `accuracy_reward`) call."""
    return _last
