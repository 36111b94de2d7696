"""Fuzz test: pathological and malformed completions score without a crash or a hang, each within its deadline.

More than 200 generated completions (power towers, deep nesting, iterated factorials, huge exponents and literals,
megabyte strings, invalid UTF-8 turned into replacement characters, unbalanced braces and tags, empty strings),
in both answer regions, plus malformed golds. Run: ``python -m pytest tests/test_rewards_fuzz.py -q`` (about
10-20 s on 2 cores).
"""

from __future__ import annotations

import random

from rewards import accuracy_reward, format_reward, grade_batch, last_stats

GOLD = "\\frac{355}{113}"  # no generated answer is equal to it
TIMEOUT_S = 1.0
SLACK_S = 1.0  # the parent notices an overrun on its next poll; generous, the machine is shared


def pathological_answers(rng: random.Random) -> list[str]:
    answers = []
    for _ in range(20):
        depth, base = rng.randint(3, 7), rng.randint(2, 99)
        answers.append(f"{base}^{{" * depth + str(rng.randint(2, 99)) + "}" * depth)
        answers.append("^".join(str(rng.randint(2, 9)) for _ in range(depth + 1)))  # 9^9^9^9, no braces
        n = rng.choice([50, 200, 500, 2000])
        answers.append("(" * n + "1" + ")" * n)
        answers.append("\\frac{1}{" * (n // 10) + "2" + "}" * (n // 10))
        answers.append(f"{rng.randint(10, 100_000)}" + "!" * rng.randint(1, 8))
        answers.append(f"{rng.randint(2, 9)}^{{{rng.randint(10**6, 10**12)}}}")
        answers.append(f"({rng.randint(2, 9)})!^{{10^{{{rng.randint(6, 30)}}}}}")
        answers.append(str(rng.randint(1, 9)) * rng.choice([30, 500, 5000]))
        raw = bytes(rng.randrange(256) for _ in range(rng.randint(1, 300)))
        answers.append(raw.decode("utf-8", errors="replace"))
        answers.append(rng.choice(["{", "}", "\\boxed{", "\\left(", "^{", "\\frac{"]) * rng.randint(1, 300))
    answers += ["", " ", "\n", "\ufffd" * 1000, "{}", "\\boxed{}", "$$", "\\", "}{", "\\text{", "0/0", "1/0", "oo"]
    answers += ["1" * 1_000_000, "{" * 1_000_000, "\ufffd" * 1_000_000]  # megabyte strings
    return answers


def completions_for(answer: str, rng: random.Random) -> list[str]:
    return [
        f"<think> {rng.choice(['ok', answer[:200]])} </think> <answer> {answer} </answer>",
        f"The answer is $\\boxed{{{answer}}}$.",
        answer,  # raw, no template at all
    ]


def test_fuzz_completions_score_zero_within_the_deadline():
    rng = random.Random(0)
    answers = pathological_answers(rng)
    completions = [c for a in answers for c in completions_for(a, rng)]
    assert len(completions) >= 200
    for region in ("answer_tag", "boxed"):
        scores = accuracy_reward(completions, [GOLD] * len(completions), answer_region=region, timeout_s=TIMEOUT_S)
        assert scores == [0.0] * len(completions)
        stats = last_stats()
        assert stats.longest_item_s < TIMEOUT_S + SLACK_S
        assert stats.gold_unparseable == 0


def test_fuzz_format_reward_never_crashes():
    rng = random.Random(1)
    completions = [c for a in pathological_answers(rng) for c in completions_for(a, rng)]
    for region in ("answer_tag", "boxed"):
        for prefilled in (False, True):
            scores = format_reward(completions, answer_region=region, think_prefilled=prefilled)
            assert len(scores) == len(completions) and set(scores) <= {0.0, 1.0}


def test_fuzz_golds_are_none_or_graded_within_the_deadline():
    rng = random.Random(2)
    golds = pathological_answers(rng)[:30] + ["", "\\", "}{", "\\text{}"]
    result = grade_batch(["3"] * len(golds), golds, timeout_s=TIMEOUT_S)
    assert len(result.verdicts) == len(golds) and set(result.verdicts) <= {True, False, None}
    assert result.verdicts[-4:] == [None] * 4  # empty or structural-only golds cannot be parsed
    assert result.stats.gold_unparseable >= 4
    assert result.stats.longest_item_s < TIMEOUT_S + SLACK_S
