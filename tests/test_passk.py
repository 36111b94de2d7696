"""pass@k, maj@k and the per-benchmark figures of zero/passk.py, checked against brute force on fixed samples.

Run: `PYTHONPATH=. pytest tests/test_passk.py -q` (under a second).
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest

from zero.passk import benchmark_metrics, default_ks, maj_at_k, markdown_table, mean_pass_at_k, pass_at_k


def _brute_pass_at_k(n: int, c: int, k: int) -> float:
    """The share of k-subsets of n samples (c correct) holding a correct one, by enumeration."""
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return float(Fraction(sum(any(samples[i] for i in s) for s in subsets), len(subsets)))


@pytest.mark.parametrize("n", [1, 2, 5, 8])
def test_pass_at_k_equals_enumeration(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(_brute_pass_at_k(n, c, k), abs=1e-12), (n, c, k)


def test_pass_at_1_is_mean_correctness_and_large_n_is_stable():
    assert pass_at_k(64, 17, 1) == pytest.approx(17 / 64)
    # C(5000, 2500) overflows a float; the product form does not
    assert 0.0 < pass_at_k(5000, 1, 64) < 1.0
    assert pass_at_k(5000, 1, 64) == pytest.approx(64 / 5000)


@pytest.mark.parametrize(
    "n, c, k, message",
    [(3, 4, 1, "0 <= c <= n"), (3, 1, 0, "k must be >= 1"), (3, 1, 4, "at least 4 samples")],
)
def test_pass_at_k_rejects_bad_input(n, c, k, message):
    with pytest.raises(ValueError, match=message):
        pass_at_k(n, c, k)


def test_mean_pass_at_k_over_problems():
    assert mean_pass_at_k([4, 0], 4, 1) == 0.5
    assert mean_pass_at_k([1, 0, 2], 4, 2) == pytest.approx((0.5 + 0.0 + 5 / 6) / 3)
    with pytest.raises(ValueError, match="no problems"):
        mean_pass_at_k([], 4, 1)


@pytest.mark.parametrize(
    "answers, correct, k, expected",
    [
        (["7", "7", "8"], [True, True, False], 3, True),
        (["8", "7", "7"], [False, True, True], 3, True),
        (["8", "7", "7"], [False, True, True], 1, False),  # only the first sample votes
        (["8", "7"], [False, True], 2, False),  # a tie goes to the first answer seen
        ([None, None, "7"], [False, False, True], 3, True),  # missing answers do not vote
        ([None, None], [False, False], 2, False),
    ],
)
def test_maj_at_k(answers, correct, k, expected):
    assert maj_at_k(answers, correct, k) is expected


def test_default_ks():
    assert default_ks(64) == [1, 2, 4, 8, 16, 32, 64]
    assert default_ks(3) == [1, 2, 3]


def _rows(spec):
    return [
        {"prompt_id": p, "sample": s, "is_correct": ok, "extracted_answer": a, "format_ok": f,
         "completion_tokens": t, "truncated": t >= 100, "reflection_count": r}
        for p, s, ok, a, f, t, r in spec
    ]


def test_benchmark_metrics_on_fixed_rows():
    rows = _rows([
        # problem a: 3 of 4 right
        ("a", 0, True, "18", True, 10, 0), ("a", 1, True, "$18$", True, 20, 1),
        ("a", 2, False, "17", True, 30, 0), ("a", 3, True, "18", True, 40, 2),
        # problem b: 1 of 4 right, the majority wrong; one gold-unparseable verdict
        ("b", 0, False, "4", False, 100, 0), ("b", 1, True, "3", True, 50, 0),
        ("b", 2, False, "4", True, 60, 0), ("b", 3, None, None, False, 70, 0),
    ])
    m = benchmark_metrics(rows, 4)
    assert m["num_problems"] == 2 and m["n"] == 4
    assert m["pass@1"] == pytest.approx((3 / 4 + 1 / 4) / 2)
    assert m["pass@2"] == pytest.approx((1.0 + 0.5) / 2)  # b: 1 - C(3,2)/C(4,2)
    assert m["pass@4"] == 1.0
    assert m["maj@4"] == 0.5 and m["maj@2"] == 0.5  # "$18$" and "18" vote together (rewards' normalize)
    assert m["format_rate"] == 6 / 8
    assert m["gold_unparseable"] == 1
    assert m["length/mean"] == pytest.approx(380 / 8)
    assert m["truncated_share"] == 1 / 8
    assert m["reflection/share"] == 2 / 8


def test_benchmark_metrics_refuses_missing_samples():
    rows = _rows([("a", 0, True, "1", True, 1, 0), ("b", 0, True, "1", True, 1, 0), ("b", 1, True, "1", True, 1, 0)])
    with pytest.raises(ValueError, match=r"\['a'\] do not have exactly n=2"):
        benchmark_metrics(rows, 2)


def test_markdown_table_drops_at_n_columns_for_one_sample():
    table = markdown_table({"x": {"num_problems": 1, "n": 1, "pass@1": 1.0}}, 1)
    assert table.splitlines()[0].count("|") == 9 and "maj@" not in table
    assert "| x | 1 | 1 | 100.0 |" in table
