"""Property test: the exact-match shortcut (`rewards.extract.quick_verdict`) never contradicts math-verify.

Wherever the shortcut answers, its verdict must be math-verify's on the same pair (`rewards.verify`, the call the
grading workers make). The pairs: 1,500 seeded random ones (numbers with every thousands/decimal/list spelling
math-verify distinguishes, signs, wrappers, fractions, lists, tuples; each gold with rewrites of itself and with
unrelated answers), and the collected pairs of tests/data/verifier_pairs.jsonl. A seeded generator stands in for
``hypothesis`` (not a dependency): a failure prints the pair, and the seed makes it reproducible.

Run: ``python -m pytest tests/test_rewards_shortcut.py -q`` (about 15 s on 2 cores; no grading workers).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from rewards.extract import as_number, gold_answer, quick_verdict
from rewards.verify import parse_gold, verify_answer

PAIRS = Path(__file__).resolve().parent / "data" / "verifier_pairs.jsonl"
SPACES_AFTER_COMMA = ["", " ", "  ", "\\,", "\\!", "\\ ", "~", "\\;", "{,}"]


def _integer(rng: random.Random) -> str:
    digits = str(rng.choice([rng.randint(0, 9), rng.randint(10, 999), rng.randint(1000, 10**7), rng.randint(0, 10**16)]))
    if rng.random() < 0.4 and len(digits) > 3:  # thousands groups, spelt some way
        head, groups = digits[: len(digits) % 3 or 3], [digits[i : i + 3] for i in range(len(digits) % 3 or 3, len(digits), 3)]
        space = rng.choice(SPACES_AFTER_COMMA)
        joined = head + "".join(("," + space if space != "{,}" else "{,}") + g for g in groups)
        digits = joined
    if rng.random() < 0.1:
        digits = "0" + digits
    return digits


def _number(rng: random.Random) -> str:
    n = _integer(rng)
    r = rng.random()
    if r < 0.2:
        n += "." + str(rng.randint(0, 999)).zfill(rng.randint(1, 3))
    elif r < 0.25:
        n += "."
    elif r < 0.3:
        n = "." + str(rng.randint(0, 99))
    elif r < 0.35:
        n += "," + str(rng.randint(0, 99))  # a decimal comma, or a list
    sign = rng.choice(["", "", "", "-", "+"])
    return sign + n


def _answer(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.55:
        a = _number(rng)
    elif r < 0.65:
        a = f"\\{rng.choice(['', 'd', 't'])}frac{{{rng.randint(-9, 30)}}}{{{rng.randint(1, 12)}}}"
    elif r < 0.8:
        a = rng.choice([", ", ",", ";", ",\\,", ", \\text{and} "]).join(_number(rng) for _ in range(rng.randint(2, 3)))
    elif r < 0.9:
        a = "(" + ", ".join(_number(rng) for _ in range(2)) + ")"
    else:
        a = rng.choice(["\\sqrt{2}", "2\\sqrt{3}", "\\pi", "90^\\circ", "x+1", "\\infty", "7\\%", "3\\text{ cm}"])
    wrap = rng.choice(["{}", "{}", "{}", "${}$", "\\({}\\)", " {} ", "{}.", "\\left({}\\right)"])
    return wrap.format(a)


def _rewrite(answer: str, rng: random.Random) -> str:
    """The same answer spelt a little differently (or not at all)."""
    out = answer
    for old, new in rng.sample([(", ", ","), (",", ", "), ("\\,", ""), ("\\!", ""), (" ", ""), ("{,}", ","),
                                ("\\frac", "\\dfrac"), ("$", ""), (".", ""), ("-", "- "), ("+", "")], 3):
        if rng.random() < 0.5:
            out = out.replace(old, new)
    return out


def random_pairs(n: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    pairs = []
    while len(pairs) < n:
        gold = _answer(rng)
        pairs.append((_rewrite(gold, rng), gold))
        pairs.append((_answer(rng), gold))
    return pairs[:n]


def collected_pairs() -> list[tuple[str, str]]:
    with PAIRS.open() as f:
        rows = [json.loads(line) for line in f]
    return [(row["prediction"], gold_answer(row["gold"])) for row in rows]


def _check(pairs: list[tuple[str, str]]) -> int:
    """Assert agreement wherever the shortcut answers; return how many pairs it answered."""
    answered = 0
    for prediction, gold in pairs:
        quick = quick_verdict(prediction, gold)
        if as_number(gold) is not None:  # the grader skips the parse of a plain-number gold: it must parse
            assert parse_gold(gold), gold
        if quick is None:
            continue
        gold_parsed = parse_gold(gold)
        if not gold_parsed:  # the reward is None whatever the shortcut says
            continue
        answered += 1
        expected = verify_answer(gold_parsed, prediction)
        assert quick == expected, f"shortcut says {quick}, math-verify {expected}: prediction {prediction!r}, gold {gold!r}"
    return answered


def test_shortcut_agrees_with_math_verify_on_random_pairs():
    pairs = random_pairs(1500)
    assert _check(pairs) > 300  # the shortcut must actually answer a good share, or the test proves nothing


def test_shortcut_agrees_with_math_verify_on_collected_pairs():
    assert _check(collected_pairs()) > 5


@pytest.mark.parametrize(
    "prediction, gold",
    [
        ("32, 349", "32349"),  # a list of two numbers, not 32,349 (issue 14)
        ("1, 234", "1234"),
        ("32,\\,349", "32349"),  # a thin space after the comma: math-verify reads a list too
        ("0,111", "111"),  # math-verify reads a decimal comma: 0.111
        ("+1,000", "1000"),  # math-verify reads a list
    ],
)
def test_list_commas_are_not_thousands(prediction, gold):
    assert quick_verdict(prediction, gold) is None
    assert verify_answer(parse_gold(gold), prediction) is False
