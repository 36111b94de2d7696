"""The tiny world's cold-start traces: pretraining, scaled down, planting behaviours that RL can select.

As Understand-R1-Zero (Liu et al. 2025) found reflection already present in base models, the behaviours are put
there before RL; RL only chooses among them. Three kinds of trace (`MODES`, mixed by `cold_start_mix`, by default
60 / 25 / 15 %):
- direct: the problem and a one-shot answer. The model can only guess these (about chance);
- stepwise: the running partial results written in a hurry: a fixed share of the single-step facts
  (`MISREMEMBERED`) is always written with the same wrong digit, carried on to the end, so about 0.4 of them end
  right. The errors are confident and repeatable, like a base model's wrong recall: sampling the same habit again
  does not fix them, which is what leaves checking something to win;
- reflective: a one-shot guess, right `GUESS_RIGHT` of the time, then "wait , let me check :", the careful running
  partial results, and ", not 7" when the guess was wrong (a real error that the check catches) or ", yes" when it
  was right. The check works every fact out correctly.
RL's reward only checks the final answer and the tags, so longer, reflective completions win only because they are
right more often; the random-reward control (configs/tiny_random.yaml) shows what happens without that.
"""

from __future__ import annotations

import random
import re

from zero.tiny.task import MODULUS, _parse, apply, partial_results

MODES = ("direct", "stepwise", "reflective")  # the kinds of trace, in `cold_start_mix` order
MISREMEMBERED = 0.3  # share of the (value, operation) facts that stepwise traces always get wrong
GUESS_RIGHT = 0.3  # share of reflective traces whose one-shot guess is already right


def check_mix(mix: list[float]) -> list[float]:
    """`mix` (the share of each of `MODES`) if it is one, else a ValueError that says what one is."""
    if len(mix) != len(MODES) or any(not share >= 0 for share in mix) or abs(sum(mix) - 1) > 1e-6:
        raise ValueError(f"cold_start_mix must be {len(MODES)} shares >= 0 that sum to 1 ({' / '.join(MODES)}), "
                         f"got {mix}")
    return list(mix)


def _steps(start: int, ops: list[str], values: list[int]) -> str:
    """Running partial results: "3 + 2 = 5 * 4 = 0 + 1 = 1 * 3 = 3"."""
    return " ".join([str(start), *(f"{op[0]} {op[1:]} = {v}" for op, v in zip(ops, values))])


def misremembered(value: int, op: str) -> int:
    """The result of `value` then `op` as a stepwise trace writes it: right, except for a fixed `MISREMEMBERED`
    share of the facts, each always given the same wrong digit.

    >>> apply(5, "*4"), misremembered(5, "*4"), misremembered(5, "*4"), misremembered(3, "+2")
    (0, 4, 4, 5)
    """
    fact = random.Random(f"{value}{op}")  # a str seed is hashed with SHA-512: the same on every machine
    right = apply(value, op)
    return _other_digit(right, fact) if fact.random() < MISREMEMBERED else right


def _other_digit(value: int, rng: random.Random) -> int:
    return rng.choice([d for d in range(MODULUS) if d != value])


def cold_start_trace(problem: str, mode: str, rng: random.Random) -> str:
    """An R1-format trace of `problem` of kind `mode` (`MODES`; see the module docstring).

    >>> rng = random.Random(0)
    >>> cold_start_trace("3 + 2 * 4 + 1 * 3", "direct", rng)
    '<think> 3 + 2 * 4 + 1 * 3 = 3 </think> <answer> 3 </answer>'
    >>> cold_start_trace("3 + 2 * 4 + 1 * 3", "stepwise", rng)  # 5 * 4 misremembered, carried to the end
    '<think> 3 + 2 = 5 * 4 = 4 + 1 = 5 * 3 = 5 </think> <answer> 5 </answer>'
    >>> cold_start_trace("3 + 2 * 4 + 1 * 3", "reflective", rng)  # a wrong guess, caught by the check
    '<think> 3 + 2 * 4 + 1 * 3 = 7 wait , let me check : 3 + 2 = 5 * 4 = 0 + 1 = 1 * 3 = 3 , not 7 </think> <answer> 3 </answer>'
    """
    start, ops = _parse(problem)
    values = partial_results(start, ops)
    answer = values[-1]
    if mode == "direct":  # a one-shot answer: right, but the model cannot compute it in one pass
        think = f"{problem} = {answer}"
    elif mode == "stepwise":
        values = partial_results(start, ops, misremembered)  # a wrong fact, and the rest follows from it
        answer = values[-1]
        think = _steps(start, ops, values)
    elif mode == "reflective":
        guess = answer if rng.random() < GUESS_RIGHT else _other_digit(answer, rng)
        verdict = ", yes" if guess == answer else f", not {guess}"
        think = f"{problem} = {guess} wait , let me check : {_steps(start, ops, values)} {verdict}"
    else:
        raise ValueError(f"unknown cold-start trace mode {mode!r}: choose one of {', '.join(MODES)}")
    return f"<think> {think} </think> <answer> {answer} </answer>"


def cold_start_traces(problems: list[dict[str, str]], mix: list[float], seed: int) -> list[dict[str, str]]:
    """{problem, completion, mode} rows for the cold-start SFT, one per problem, kinds drawn by `mix`."""
    weights = check_mix(mix)
    rng = random.Random(seed + 1)
    rows = []
    for p in problems:
        mode = rng.choices(MODES, weights)[0]
        rows.append({"problem": p["problem"], "completion": cold_start_trace(p["problem"], mode, rng), "mode": mode})
    return rows


def trace_kind(completion: str) -> str:
    """Which of `MODES` a completion follows, read from its shape: a check ("wait") is reflective, running partial
    results ("= 5 * 4") stepwise, anything else direct.

    >>> [trace_kind(cold_start_trace("3 + 2 * 4 + 1 * 3", m, random.Random(0))) for m in MODES] == list(MODES)
    True
    """
    if "wait" in completion:
        return "reflective"
    return "stepwise" if re.search(r"= \d+ [+*]", completion) else "direct"

