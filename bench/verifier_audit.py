"""Audit the accuracy reward against another grader's verdicts on real completions.

tests/data/math_cot_labelled_dev.jsonl holds 400 model completions (boxed template) on 50 MATH problems with the
simpleRL-reason harness's verdict in `label` (a program's labels, not people's). For our `accuracy_reward` and for
a plain math-verify call made the way open-r1's `accuracy_reward` does it (parse the gold, parse the whole
completion, verify), this prints agreement with the labels, the false-positive rate (a wrong answer rewarded:
the costly error, since it trains the wrong thing) and the false-negative rate, side by side, then every
completion where ours disagrees with the label.

Run: ``PYTHONPATH=. python bench/verifier_audit.py`` (about 10 s on 2 cores). A verdict of None (gold
unparseable; the trainer skips the example) counts as not rewarded.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
DATA = _HERE.parent / "tests" / "data" / "math_cot_labelled_dev.jsonl"


def load(path: Path = DATA) -> list[dict]:
    with path.open() as f:
        return [json.loads(line) for line in f]


def plain_math_verify(completions: list[str], golds: list[str]) -> list[float | None]:
    """open-r1's accuracy reward (src/open_r1/rewards.py): parse gold, parse completion (boxed first, LaTeX only,
    no malformed-operator fixes), verify; None when the gold does not parse. Serial, math-verify's own timeouts."""
    from latex2sympy2_extended import NormalizationConfig
    from math_verify import LatexExtractionConfig, parse, verify

    config = [
        LatexExtractionConfig(
            normalization_config=NormalizationConfig(
                nits=False, malformed_operators=False, basic_latex=True, boxed="all", units=True
            ),
            boxed_match_priority=0,
            try_extract_without_anchor=False,
        )
    ]
    rewards: list[float | None] = []
    for completion, gold in zip(completions, golds):
        gold_parsed = parse(gold, extraction_mode="first_match")
        if not gold_parsed:
            rewards.append(None)
            continue
        answer = parse(completion, extraction_config=config, extraction_mode="first_match")
        rewards.append(float(verify(gold_parsed, answer)))
    return rewards


def scores(rewards: list[float | None], labels: list[bool]) -> dict[str, float]:
    """Agreement, false-positive rate (among label False) and false-negative rate (among label True)."""
    said = [r == 1.0 for r in rewards]
    wrong = [s for s, y in zip(said, labels) if not y]
    right = [s for s, y in zip(said, labels) if y]
    return {
        "agreement": sum(s == y for s, y in zip(said, labels)) / len(labels),
        "false_positive_rate": sum(wrong) / max(1, len(wrong)),
        "false_negative_rate": sum(not s for s in right) / max(1, len(right)),
        "gold_unparseable": float(sum(r is None for r in rewards)),
    }


def main() -> int:
    from rewards import accuracy_reward

    rows = load()
    completions, golds, labels = [r["completion"] for r in rows], [r["gold"] for r in rows], [r["label"] for r in rows]
    ours = accuracy_reward(completions, golds, answer_region="boxed")
    plain = plain_math_verify(completions, golds)
    a, b = scores(ours, labels), scores(plain, labels)
    print(f"{len(rows)} completions, {sum(labels)} labelled correct, {len(rows) - sum(labels)} labelled wrong")
    print(f"{'':22}{'ours':>10}{'plain':>10}")
    for key in a:
        print(f"{key:22}{a[key]:10.4f}{b[key]:10.4f}")
    print("\nwhere ours disagrees with the label (problem_idx, sample, label, ours, gold, our extracted answer):")
    from rewards import extract_answer

    for row, r in zip(rows, ours):
        if (r == 1.0) != row["label"]:
            answer = extract_answer(row["completion"], "boxed")
            print(f"  {row['problem_idx']:>3} {row['sample']} label={row['label']!s:5} ours={r} "
                  f"gold={row['gold']!r} answer={answer!r}")
    ok = a["false_positive_rate"] <= b["false_positive_rate"] and a["agreement"] >= b["agreement"]
    print(f"\nours: FP rate <= plain and agreement >= plain: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
