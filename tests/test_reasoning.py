"""Reasoning telemetry against hand-written completions: reflection counting, regions, the aha finder, step metrics.

Run: python -m pytest tests/test_reasoning.py -q
"""

from __future__ import annotations

import json
import math
import re

import pytest

from zero.telemetry import reasoning
from zero.telemetry.reasoning import annotate, find_reflections, find_self_correction, normalize_answer, step_metrics


def _answer_tag(text: str, region: str) -> str | None:
    """Test stand-in for rewards.extract_answer (answer_tag only): the last <answer>...</answer>."""
    found = re.findall(r"<answer>(.*?)</answer>", text, re.S)
    return found[-1].strip() if found else None


@pytest.mark.parametrize(
    "text, words",
    [
        ("Waiting for the bus, she awaits.", []),
        ("Wait, 2 + 2 = 4.", ["wait"]),
        ("so 12.\nWait, no.\nwait... WAIT!", ["wait", "wait", "wait"]),
        ("But wait, hmm.", ["but wait", "hmm"]),  # the longer phrase wins: "but wait" counts once
        ("Let's re-evaluate. Reevaluate. re evaluate", ["re-evaluate"] * 3),
        ("I should recheck, then re-check.", ["re-check", "re-check"]),
        ("Let\u2019s verify. let's   verify", ["let's verify", "let's verify"]),
        ("let me\ncheck", ["let me check"]),
        ("a wait-list, unwait, waits, hmmm", []),
        ("However, alternatively: double check, double-check.", ["however", "alternatively", *["double-check"] * 2]),
        ("", []),
    ],
)
def test_find_reflections(text, words):
    assert [word for _, word in find_reflections(text)] == words


def test_find_reflections_offsets_point_at_the_word():
    text = "x = 3.\nWait, x = 4."
    assert find_reflections(text) == [(7, "wait")]
    assert text[7:11] == "Wait"


def test_custom_lexicon_replaces_the_default():
    assert find_reflections("Oops. Wait. OOPS", ["oops"]) == [(0, "oops"), (12, "oops")]
    assert find_reflections("wait", []) == []


@pytest.mark.parametrize("bad, error", [("wait", TypeError), (["wait", ""], ValueError), (["a,b"], ValueError)])
def test_bad_lexicon_raises(bad, error):
    with pytest.raises(error):
        find_reflections("wait", bad)


@pytest.mark.parametrize(
    "text, region, reasoning_part",
    [
        ("<think>a</think> <answer>b</answer>", "answer_tag", "<think>a"),
        ("<think>a</think><think>b</think> <answer>c</answer>", "answer_tag", "<think>a</think><think>b"),
        ("thinking <answer>4</answer>", "answer_tag", "thinking "),
        ("so \\boxed{3}, no, \\boxed{4}", "boxed", "so \\boxed{3}, no, "),
        ("<think>so</think> it is \\boxed{4}", "boxed", "<think>so"),
        ("no tags at all", "answer_tag", "no tags at all"),
    ],
)
def test_answer_start(text, region, reasoning_part):
    assert text[: reasoning.answer_start(text, region)] == reasoning_part


def test_answer_start_rejects_unknown_region():
    with pytest.raises(ValueError, match="answer_tag, boxed"):
        reasoning.answer_start("x", "last_line")


@pytest.mark.parametrize(
    "reasoning_text, values",
    [
        ("3 + 4 = 7.", ["7"]),
        ("3 + 4 = 7 + 1 = 8", ["8"]),  # "= 7 + 1" is not a result
        ("so the answer is 1,200 dollars", ["1,200"]),
        ("Answer: -3/4", ["-3/4"]),
        ("\\boxed{\\frac{1}{2}} and \\boxed{x^{2}}", ["\\frac{1}{2}", "x^{2}"]),
        ("x <= 5 and y >= 2, a == 3", []),
        ("no numbers here", []),
    ],
)
def test_stated_answers(reasoning_text, values):
    assert [v for _, v in reasoning.stated_answers(reasoning_text)] == values


@pytest.mark.parametrize(
    "a, b, same",
    [("12", "12.0", True), ("$1,000$", "1000", True), ("\\frac{3}{4}", "0.75", True), ("12", "13", False),
     ("x + 1", "X+1", True), ("x + 1", "y + 1", False), ("12 cm", "12", True), ("1/0", "1/0", True)],
)
def test_normalize_answer(a, b, same):
    assert (normalize_answer(a) == normalize_answer(b)) is same


def _sc(text: str, final: str | None = None, region: str = "answer_tag"):
    final = _answer_tag(text, region) if final is None else final
    return find_self_correction(text, final, reasoning.answer_start(text, region), find_reflections(text))


@pytest.mark.parametrize(
    "text",
    [
        "<think>6 * 7 = 42. Wait, I misread: it is 6 * 8 = 48</think> <answer>48</answer>",
        "<think>So the answer is 10. Hmm, let me recheck the units: 100 cm, so 1</think> <answer>1</answer>",
        "<think>\\boxed{5}? But wait, the second term is negative: 3</think><answer>3</answer>",
        "<think>total = 1,200\nwait\nI double counted; total = 600</think><answer>600</answer>",
    ],
)
def test_self_correction_found(text):
    found = _sc(text)
    assert found is not None
    assert text[found.offset :].lower().startswith(found.word.split()[0])
    assert normalize_answer(found.stated) != normalize_answer(found.final)
    assert found.stated in found.context and found.context in text


@pytest.mark.parametrize(
    "text",
    [
        "<think>6 * 8 = 48.</think> <answer>48</answer>",  # no reflection
        "<think>6 * 8 = 48. Wait, let me check: yes.</think> <answer>48</answer>",  # same answer
        "<think>Hmm. Let me think: 6 * 8 = 48</think> <answer>48</answer>",  # reflection before any answer
        "<think>x = 5. Wait, verify: 2 + 3 = 5, so y = 7</think> <answer>7</answer>",  # 5 restated: a check
        "<think>6 * 8 = 48.</think> <answer>48, wait, 49</answer>",  # reflection only in the answer
        "<think>x = 5. However the question asks for x + 2</think>",  # no final answer
    ],
)
def test_self_correction_not_found(text):
    cols = annotate([text], [True], [True], [30], "answer_tag", extract_answer=_answer_tag)
    assert cols["self_correction"] == [False]


def test_annotate_columns():
    completions = [
        "<think>3 + 4 = 8. Wait, 3 + 4 = 7</think> <answer>7</answer>",  # self-correction
        "<think>3 + 4 = 8. Wait, 3 + 4 = 7</think> <answer>7</answer>",  # same text, graded wrong: not one
        "<think>Hmm, 7</think> <answer>7. Wait, yes: double-check done</answer>",
        "<think>waiting</think>",
    ]
    cols = annotate(completions, [True, False, True, None], [True, True, True, False], [20, 20, 15, 4], "answer_tag",
                    extract_answer=_answer_tag)
    assert cols["reflection_count"] == [1, 1, 3, 0]
    assert cols["reflection_words"] == ["wait", "wait", "hmm,wait,double-check", ""]
    assert cols["reflection_in_think"] == [1, 1, 1, 0]
    assert cols["reflection_in_answer"] == [0, 0, 2, 0]
    assert cols["self_correction"] == [True, False, False, False]
    assert cols["self_correction_context"][0] == completions[0]  # short text: all of it is context
    assert cols["self_correction_context"][1:] == ["", "", ""]
    assert cols["is_correct"] == [True, False, True, None]
    json.dumps(cols)  # JSON-friendly as log_extra needs


def test_annotate_rejects_misaligned_columns():
    with pytest.raises(ValueError, match="one value per completion"):
        annotate(["a", "b"], [True], [True, True], [1, 1], "answer_tag", extract_answer=_answer_tag)


def test_annotate_with_the_real_extractor():
    text = "<think>\\boxed{5}. Wait, the sign flips: 3</think> so \\boxed{3}"
    cols = annotate([text], [True], [True], [20], "boxed")
    assert cols["self_correction"] == [True]


def test_step_metrics_hand_computed():
    cols = {
        "prompt_id": ["a", "a", "b", "b"],
        "completion_tokens": [10, 20, 30, 100],
        "truncated": [False, False, False, True],
        "is_correct": [True, False, None, False],
        "reflection_count": [2, 0, 1, 0],
        "reflection_in_think": [1, 0, 1, 0],
        "self_correction": [True, False, False, False],
    }
    m = step_metrics(cols)
    assert m == pytest.approx(
        {
            "reasoning/length/mean": 40.0,
            "reasoning/length/median": 25.0,
            "reasoning/length/p90": 79.0,  # 30 + 0.7 * (100 - 30), numpy's linear interpolation
            "reasoning/length/max": 100.0,
            "reasoning/length/correct_mean": 10.0,
            "reasoning/length/incorrect_mean": 60.0,
            "reasoning/truncated_share": 0.25,
            "reasoning/reflection/count_mean": 0.75,
            "reasoning/reflection/rate_per_1k_tokens": 1000 * 3 / 160,
            "reasoning/reflection/share": 0.5,
            "reasoning/reflection/accuracy_with": 1.0,  # the None-graded one is left out
            "reasoning/reflection/accuracy_without": 0.0,
            "reasoning/reflection/think_fraction": 2 / 3,
            "reasoning/self_corrections": 1.0,
            "reasoning/prompts/solved_share": 0.5,
        }
    )


def test_step_metrics_omits_undefined_instead_of_nan():
    m = step_metrics(
        {"prompt_id": ["a"], "completion_tokens": [0], "truncated": [False], "is_correct": [float("nan")],
         "reflection_count": [0]}
    )
    assert not any(math.isnan(v) for v in m.values())
    for key in ("reasoning/length/correct_mean", "reasoning/reflection/accuracy_with",
                "reasoning/reflection/accuracy_without", "reasoning/reflection/rate_per_1k_tokens"):
        assert key not in m
    assert step_metrics({k: [] for k in reasoning.STEP_METRIC_INPUTS}) == {}


def test_step_metrics_names_missing_columns():
    with pytest.raises(KeyError, match="truncated"):
        step_metrics({"prompt_id": [], "completion_tokens": [], "is_correct": [], "reflection_count": []})


def test_highlight_reflections_styles():
    assert reasoning.highlight_reflections("<b>Wait</b>") == "&lt;b&gt;<mark>Wait</mark>&lt;/b&gt;"
    assert reasoning.highlight_reflections("but wait", style="ansi") == "\033[1;33mbut wait\033[0m"
    with pytest.raises(ValueError, match="markdown"):
        reasoning.highlight_reflections("x", style="latex")


def test_a_conversational_completion_is_one_text_for_the_reward_and_the_telemetry():
    """TRL's tool loop puts tool results between the assistant turns of a completion (grpo_trainer
    `_tool_call_loop`). A tool result is not the model's answer: the reward grades the assistant turns only, and the
    rollout columns must describe that same text, not the tool's "Wait" or its answer."""
    import rewards
    from rewards.text import completion_text
    from zero.telemetry.reward_suite import RewardSuite

    completion = [
        {"role": "assistant", "content": "<think> 2 + 2 = 4 </think> <answer> 4 </answer>"},
        {"role": "tool", "content": "Wait, the calculator says <answer> 5 </answer>"},
    ]
    assert completion_text(completion) == completion[0]["content"]
    direct = rewards.accuracy_reward([completion], ["4"])
    assert direct == [1.0]

    extra = {}
    suite = RewardSuite(["accuracy", "format"], None, "answer_tag", [0])
    scores = [fn([completion], solution=["4"], completion_ids=[[7, 0]], log_extra=extra.__setitem__)
              for fn in suite.reward_funcs]
    assert scores[0] == direct
    assert scores[1] == rewards.format_reward([completion_text(completion)])
    text = completion_text(completion)
    assert extra["is_correct"] == [True]
    assert extra["reflection_count"] == [len(reasoning.find_reflections(text))] == [0]
