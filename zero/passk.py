"""Sample-based benchmark estimators: pass@k (unbiased, Chen et al. 2021) and maj@k (majority vote).

DeepSeek-R1 reports "pass@1" as the mean correctness over k sampled responses per problem (temperature 0.6,
top-p 0.95) and "cons@64" as the majority vote over 64 of them; these are `pass_at_k(n, c, 1)` averaged over
problems and `maj_at_k(..., 64)`.

>>> pass_at_k(4, 1, 1), pass_at_k(4, 1, 4), pass_at_k(4, 0, 2)
(0.25, 1.0, 0.0)
>>> maj_at_k(["5", "4", "5", None], [True, False, True, False], 4)
True
"""

from __future__ import annotations

from collections.abc import Sequence

from rewards.extract import normalize
from zero.telemetry.reasoning import step_metrics


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased estimate of P(at least one of k samples is correct) from n samples with c correct.

    Chen et al. 2021 ("Evaluating Large Language Models Trained on Code", eq. 1): 1 - C(n-c, k) / C(n, k),
    computed as a product so it neither overflows nor loses precision for n in the thousands.

    >>> round(pass_at_k(10, 3, 2), 6)  # 1 - C(7,2)/C(10,2) = 1 - 21/45
    0.533333
    >>> pass_at_k(3, 2, 4)
    Traceback (most recent call last):
    ...
    ValueError: pass@4 needs at least 4 samples per problem, got n=3
    """
    if not 0 <= c <= n:
        raise ValueError(f"pass_at_k: need 0 <= c <= n, got n={n}, c={c}")
    if k < 1:
        raise ValueError(f"pass_at_k: k must be >= 1, got {k}")
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples per problem, got n={n}")
    if n - c < k:  # every k-subset holds a correct sample
        return 1.0
    miss = 1.0
    for i in range(n - c + 1, n + 1):  # C(n-c, k) / C(n, k) = prod_{i=n-c+1}^{n} (1 - k / i)
        miss *= 1.0 - k / i
    return 1.0 - miss


def mean_pass_at_k(correct_counts: Sequence[int], n: int, k: int) -> float:
    """pass@k averaged over problems, each with `n` samples of which `correct_counts[i]` are correct.

    >>> mean_pass_at_k([0, 2, 4], 4, 1)
    0.5
    """
    if not correct_counts:
        raise ValueError("mean_pass_at_k: no problems")
    return sum(pass_at_k(n, c, k) for c in correct_counts) / len(correct_counts)


def maj_at_k(answers: Sequence[str | None], correct: Sequence[bool | None], k: int) -> bool:
    """Is the majority answer among the first `k` samples correct?

    `answers` are the samples' extracted final answers, already normalised (equal strings vote together; a
    missing answer, None, does not vote). A tie goes to the answer that appeared first. With no answer at all
    the vote is wrong. The verdict of the winning answer is the verdict of its first sample.

    >>> maj_at_k(["3", "4", "4"], [True, False, False], 3), maj_at_k(["3", "4", "4"], [True, False, False], 2)
    (False, True)
    >>> maj_at_k([None, None], [False, False], 2)
    False
    """
    if len(answers) != len(correct):
        raise ValueError(f"maj_at_k: {len(answers)} answers but {len(correct)} verdicts")
    if k < 1 or k > len(answers):
        raise ValueError(f"maj@{k} needs 1 <= k <= the {len(answers)} samples given")
    votes: dict[str, int] = {}
    first: dict[str, int] = {}
    for i, answer in enumerate(answers[:k]):
        if answer is None:
            continue
        votes[answer] = votes.get(answer, 0) + 1
        first.setdefault(answer, i)
    if not votes:
        return False
    winner = min(votes, key=lambda a: (-votes[a], first[a]))
    return bool(correct[first[winner]])


def default_ks(n: int) -> list[int]:
    """The k reported for n samples: powers of two below n, and n itself.

    >>> default_ks(1), default_ks(16), default_ks(6)
    ([1], [1, 2, 4, 8, 16], [1, 2, 4, 6])
    """
    ks, k = [], 1
    while k < n:
        ks.append(k)
        k *= 2
    return ks + [n]


def benchmark_metrics(rows: Sequence[dict], n: int, ks: Sequence[int] | None = None) -> dict[str, float]:
    """A benchmark's figures from its sample rows (`zero.eval`'s samples files: prompt_id, sample, is_correct,
    extracted_answer, format_ok, completion_tokens, truncated, reflection_count), each problem with `n` samples.

    Fractions in 0..1: pass@k for k in `ks` (default `default_ks(n)`), maj@k for those k >= 2, format_rate; counts:
    num_problems, gold_unparseable (samples whose gold cannot be parsed, scored wrong); and
    `zero.telemetry.reasoning.step_metrics`' length/..., truncated_share and reflection/... figures.

    >>> rows = [{"prompt_id": p, "sample": s, "is_correct": ok, "extracted_answer": a, "format_ok": True,
    ...          "completion_tokens": 10, "truncated": False, "reflection_count": 0}
    ...         for p, s, ok, a in [("a", 0, True, "1"), ("a", 1, False, "2"), ("b", 0, False, "3"), ("b", 1, False, "3")]]
    >>> m = benchmark_metrics(rows, 2)
    >>> m["pass@1"], m["pass@2"], m["maj@2"], m["num_problems"]
    (0.25, 0.5, 0.5, 2)
    """
    ks = list(ks) if ks else default_ks(n)
    by_problem: dict[str, list[dict]] = {}
    for row in rows:
        by_problem.setdefault(str(row["prompt_id"]), []).append(row)
    if not by_problem:
        raise ValueError("benchmark_metrics: no samples")
    short = [p for p, samples in by_problem.items() if len(samples) != n]
    if short:
        raise ValueError(f"benchmark_metrics: problems {short[:5]} do not have exactly n={n} samples")
    counts, votes = [], {k: 0 for k in ks if k >= 2}
    for samples in by_problem.values():
        samples = sorted(samples, key=lambda r: int(r["sample"]))
        correct = [r["is_correct"] is True for r in samples]
        answers = [None if r["extracted_answer"] is None else normalize(r["extracted_answer"]) for r in samples]
        counts.append(sum(correct))
        for k in votes:
            votes[k] += maj_at_k(answers, correct, k)
    out: dict[str, float] = {"num_problems": len(by_problem), "n": n}
    out.update({f"pass@{k}": mean_pass_at_k(counts, n, k) for k in ks})
    out.update({f"maj@{k}": v / len(by_problem) for k, v in votes.items()})
    out["format_rate"] = sum(bool(r["format_ok"]) for r in rows) / len(rows)
    out["gold_unparseable"] = sum(r["is_correct"] is None for r in rows)
    columns = {key: [r[key] for r in rows] for key in ("prompt_id", "completion_tokens", "truncated", "is_correct",
                                                      "reflection_count")}
    for key, value in step_metrics(columns).items():
        if not key.startswith("reasoning/prompts/"):  # solved_share is pass@n, already above
            out[key.removeprefix("reasoning/")] = value
    return out


def markdown_table(results: dict[str, dict[str, float]], n: int) -> str:
    """The results as a markdown table, accuracies in percent like the papers print them.

    >>> print(markdown_table({"gsm8k": {"num_problems": 2, "n": 4, "pass@1": 0.5, "pass@4": 1.0, "maj@4": 0.5,
    ...     "format_rate": 1.0, "length/mean": 12.0, "reflection/share": 0.0, "truncated_share": 0.0}}, 4))
    | benchmark | problems | n | pass@1 | pass@4 | maj@4 | mean length | reflection share | format | truncated |
    |---|---|---|---|---|---|---|---|---|---|
    | gsm8k | 2 | 4 | 50.0 | 100.0 | 50.0 | 12 | 0.0 | 100.0 | 0.0 |
    """
    at_n = [f"pass@{n}", f"maj@{n}"] if n > 1 else []
    head = ["benchmark", "problems", "n", "pass@1", *at_n, "mean length", "reflection share", "format", "truncated"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.1f}"

    for name, m in results.items():
        cells = [name, str(m["num_problems"]), str(m["n"]), *(pct(m.get(k)) for k in ["pass@1", *at_n]),
                 f"{m.get('length/mean', 0):.0f}", pct(m.get("reflection/share")), pct(m.get("format_rate")),
                 pct(m.get("truncated_share"))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
