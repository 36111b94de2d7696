"""Audit the accuracy reward against another grader's verdicts: on real completions, and on gold/prediction pairs.

tests/data/math_cot_labelled_dev.jsonl holds 400 model completions (boxed template) on 50 MATH problems with the
simpleRL-reason harness's verdict in `label` (a program's labels, not people's). For our `accuracy_reward` and for
a plain math-verify call made the way open-r1's `accuracy_reward` does it (parse the gold, parse the whole
completion, verify), this prints agreement with the labels, the false-positive rate (a wrong answer rewarded:
the costly error, since it trains the wrong thing) and the false-negative rate, side by side, then every
completion where ours disagrees with the label.

tests/data/verifier_pairs.jsonl holds 256 gold/prediction pairs with math-verify's verdict (built and sourced by
bench/build_verifier_pairs.py): its own test suite's cases on sets, lists and boxes, the 25 MATH train solutions
with several different boxes (five predictions each) and the failure kinds of issue 14. Each prediction is put in
a completion the way the trainer sees one (a bare answer inside ``<answer>`` after a ``<think>`` block, scored
with ``answer_region="answer_tag"``; a whole solution, with newlines or over 200 characters, as the completion
itself, scored with ``answer_region="boxed"``) and scored by `accuracy_reward`; the plain call is
``verify(parse(gold), parse(prediction))``. On the two sets whose verdicts math-verify computed (not its test
suite's), that plain call is the reference itself and agrees by construction; what they measure is how far ours
departs from it, and whether it ever pays what math-verify refuses.

Run: ``PYTHONPATH=. python bench/verifier_audit.py`` (about 30 s on 2 cores). A verdict of None (gold
unparseable; the trainer skips the example) counts as not rewarded. Exit status 1 when a target is missed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
DATA = _HERE.parent / "tests" / "data" / "math_cot_labelled_dev.jsonl"
PAIRS = _HERE.parent / "tests" / "data" / "verifier_pairs.jsonl"
COLLECTED = ("issue_14", "math_train_multi_box")  # the pairs built for issue 14; math_verify_tests is reported apart
AGREEMENT_SLACK = 0.01  # target: ours within 1 % of the plain call's agreement on the collected pairs
PAIR_TIMEOUT_S = 10.0  # verdicts are audited here, not speed: a generous deadline, so a loaded machine changes nothing


def load(path: Path = DATA) -> list[dict]:
    with path.open() as f:
        return [json.loads(line) for line in f]


def pair_completion(prediction: str) -> tuple[str, str]:
    """The completion the trainer would see for a prediction, and its answer region (module docstring)."""
    if "\n" in prediction or "</think>" in prediction or len(prediction) > 200:
        return prediction, "boxed"
    return f"<think> Working it out. </think> <answer> {prediction} </answer>", "answer_tag"


def score_pairs(rows: list[dict]) -> tuple[list[float | None], list[float]]:
    """Our reward and the plain math-verify call on each pair."""
    import logging

    from math_verify import parse, verify

    from rewards import accuracy_reward, last_stats

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    ours: list[float | None] = []
    for region in ("answer_tag", "boxed"):  # one batch per region, as a trainer would grade them
        idx = [i for i, r in enumerate(rows) if pair_completion(r["prediction"])[1] == region]
        scored = accuracy_reward([pair_completion(rows[i]["prediction"])[0] for i in idx],
                                 [rows[i]["gold"] for i in idx], answer_region=region, timeout_s=PAIR_TIMEOUT_S)
        timeouts = last_stats().timeouts
        if timeouts:
            print(f"warning: {timeouts} pairs ran past {PAIR_TIMEOUT_S} s and score 0")
        ours.extend(zip(idx, scored))
    ours = [r for _, r in sorted(ours)]
    plain = [float(verify(parse(r["gold"]), parse(r["prediction"]))) for r in rows]
    return ours, plain


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


def _table(title: str, a: dict[str, float], b: dict[str, float]) -> None:
    print(title)
    print(f"{'':22}{'ours':>10}{'plain':>10}")
    for key in a:
        print(f"{key:22}{a[key]:10.4f}{b[key]:10.4f}")


def audit_labelled() -> bool:
    from rewards import accuracy_reward, extract_answer

    rows = load()
    completions, golds, labels = [r["completion"] for r in rows], [r["gold"] for r in rows], [r["label"] for r in rows]
    ours = accuracy_reward(completions, golds, answer_region="boxed")
    plain = plain_math_verify(completions, golds)
    a, b = scores(ours, labels), scores(plain, labels)
    _table(f"labelled completions: {len(rows)}, {sum(labels)} labelled correct, {len(rows) - sum(labels)} wrong", a, b)
    print("where ours disagrees with the label (problem_idx, sample, label, ours, gold, our extracted answer):")
    for row, r in zip(rows, ours):
        if (r == 1.0) != row["label"]:
            answer = extract_answer(row["completion"], "boxed")
            print(f"  {row['problem_idx']:>3} {row['sample']} label={row['label']!s:5} ours={r} "
                  f"gold={row['gold']!r} answer={answer!r}")
    ok = a["false_positive_rate"] <= b["false_positive_rate"] and a["agreement"] == 1.0
    print(f"target (FP rate <= plain, agreement 1.000): {ok}\n")
    return ok


def audit_pairs() -> bool:
    rows = load(PAIRS)
    ours, plain = score_pairs(rows)
    ok = True
    sets = [*dict.fromkeys(r["set"] for r in rows)]
    for name, members in [*((s, {s}) for s in sets), ("collected (issue_14 + math_train_multi_box)", set(COLLECTED))]:
        idx = [i for i, r in enumerate(rows) if r["set"] in members]
        labels = [rows[i]["expected"] for i in idx]
        a, b = scores([ours[i] for i in idx], labels), scores([plain[i] for i in idx], labels)
        _table(f"pairs, {name}: {len(idx)}, {sum(labels)} right by math-verify, {len(idx) - sum(labels)} wrong", a, b)
        fp_ok = a["false_positive_rate"] <= b["false_positive_rate"]
        target = fp_ok and (members != set(COLLECTED) or a["agreement"] >= b["agreement"] - AGREEMENT_SLACK)
        print(f"target (FP rate <= plain{', agreement within 1 %' if members == set(COLLECTED) else ''}): {target}\n")
        ok = ok and target
    print("pairs where ours disagrees with math-verify's verdict (set, source, kind, expected, ours, gold, prediction):")
    for row, r in zip(rows, ours):
        if (r == 1.0) != row["expected"]:
            print(f"  {row['set']} | {row['source']} | {row['kind']} | expected={row['expected']!s:5} ours={r} | "
                  f"{row['gold'][-60:]!r} | {row['prediction'][:100]!r}")
    return ok


def main() -> int:
    ok = audit_labelled()
    ok = audit_pairs() and ok
    print(f"\nall targets met: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
