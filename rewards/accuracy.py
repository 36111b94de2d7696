"""The accuracy reward: is the final answer mathematically equal to the gold answer (math-verify)?

Gold and prediction are read as `rewards.extract` documents: the gold as math-verify reads it (a multi-part gold
needs every part), the prediction only from the final answer region (inside the single ``<answer>...</answer>``
for the ``r1_zero`` template, the final boxes for boxed templates), never from the reasoning. Grading goes
through `rewards.grade` (exact-match shortcut, dedup, worker pool with a deadline).

>>> accuracy_reward(["<think> 3 + 4 = 7 </think> <answer> 7 </answer>", "<think> 7 </think> <answer> 8 </answer>"],
...                 ["7", "7"])
[1.0, 0.0]
>>> accuracy_reward([[{"role": "assistant", "content": "<think> 7 </think> no answer tag"}]], ["7"])
[0.0]
>>> accuracy_reward([r"... so the total is \\boxed{3,\\!250}."], ["3250"], answer_region="boxed")
[1.0]
>>> gold = r"The points are $\\boxed{(-2,18)}$ and $\\boxed{(8,38)}$."
>>> accuracy_reward([r"... \\boxed{(8,38)}", r"\\boxed{(-2,18)} and \\boxed{(8,38)}"], [gold, gold],
...                 answer_region="boxed")
[0.0, 1.0]
"""

from __future__ import annotations

from collections.abc import Callable

from rewards.extract import check_region, extract_answer
from rewards.grade import DEFAULT_TIMEOUT_S, GradeStats, grade_batch, record
from rewards.text import completion_text

METRICS = ("timeouts", "gold_unparseable", "gold_multi_part", "rejected")  # logged as rewards/<name>, counts per batch


def accuracy_reward(
    completions: list,
    solution: list[str],
    answer_region: str = "answer_tag",
    timeout_s: float = DEFAULT_TIMEOUT_S,
    **kwargs,
) -> list[float | None]:
    """1.0 right, 0.0 wrong, missing, refused or over the deadline, None where the gold cannot be parsed.

    `solution` holds one gold per completion (bare answer, worked solution with ``\\boxed{}``, or ``#### n``).
    If TRL passes ``log_metric``, the batch's ``rewards/timeouts``, ``rewards/gold_unparseable``,
    ``rewards/gold_multi_part`` (golds read from several boxes: every part is needed) and ``rewards/rejected``
    counts are logged through it; every other keyword argument is ignored.
    """
    check_region(answer_region)
    predictions = [extract_answer(completion_text(c), answer_region) for c in completions]
    result = grade_batch(predictions, list(solution), timeout_s)
    _record(result.stats, kwargs.get("log_metric"))
    return [None if v is None else float(v) for v in result.verdicts]


def _record(stats: GradeStats, log_metric: Callable[[str, float], None] | None) -> None:
    record(stats)
    if log_metric is not None:
        for name in METRICS:
            log_metric(f"rewards/{name}", float(getattr(stats, name)))
