"""The tiny world's task (`builtin:arithmetic`): a chain on a ten-hour clock.

A start digit and four distinct operations, each "+d" (d in 1..max_operand) or "*d" (d in 2..max_operand), applied
left to right mod 10: "3 + 2 * 4 + 1 * 3" is ((3 + 2) * 4 + 1) * 3 mod 10 = 3. The gold answer (one digit) is drawn
uniformly first, so no constant answer beats 0.1. The space (10 starts x 3024 ordered choices of 4 of 9 operations at
max_operand 5) is far too large for the model to memorise, and the 2-layer model cannot compose four lookups in one
forward pass, but it can do one lookup per step: written as running partial results
("3 + 2 = 5 * 4 = 0 + 1 = 1 * 3 = 3") every step reads the previous result, one operation and one operand at fixed
offsets. Thinking longer is the only way to be right more often than chance.
"""

from __future__ import annotations

import random
from collections.abc import Callable

MODULUS = 10  # a ten-hour clock: every value, and so every answer, is one digit
CHAIN_LENGTH = 4  # operations per problem


def operations(max_operand: int) -> list[str]:
    """The operations a chain draws from: "+1".."+N", then "*2".."*N".

    >>> operations(3)
    ['+1', '+2', '+3', '*2', '*3']
    """
    ops = [f"+{d}" for d in range(1, max_operand + 1)] + [f"*{d}" for d in range(2, max_operand + 1)]
    if len(ops) < CHAIN_LENGTH:
        raise ValueError(f"builtin:arithmetic needs tiny_max_operand >= 3 (it draws {CHAIN_LENGTH} distinct "
                         f"operations), got {max_operand}")
    return ops


def apply(value: int, op: str) -> int:
    """One step on the clock: `value` then `op` ("+d" or "*d"), mod 10."""
    d = int(op[1:])
    return (value + d if op[0] == "+" else value * d) % MODULUS


def partial_results(start: int, ops: list[str], step: Callable[[int, str], int] = apply) -> list[int]:
    """The running results of a chain, one per operation, each from the one before by `step`; the last is its value."""
    values, value = [], start
    for op in ops:
        value = step(value, op)
        values.append(value)
    return values


def _text(start: int, ops: list[str]) -> str:
    return " ".join([str(start), *(f"{op[0]} {op[1:]}" for op in ops)])


def _parse(problem: str) -> tuple[int, list[str]]:
    words = problem.split()
    if len(words) < 3 or len(words) % 2 == 0 or any(w not in "+*" for w in words[1::2]):
        raise ValueError(f"not a builtin:arithmetic problem: {problem!r}")
    return int(words[0]), [a + b for a, b in zip(words[1::2], words[2::2])]


def arithmetic_problems(num_problems: int, max_operand: int, seed: int) -> list[dict[str, str]]:
    """`num_problems` rows of {problem, answer, prompt_id}: a start digit and four distinct operations on a
    ten-hour clock, applied left to right (see the module docstring).

    The answer is drawn uniformly from 0..9 first, then a chain with that value (rejection sampling): "*2", "*4"
    and "*5" make even answers and 0 commoner among uniform chains, and a policy would learn that skew instead of
    the arithmetic.

    >>> [(p["problem"], p["answer"]) for p in arithmetic_problems(3, 5, seed=0)]
    [('5 * 3 + 1 * 4 + 2', '6'), ('7 + 3 + 4 * 3 + 1', '3'), ('9 + 3 + 5 + 4 * 2', '2')]
    """
    if num_problems < 1:
        raise ValueError("builtin:arithmetic needs tiny_num_problems >= 1")
    ops = operations(max_operand)
    rng = random.Random(seed)
    rows = []
    for _ in range(num_problems):
        answer = rng.randrange(MODULUS)
        while True:
            start, chain = rng.randrange(MODULUS), rng.sample(ops, CHAIN_LENGTH)
            if partial_results(start, chain)[-1] == answer:
                break
        problem = _text(start, chain)
        rows.append({"problem": problem, "answer": str(answer), "prompt_id": problem.replace(" ", "")})
    return rows

