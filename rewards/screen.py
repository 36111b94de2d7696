"""Answers refused before sympy sees them: hedges, and answers too costly to grade.

A final answer that offers alternatives ("1 or 2", ``1 \\lor 2``) scores 0 unless the gold itself does, or is a list
(then "-2 or 1" names its members, as MATH's own solutions do: ``$k = \\boxed{5}$ or $k = \\boxed{-3}$``):
math-verify would read "The answer is 1 or 2" as 1.

math-verify hands a parsed answer to sympy, and some answers make sympy compute for seconds or hang in C code
that no signal interrupts: power towers (``9^{9^{9^{9}}}`` has 10^(3.7e8) digits), iterated factorials
(``100!!!!!!``), hundreds of nested brackets, megabyte answers. The pool's hard deadline bounds each of them,
but a deadline is seconds of a worker per answer; a policy that discovers one of these shapes can produce it in a
whole batch. So each prediction is first measured here, in microseconds, and scores 0 (counted as
``rewards/rejected``) when it is structurally far beyond its gold: the limits scale with the gold's own shape, so
a gold that is itself a tower or a long matrix is still matched by an equal answer.

>>> refusal("2^{10}", "1024") is None
True
>>> refusal("The answer is 1 or 2", "1")
'alternative answers'
>>> refusal("x = -2 or x = 1", "-2, 1") is None
True
>>> refusal("9^{9^{9^{9}}}", "3")
'exponent tower of height 3'
>>> refusal("100!!!!!!", "3")
'repeated factorial'
>>> refusal("(" * 200 + "1" + ")" * 200, "1")
'brackets nested 200 deep'
"""

from __future__ import annotations

import math
import re

from rewards.extract import is_list

MAX_ANSWER_CHARS = 1000  # a MATH answer is rarely over 100 characters; a matrix answer a few hundred
MAX_DEPTH = 10  # bracket nesting ((), [], {}) beyond the gold's own depth + 3
MAX_TOWER = 2  # a^{b^{c}} is allowed; one more level is not (unless the gold has it)
MAX_EXPONENT_LOG10 = 5.0  # an exponent above 10^5: 3^{123456} has 58,000 digits, 2^{2^{30}} has 323 million

_OPEN, _CLOSE = "([{", ")]}"
_ALTERNATIVES = re.compile(r"(?<![\\\w])(?:or|either)\b|\\lor\b|\\vee\b", re.IGNORECASE)  # "1 or 2" hedges
_REPEATED_FACTORIAL = re.compile(r"!\s*!")
_BIG_FACTORIAL = re.compile(r"\d{5,}\s*!")  # 10000! has 35,660 digits; sympy still returns, slowly
_CHAIN = re.compile(r"(?:\^\s*\\?[\w.]+\s*){2,}")  # a^b^c written without braces


def bracket_depth(text: str) -> int:
    """The deepest bracket nesting.

    >>> bracket_depth(r"\\left(\\frac{1}{2}\\right)")
    2
    """
    depth = deepest = 0
    for ch in text:
        if ch in _OPEN:
            depth += 1
            deepest = max(deepest, depth)
        elif ch in _CLOSE and depth:
            depth -= 1
    return deepest


def tower_height(text: str) -> int:
    """How many exponents are stacked: 1 for ``x^2``, 2 for ``2^{2^{3}}``, 3 for ``9^9^9^9``.

    >>> tower_height("x^2 + y^2"), tower_height("2^{2^{3}}"), tower_height("9^9^9^9"), tower_height("2^{2^{2^{2^{2^{30}}}}}")
    (1, 2, 3, 5)
    """
    stack: list[int] = []  # for each open brace: the exponent level inside it
    level = height = 0
    pending_exponent = False  # the next "{" opens an exponent group
    for ch in text:
        if ch == "^":
            height = max(height, level + 1)
            pending_exponent = True
        elif ch == "{":
            stack.append(level)
            if pending_exponent:
                level += 1
            pending_exponent = False
        elif ch == "}":
            level = stack.pop() if stack else 0
        elif not ch.isspace():
            pending_exponent = False
    for chain in _CHAIN.finditer(text):
        height = max(height, chain.group().count("^"))
    return height


def exponents(text: str) -> list[str]:
    """The text of every exponent: the braced group after ``^``, or the single token after it.

    >>> exponents("2^{2^{10}} + x^3")
    ['2^{10}', '10', '3']
    """
    found = []
    for m in re.finditer(r"\^\s*", text):
        i = m.end()
        if i < len(text) and text[i] == "{":
            depth = 0
            for j in range(i, len(text)):
                depth += {"{": 1, "}": -1}.get(text[j], 0)
                if depth == 0:
                    found.append(text[i + 1 : j])
                    break
        else:
            token = re.match(r"\\?[\w.]+", text[i:])
            if token:
                found.append(token.group())
    return found


def exponent_log10(exponent: str) -> float:
    """A rough log10 of an exponent's value, from its integer literals: ``10^{10}`` gives 10, ``123456`` about 5.1,
    ``20!`` about 18.4; 0 when it holds no number. Enough to tell 2^{10} from 2^{2^{30}}.

    >>> round(exponent_log10("10^{10}")), round(exponent_log10("123456"), 1), round(exponent_log10("x+1"))
    (10, 5.1, 0)
    """
    power = re.search(r"(\d+)\s*\)?\s*\^\s*\{?\s*(\d+)", exponent)
    if power:
        base, exp = power.groups()
        return min(len(exp), 12) * 10.0 if len(exp) > 6 else int(exp) * math.log10(max(2, int(base[:30])))
    factorial = re.search(r"(\d+)\s*!", exponent)
    if factorial:
        n = int(factorial.group(1)[:6])
        return math.lgamma(n + 1) / math.log(10)
    numbers = [d.lstrip("0") for d in re.findall(r"\d+", exponent)]
    return max((math.log10(int(d)) if len(d) <= 15 else len(d) - 1.0 for d in numbers if d), default=0.0)


def refusal(prediction: str, gold: str) -> str | None:
    """Why this prediction is refused without grading, or None when it may be graded.

    >>> refusal("x" * 5000, "7")
    'answer of 5000 characters'
    >>> refusal("2^{2^{2^{2}}}", "2^{2^{2^{2}}}") is None  # as deep as the gold: graded
    True
    """
    if _ALTERNATIVES.search(prediction) and not (_ALTERNATIVES.search(gold) or is_list(gold)):
        return "alternative answers"
    if len(prediction) > max(MAX_ANSWER_CHARS, 4 * len(gold)):
        return f"answer of {len(prediction)} characters"
    depth = bracket_depth(prediction)
    if depth > max(MAX_DEPTH, bracket_depth(gold) + 3):
        return f"brackets nested {depth} deep"
    height = tower_height(prediction)
    if height > max(MAX_TOWER, tower_height(gold)):
        return f"exponent tower of height {height}"
    if _REPEATED_FACTORIAL.search(prediction) and not _REPEATED_FACTORIAL.search(gold):
        return "repeated factorial"
    if _BIG_FACTORIAL.search(prediction) and not _BIG_FACTORIAL.search(gold):
        return "factorial of a 5-digit number"
    largest = max(map(exponent_log10, exponents(prediction)), default=0.0)
    if largest > max([MAX_EXPONENT_LOG10, *map(exponent_log10, exponents(gold))]):
        return f"exponent of about 10^{largest:.0f}"
    return None
