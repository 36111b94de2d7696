"""Countdown's reward, written as any user's reward is: a function of the completions and the dataset's own
columns (`nums`, `target`), named in a recipe as ``examples/countdown/reward.py:countdown_reward``.

1.0 when the equation in the single ``<answer> ... </answer>`` uses every number of `nums` exactly once, only
+ - * / and parentheses, and equals `target`; 0.0 otherwise. (TinyZero gives 0.1 for a well-formatted wrong
equation; here the `format` reward does that job, weighted in the recipe.)

>>> countdown_reward(["<think> 3 * 4 </think> <answer> (5 - 2) * 4 </answer>", "<answer> 5 * 4 </answer>"],
...                  nums=[[5, 2, 4], [5, 2, 4]], target=[12, 12])
[1.0, 0.0]
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from fractions import Fraction

ANSWER = re.compile(r"<answer>(.*?)</answer>", re.S)
_OPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
        ast.Div: lambda a, b: a / b}


def _value(node: ast.AST, used: list[int]) -> Fraction:
    """The exact value of an arithmetic expression tree, collecting its numbers; ValueError on anything else."""
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_value(node.left, used), _value(node.right, used))  # / by 0: ZeroDivisionError
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        used.append(node.value)
        return Fraction(node.value)
    raise ValueError("not + - * / on whole numbers")


def equation_value(equation: str, nums: list[int]) -> Fraction | None:
    """The equation's value if it uses exactly the numbers `nums`; None otherwise (or when it is not arithmetic)."""
    if len(equation) > 200:  # a 4-number equation is short; a long one is not worth parsing
        return None
    try:
        used: list[int] = []
        value = _value(ast.parse(equation.strip(), mode="eval").body, used)
    except (SyntaxError, ValueError, ZeroDivisionError):
        return None
    return value if Counter(used) == Counter(nums) else None


def countdown_reward(completions: list[str], nums: list[list[int]], target: list[int], **kwargs) -> list[float]:
    """1.0 where the answer's equation makes `target` from `nums`, else 0.0 (module docstring)."""
    scores = []
    for text, numbers, goal in zip(completions, nums, target):
        answers = ANSWER.findall(text)
        value = equation_value(answers[0], list(numbers)) if len(answers) == 1 else None
        scores.append(1.0 if value is not None and value == goal else 0.0)
    return scores
