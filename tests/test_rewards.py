"""Unit tests of the reward functions: answer extraction, format rule, accuracy, hacking guards, the worker pool.

Run: ``python -m pytest tests/test_rewards.py -q`` (about 15 s on 2 cores; starts two grading workers).
The doctests of the package: ``python -m pytest --doctest-modules rewards``.
Companions: tests/test_rewards_audit.py (labelled real completions), tests/test_rewards_fuzz.py (malformed input).
"""

from __future__ import annotations

import pytest

from rewards import (
    REWARDS,
    accuracy_reward,
    extract_answer,
    format_reward,
    get_reward,
    gold_answer,
    grade,
    grade_batch,
    last_stats,
    pool,
)
from rewards.extract import quick_verdict
from rewards.screen import refusal

R1 = "<think> {t} </think> <answer> {a} </answer>"


@pytest.mark.parametrize(
    "text, region, expected",
    [
        ("<think> 3 + 4 = 7 </think> <answer> 7 </answer>", "answer_tag", "7"),
        ("<think>x</think><answer>\\boxed{\\frac{1}{2}}</answer>", "answer_tag", "\\frac{1}{2}"),
        ("<answer> 7 </answer>", "answer_tag", "7"),  # no think at all: the answer tag still holds the answer
        ("<think> <answer>7</answer> </think>", "answer_tag", None),  # only inside the reasoning
        ("<think> the answer is 7", "answer_tag", None),  # think never closed
        ("<think>a</think><answer>1</answer><answer>2</answer>", "answer_tag", None),
        ("<think>a</think><answer>  </answer>", "answer_tag", None),
        ("<think>a</think><answer>7", "answer_tag", None),  # unclosed answer
        ("<think>a</think></answer>7<answer>", "answer_tag", None),
        ("<think>a</think><answer>\\boxed{1} or \\boxed{2}</answer>", "answer_tag", "\\boxed{1}, \\boxed{2}"),  # a set: never one value
        ("so the answer is $\\boxed{42}$.", "boxed", "42"),
        ("\\boxed{4} and again \\boxed{ 4 }", "boxed", "4"),  # a restated box is one answer
        ("\\boxed{1} ... \\boxed{2}", "boxed", "\\boxed{1}, \\boxed{2}"),  # a few characters apart: one set
        ("\\boxed{1}. But if we check the other case we get a different result: \\boxed{2}", "boxed", None),  # a hedge
        ("fill \\boxed{\\phantom{2}} so: \\boxed{4}", "boxed", "4"),  # empty box copied from the problem
        ("<think> \\boxed{3} </think> so \\boxed{5}", "boxed", "5"),
        ("<think> \\boxed{3} </think> no box after thinking", "boxed", None),
        ("<think> \\boxed{3} and never closed", "boxed", None),
        ("\\boxed{\\frac{1}{2}", "boxed", None),  # unbalanced
        ("", "boxed", None),
        ("", "answer_tag", None),
    ],
)
def test_extract_answer(text, region, expected):
    assert extract_answer(text, region) == expected


def test_extract_answer_rejects_unknown_region():
    with pytest.raises(ValueError, match="answer_tag, boxed"):
        extract_answer("x", "last_line")


@pytest.mark.parametrize(
    "solution, expected",
    [("7", "7"), (" \\frac{1}{2} ", "\\frac{1}{2}"), ("so $\\boxed{3}$.", "3"), ("2+2=4\n#### 4", "4")],
)
def test_gold_answer(solution, expected):
    assert gold_answer(solution) == expected


@pytest.mark.parametrize(
    "completion, expected",
    [
        ("<think> 3 + 4 = 7 </think> <answer> 7 </answer>", 1.0),
        ("<think>\n3 + 4 = 7\n</think>\n\n<answer>\n7\n</answer>\n", 1.0),
        ("  <think>a</think><answer>7</answer>  ", 1.0),
        ("<think> a </think> <answer> 7 </answer> and more", 0.0),  # text after the answer
        ("Sure! <think> a </think> <answer> 7 </answer>", 0.0),  # text before the think
        ("<think> a </think> so <answer> 7 </answer>", 0.0),  # text between the blocks
        ("<think> a </think>", 0.0),
        ("<answer> 7 </answer>", 0.0),
        ("<think> </think> <answer> 7 </answer>", 0.0),  # no reasoning
        ("<think> a </think> <answer> </answer>", 0.0),  # no answer
        ("<think> </think> <answer> </answer>", 0.0),  # the tags echoed, nothing else
        ("<think> reasoning process here </think> <answer> answer here </answer>", 0.0),  # the prompt's example
        ("<think> a <think> b </think> <answer> 7 </answer>", 0.0),  # nested think
        ("<think> a </think> <answer> 7 </answer> <answer> 8 </answer>", 0.0),
        ("<answer> 7 </answer> <think> a </think>", 0.0),  # wrong order
        ("", 0.0),
    ],
)
def test_format_reward_answer_tag(completion, expected):
    assert format_reward([completion]) == [expected]
    assert format_reward([[{"role": "assistant", "content": completion}]]) == [expected]


@pytest.mark.parametrize(
    "completion, expected",
    [
        ("3 + 4 = 7 </think> <answer> 7 </answer>", 1.0),
        ("\n3 + 4 = 7\n</think>\n<answer>7</answer>", 1.0),
        ("<think> 3 + 4 = 7 </think> <answer> 7 </answer>", 0.0),  # opens a second think block
        ("</think> <answer> 7 </answer>", 0.0),
    ],
)
def test_format_reward_think_prefilled(completion, expected):
    assert format_reward([completion], think_prefilled=True) == [expected]


@pytest.mark.parametrize(
    "completion, think_prefilled, expected",
    [
        ("Adding, 3 + 4 = 7, so the answer is $\\boxed{7}$.", False, 1.0),
        ("\\[\\boxed{\\frac{1}{2}}\\]", False, 1.0),
        ("<think> 3 + 4 </think> The answer is \\boxed{7}.", False, 1.0),
        ("3 + 4 </think> The answer is \\boxed{7}.", True, 1.0),
        ("3 + 4 </think> The answer is \\boxed{7}.", False, 0.0),  # a </think> without its <think>
        ("<think> \\boxed{7} </think> The answer is 7.", False, 0.0),  # the box only inside the reasoning
        ("\\boxed{7} then \\boxed{7}", False, 0.0),  # exactly one box
        ("\\boxed{1} or \\boxed{2}", False, 0.0),
        ("\\boxed{}", False, 0.0),
        ("\\boxed{7", False, 0.0),
        ("\\boxed{7} " + "and then a long tail " * 5, False, 0.0),  # the box must end the answer
        ("no box", False, 0.0),
    ],
)
def test_format_reward_boxed(completion, think_prefilled, expected):
    assert format_reward([completion], answer_region="boxed", think_prefilled=think_prefilled) == [expected]


@pytest.mark.parametrize(
    "prediction, gold, expected",
    [
        ("7", "7", True),
        (" 7. ", "7", True),
        ("3250", "3,\\!250", True),
        ("3.0", "3", True),
        ("$\\dfrac{1}{2}$", "\\frac{1}{2}", True),
        ("8", "7", False),
        ("-7", "7", False),
        ("0.5", "\\frac{1}{2}", None),  # sympy decides
        ("3.1", "3.10000001", None),  # math-verify rounds decimals: sympy decides
        ("1" * 20, "1" * 19 + "2", None),  # beyond 15 digits: sympy decides
    ],
)
def test_quick_verdict(prediction, gold, expected):
    assert quick_verdict(prediction, gold) is expected


@pytest.mark.parametrize(
    "completion, solution, expected",
    [
        (R1.format(t="3 + 4 = 7", a="7"), "7", 1.0),
        (R1.format(t="3 + 4 = 7", a="8"), "7", 0.0),
        (R1.format(t="half", a="0.5"), "\\frac{1}{2}", 1.0),
        (R1.format(t="x", a="\\frac{2}{4}"), "$\\frac{1}{2}$", 1.0),
        (R1.format(t="x", a="\\boxed{3\\sqrt{2}}"), "\\sqrt{18}", 1.0),
        (R1.format(t="x", a="x = 7"), "7", 1.0),
        (R1.format(t="x", a="(1, 2)"), "(1,2)", 1.0),
        (R1.format(t="x", a="The answer is 7 apples"), "7", 1.0),
        (R1.format(t="x", a="7"), "The total is $\\boxed{7}$.", 1.0),  # a worked solution as gold
        (R1.format(t="x", a="7"), "3 + 4 = 7\n#### 7", 1.0),  # GSM8K's gold format
        ("<think> x </think> no answer", "7", 0.0),
    ],
)
def test_accuracy_reward_answer_tag(completion, solution, expected):
    assert accuracy_reward([completion], [solution]) == [expected]


@pytest.mark.parametrize(
    "answer, gold, paid",
    [
        ("$1,000", "1000", 1.0),
        ("\\$1,000.00", "1000", 1.0),
        ("18 dollars", "18", 1.0),
        ("18 dollars each.", "18", 1.0),
        ("$18 per hour", "18", 1.0),
        ("x = 18 dollars", "18", 1.0),
        ("10 x 5 = 50 ounces of pistachios per week", "50", 1.0),  # SmolLM2's own answer
        ("18 square feet", "18", 1.0),
        ("18 dollars", "20", 0.0),
        # hedges and values a unit word would change stay unpaid, whichever side the gold is
        ("18 dollars or 20 dollars", "18", 0.0),
        ("18 dollars or 20 dollars", "20", 0.0),
        ("18 or twenty", "18", 0.0),
        ("18 and 20", "18", 0.0),
        ("between 17 and 19", "18", 0.0),
        ("18, 19, 20", "18", 0.0),
        ("$18, $20", "18", 0.0),
        ("18 \\text{ or } 20 dollars", "20", 0.0),  # the words go, the screen still sees the hedge
        ("18 \\lor 20 dollars", "20", 0.0),
        ("x = 18 or 20 dollars", "20", 0.0),
        ("18, 20 dollars", "20", 0.0),
        ("18 thousand", "18", 0.0),
        ("18 grand", "18", 0.0),
        ("3 squared", "3", 0.0),
        ("2 xy", "2", 0.0),
    ],
)
def test_currency_and_units_around_one_number(answer, gold, paid):
    """A currency sign or unit words around the one number are that number (issue 22: SmolLM2 wrote both);
    nothing that adds a second value or changes the first is taken for a unit (rewards.units.without_units)."""
    assert accuracy_reward([f"<answer> {answer} </answer>"], [gold]) == [paid]


@pytest.mark.parametrize(
    "completion, expected",
    [
        # several different final answers never score, whichever the gold is
        ("<think>x</think><answer>1 or 2</answer>", [0.0, 0.0]),
        ("<think>x</think><answer>1, 2</answer>", [0.0, 0.0]),
        ("<think>x</think><answer>1 \\text{ or } 2</answer>", [0.0, 0.0]),
        ("<think>x</think><answer>1 and 2</answer>", [0.0, 0.0]),
        ("<think>x</think><answer>The answer is 1 or 2</answer>", [0.0, 0.0]),
        ("<think>x</think><answer>\\boxed{1} \\boxed{2}</answer>", [0.0, 0.0]),
        ("<think>x</think><answer>1</answer><answer>2</answer>", [0.0, 0.0]),
        # the right answer only inside the reasoning does not count under r1_zero
        ("<think> it is 1 <answer>1</answer> </think> <answer> 2 </answer>", [0.0, 1.0]),
        ("<think> the answer is 1 and also 2 </think>", [0.0, 0.0]),
        ("<think> <answer> 1 </answer>", [0.0, 0.0]),
        # echoing the prompt's template is no answer
        ("<think> reasoning process here </think> <answer> answer here </answer>", [0.0, 0.0]),
    ],
)
def test_hedges_and_hidden_answers_do_not_score(completion, expected):
    assert accuracy_reward([completion, completion], ["1", "2"]) == expected


@pytest.mark.parametrize(
    "completion, expected",
    [
        ("\\boxed{1} ... no wait, \\boxed{2}", [0.0, 0.0]),
        ("$\\boxed{1}$ or $\\boxed{2}$", [0.0, 0.0]),
        ("\\boxed{1 \\text{ or } 2}", [0.0, 0.0]),
        ("<think> \\boxed{1} </think> so \\boxed{2}", [0.0, 1.0]),  # the box inside the reasoning is ignored
        ("<think> \\boxed{1} and never closed", [0.0, 0.0]),
        ("so \\boxed{1}, as \\boxed{1} shows", [1.0, 0.0]),
    ],
)
def test_boxed_hedges(completion, expected):
    assert accuracy_reward([completion, completion], ["1", "2"], answer_region="boxed") == expected


def test_unparseable_gold_is_none_and_counted():
    logged = {}
    out = accuracy_reward(
        [R1.format(t="x", a="7"), R1.format(t="x", a="7")],
        ["7", "\\frac{"],
        log_metric=lambda name, value: logged.__setitem__(name, value),
        prompts=["p", "q"],  # other TRL keyword arguments are ignored
        trainer_state=None,
    )
    assert out == [1.0, None]
    assert logged == {"rewards/timeouts": 0.0, "rewards/gold_unparseable": 1.0, "rewards/gold_multi_part": 0.0,
                      "rewards/rejected": 0.0}


def test_tiny_task_never_reaches_the_pool():
    completions = [R1.format(t=f"{a} + {b} = {a + b}", a=a + b + (i % 3 == 0)) for i, (a, b) in
                   enumerate((a, b) for a in range(10) for b in range(10))]
    golds = [str(a + b) for a in range(10) for b in range(10)]
    out = accuracy_reward(completions, golds)
    assert out == [0.0 if i % 3 == 0 else 1.0 for i in range(100)]
    stats = last_stats()
    assert (stats.exact, stats.pooled, stats.unique_pairs) == (100, 0, 0)


def test_grade_dedups_pairs_and_parses_each_gold_once():
    result = grade_batch(["0.5", "0.5", "\\frac{2}{4}", "0.25", None], ["\\frac{1}{2}"] * 4 + ["\\frac{1}{2}"])
    assert result.verdicts == [True, True, True, False, False]
    assert (result.stats.unique_pairs, result.stats.pooled, result.stats.missing) == (3, 4, 1)


def test_grade_checks_lengths_and_timeout():
    with pytest.raises(ValueError, match="one gold per completion"):
        grade(["1"], ["1", "2"])
    with pytest.raises(ValueError, match="positive"):
        grade(["1"], ["1"], timeout_s=0)


def test_screen_refuses_answers_far_beyond_the_gold():
    assert refusal("9^{9^{9^{9}}}", "3") == "exponent tower of height 3"
    assert refusal("2^{2^{30}}", "3") == "exponent of about 10^9"
    assert refusal("100!!!!!!", "3") == "repeated factorial"
    assert refusal("(" * 500 + "1" + ")" * 500, "1") is not None
    assert refusal("2^{2^{3}}", "256") is None
    assert refusal("\\left(3, \\frac{\\pi}{2}\\right)", "\\left( 3, \\frac{\\pi}{2} \\right)") is None
    result = grade_batch(["9^{9^{9^{9}}}", "256"], ["3", "2^{2^{3}}"])
    assert result.verdicts == [False, True] and result.stats.rejected == 1


def test_pool_kills_an_overrunning_worker_and_counts_it():
    pool.get_pool()  # started: the kill below replaces one of these workers
    kills_before = pool.get_pool().kills
    answers = ["(" * 400 + "1" + ")" * 400, "9^{9^{9^{9}}}", "0.5"]
    result = grade_batch(answers, ["3", "3", "\\frac{1}{2}"], timeout_s=0.5, screen=False)
    assert result.verdicts == [False, False, True]
    assert result.stats.timeouts >= 1
    assert result.stats.longest_item_s < 0.5 + 1.0  # the deadline, plus the parent's polling slack
    assert pool.get_pool().kills - kills_before == result.stats.kills
    assert grade(["0.5"], ["\\frac{1}{2}"]) == [True]  # the replacement worker serves the next batch


def test_pool_shutdown_and_lazy_restart():
    assert grade(["\\frac{2}{4}"], ["0.5"]) == [True]
    first = pool.get_pool()
    processes = [w.process for w in first._workers]
    pool.shutdown()
    assert len(processes) == first.size and all(p.poll() is not None for p in processes)  # all exited
    pool.shutdown()  # twice is fine
    assert grade(["\\frac{2}{4}"], ["0.5"]) == [True]
    assert pool.get_pool() is not first


def test_registry():
    from rewards.overlong import soft_overlong_punishment
    from rewards.spurious import random_reward

    assert REWARDS == {"accuracy": accuracy_reward, "format": format_reward,
                       "overlong": soft_overlong_punishment, "random": random_reward}
    with pytest.raises(ValueError, match="choose from accuracy, format, overlong, random"):
        get_reward("length")


def test_bad_completion_type_names_the_fix():
    with pytest.raises(TypeError, match="list of chat messages"):
        accuracy_reward([42], ["7"])
