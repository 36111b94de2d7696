"""Multi-part golds, several boxes in a prediction, and the failure kinds of issue 14, from real strings.

The 25 MATH train solutions that hold several different boxes come from tests/data/verifier_pairs.jsonl (built by
bench/build_verifier_pairs.py, with their `unique_id`). For each, the verdict decided for the last box alone and for
the full answer (the distinct boxes as one list) is written out below; rewards/extract.py says why. The gold
reading is checked against math-verify's own on every multi-box solution zero ships (zero/datafiles).
Run: ``python -m pytest tests/test_rewards_multi_part.py -q`` (about 20 s on 2 cores; starts the grading workers).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

import zero
from rewards import accuracy_reward, extract_answer, gold_answer, grade_batch
from rewards.extract import gold_parts

PAIRS = Path(__file__).resolve().parent / "data" / "verifier_pairs.jsonl"
DATAFILES = Path(zero.__file__).resolve().parent / "datafiles"
with PAIRS.open() as _f:
    ROWS = [json.loads(line) for line in _f]
MATH = {}  # unique_id -> {kind: row}
for _row in ROWS:
    if _row["set"] == "math_train_multi_box":
        MATH.setdefault(_row["source"].removeprefix("MATH train train/").removesuffix(".json"), {})[_row["kind"]] = _row

# unique_id: (last box alone pays, full answer pays)
DECIDED = {
    # math-verify joins the boxes into one answer: every part is needed
    "algebra/152": (False, True),  # (-2,18) and (8,38)
    "algebra/1771": (False, True),
    "intermediate_algebra/396": (False, True),  # "either focus is acceptable", but both are boxed as one answer
    "intermediate_algebra/1113": (False, True),
    "intermediate_algebra/1486": (False, True),
    "intermediate_algebra/1964": (False, True),
    "number_theory/837": (False, True),  # 20:34 or 8:34 p.m.
    "precalculus/860": (False, True),  # \frac{3}{2} and -3
    "precalculus/1040": (False, True),
    "precalculus/1089": (False, True),
    "precalculus/1149": (False, True),  # 30 or 150 degrees, boxed twice over
    "number_theory/796": (True, True),  # 28 or 28_9: one value, both spellings parse as 28
    # one value restated: the last box, or the same value listed twice
    "algebra/2156": (True, True),  # \dfrac{1}{6}, \frac{1}{6}
    "intermediate_algebra/1266": (True, True),  # empty \phantom boxes, then -5
    "intermediate_algebra/1609": (True, True),  # 16/5, then \frac{16}{5}
    "prealgebra/452": (True, True),  # -b+2, or 2 - b
    # an intermediate result boxed first: the last box is the answer, the list is not
    "algebra/535": (True, False),  # log_2 4 = 2, then 4
    "geometry/892": (True, False),  # 144, then 12
    "counting_and_probability/955": (True, False),  # a box in Asymptote code, then 22 (the list does not parse)
    "number_theory/7041": (True, False),  # a congruence, then 784 (the list does not parse)
    # an accepted alternative boxed second: the last box pays, a list of both is not one answer
    "precalculus/865": (True, False),
    "precalculus/982": (True, False),
    # a multi-part answer spread over sentences: math-verify, and so the reward, reads the last box only
    "precalculus/571": (True, False),  # 4 ... -4
    "precalculus/722": (True, False),  # 30 ... 75, 75
    "precalculus/1269": (True, False),  # 60 ... 45 ... 75
}


def test_all_25_math_rows_are_decided():
    assert sorted(MATH) == sorted(DECIDED) and len(DECIDED) == 25


@pytest.mark.parametrize("uid", sorted(DECIDED))
def test_math_train_multi_box(uid):
    kinds = MATH[uid]
    gold = kinds["last box alone"]["gold"]
    predictions = [kinds["last box alone"]["prediction"], kinds["all boxes as one list"]["prediction"]]
    for region, wrap in (("boxed", "So the answer is {}."), ("answer_tag", "<think> ok </think> <answer> {} </answer>")):
        scores = accuracy_reward([wrap.format(p) for p in predictions], [gold, gold], answer_region=region)
        assert tuple(s == 1.0 for s in scores) == DECIDED[uid], region


def test_gold_reading_is_math_verifys():
    """Our string-level reading of every solution with several boxes in the shipped MATH train, MATH-500 and Minerva
    files (122 solutions) parses to what math-verify extracts from the whole solution."""
    from math_verify import parse, verify

    from rewards.extract import boxes
    from rewards.verify import parse_gold

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    solutions = []
    for name in ("train/math_train.jsonl", "benchmarks/math500.jsonl", "benchmarks/minerva_math.jsonl"):
        with (DATAFILES / name).open() as f:
            solutions += [json.loads(line)["solution"] for line in f]
    multi = [s for s in solutions if len(boxes(s)) >= 2]
    assert len(multi) == 122
    for solution in multi:
        ours, theirs = parse_gold(gold_answer(solution)), parse(solution)
        assert ours and verify(theirs, ours) and verify(ours, theirs), solution[-200:]
        assert _size(ours) == _size(theirs), solution[-200:]  # a set of the same size, or one value


def _size(parsed: list) -> int:
    from sympy import FiniteSet

    return len(parsed[0].args) if isinstance(parsed[0], FiniteSet) else 1


def test_issue_14_pairs_agree_with_math_verify():
    rows = [r for r in ROWS if r["set"] == "issue_14"]
    assert len(rows) >= 20
    completions = [f"<think> ok </think> <answer> {r['prediction']} </answer>" for r in rows]
    scores = accuracy_reward(completions, [r["gold"] for r in rows])
    for row, score in zip(rows, scores):
        assert (score == 1.0) == row["expected"], row


@pytest.mark.parametrize(
    "completion, gold, expected",
    [
        # the issue's own strings
        (r"... so \boxed{2}", r"\boxed{1} papers and \boxed{2} bins", 0.0),
        (r"... so \boxed{1,2}", r"\boxed{1} papers and \boxed{2} bins", 1.0),
        (r"\boxed{-2} \quad \text{and} \quad \boxed{1}", r"so $x = \boxed{-2}$ or $x = \boxed{1}$.", 1.0),
        (r"\boxed{-2} \quad \text{and} \quad \boxed{1}", r"The roots are $\boxed{-2, 1}$.", 1.0),
        (r"\boxed{-2} \quad \text{and} \quad \boxed{1}", "1", 0.0),  # a set is never one value
        (r"\boxed{-2} \quad \text{and} \quad \boxed{3}", r"The roots are $\boxed{-2, 1}$.", 0.0),
        (r"\boxed{32, 349}", "32349", 0.0),
        (r"\boxed{32,349}", "32349", 1.0),
        # a box outside the final answer with another value is a hedge, whichever gold
        (r"\boxed{-2}. Checking the other root we find that it must be \boxed{1}", r"The roots are $\boxed{-2, 1}$.", 0.0),
        (r"\boxed{1}. Wait, let me reconsider this once more, maybe the answer is \boxed{2}", "2", 0.0),
    ],
)
def test_sets_hedges_and_lists(completion, gold, expected):
    assert accuracy_reward([completion], [gold], answer_region="boxed") == [expected]


# A box of Asymptote code (MATH train counting_and_probability/955) and a congruence (number_theory/7041), each
# listed with the answer: lists LaTeX cannot parse. math-verify pays the first of each pair below and refuses the
# second, but not by any rule about lists: its LaTeX parse fails, and its last-resort plain-number regex
# (parser.lazy_expr_regex, `try_extract_without_anchor`) takes the rightmost number after a space, ``=`` or the
# start of the text. The order matters only through the character before the number (the test after this one).
# Ours refuses every order and spacing: the list is two things, and a set of two values is not one value
# (math-verify refuses ``\boxed{5, 22}`` itself).
UNPARSEABLE_LISTS = [
    ("22", r'\boxed{" + string(n) + ", 22}', r'\boxed{22, " + string(n) + "}'),
    ("784", r"\boxed{j-i \equiv 0 \pmod{6}, 784}", r"\boxed{784, j-i \equiv 0 \pmod{6}}"),
]


@pytest.mark.parametrize("gold, forward, reversed_", UNPARSEABLE_LISTS, ids=["asymptote", "congruence"])
def test_unparseable_lists_are_refused_in_either_order(gold, forward, reversed_):
    spellings = [forward, reversed_, forward.replace(", ", ","), reversed_.replace("{", "{ ", 1), forward[7:-1]]
    for region, wrap in (("boxed", "So the answer is {}."), ("answer_tag", "<think> ok </think> <answer> {} </answer>")):
        completions = [wrap.format(p) for p in [*spellings, rf"\boxed{{{gold}}}"]]
        assert accuracy_reward(completions, [gold] * len(completions), answer_region=region) == [0.0] * 5 + [1.0]


def test_math_verify_pays_those_lists_only_through_its_plain_number_fallback():
    """The evidence for refusing them: math-verify's verdict turns on one space, pays a list holding a wrong value,
    and is a refusal in both orders once the unanchored fallback is off (as open-r1 configures its reward). If a
    math-verify release changes this, the departures in tests/test_rewards_audit.py deserve a new look."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    anchored_only = [LatexExtractionConfig(), ExprExtractionConfig(try_extract_without_anchor=False)]
    default = [LatexExtractionConfig(), ExprExtractionConfig()]
    for gold, forward, reversed_ in UNPARSEABLE_LISTS:
        pays = {p: verify(parse(gold), parse(p, default)) for p in (forward, reversed_, forward.replace(", ", ","))}
        assert list(pays.values()) == [True, False, False]  # the last: no space before the number, it is not read
        assert all(isinstance(p, str) for p in parse(forward, [LatexExtractionConfig()]))  # LaTeX reads nothing
        assert not any(verify(parse(gold), parse(p, anchored_only)) for p in (forward, reversed_))
    assert verify(parse("22"), parse(r'\boxed{ 22, " + string(n) + "}'))  # a space after the brace: reversed, paid
    assert parse(r"\boxed{784, j-i \equiv 0 \pmod{6}}")[0] == 0  # reversed, it reads the 0 after a space
    assert verify(parse("784"), parse(r"\boxed{1, j-i \equiv 0 \pmod{6}, 784}"))  # a wrong value 1 listed, still paid
    assert not verify(parse("22"), parse(r"\boxed{5, 22}"))  # a list that parses is a set, not its last value


def test_gold_parts_and_extracted_answer():
    assert gold_parts(r"so $k = \boxed{5}$ or $k = \boxed{-3}$.") == ["5", "-3"]
    assert gold_parts(r"area $\boxed{144}$. ... Our answer is then $5+7=\boxed{12}$.") == ["12"]
    assert extract_answer(r"\boxed{-2} \quad \text{and} \quad \boxed{1}", "boxed") == r"\boxed{-2}, \boxed{1}"
    assert extract_answer(r"\boxed{-2}. Checking the other root we find that it must be \boxed{1}", "boxed") is None


def test_alternatives_name_the_members_of_a_list_gold():
    gold = r"The roots are $\boxed{-2, 1}$."
    completions = ["<think> ok </think> <answer> x = -2 \\text{ or } x = 1 </answer>"] * 2
    assert accuracy_reward(completions, [gold, "1"]) == [1.0, 0.0]  # against one value it is a hedge


def test_gold_multi_part_is_counted_and_logged():
    multi = MATH["algebra/152"]["last box alone"]["gold"]
    logged = {}
    accuracy_reward(["<think> a </think> <answer> 7 </answer>"] * 3, [multi, multi, "7"],
                    log_metric=lambda name, value: logged.__setitem__(name, value))
    assert logged["rewards/gold_multi_part"] == 2.0
    assert grade_batch(["7", "7"], ["7", r"$\boxed{144}$ then $\boxed{12}$"]).stats.gold_multi_part == 0
