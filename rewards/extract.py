"""Where the final answer is read, and the cheap string-level comparison that skips sympy.

The reward grades only the *final answer region* of a completion, never the reasoning:

- ``answer_region="answer_tag"`` (the ``r1_zero`` template): the text inside the single ``<answer>...</answer>``
  that follows the last ``</think>``. A ``\\boxed{}`` inside the answer tag is read as the answer.
- ``answer_region="boxed"`` (boxed templates): the content of the last ``\\boxed{}`` after the last ``</think>``
  (the whole completion when there are no think tags).

Reward-hacking guards live here, so that every consumer of the answer (reward, telemetry, eval) sees the same
string: an answer that exists only inside an unclosed ``<think>`` is no answer; two ``<answer>`` blocks are no
answer; several boxes with different contents are no answer (a model must not hedge ``\\boxed{1} ... \\boxed{2}``).
Boxes that restate the same value, and empty boxes copied from the problem (``\\boxed{\\phantom{2}}``), are fine.

>>> extract_answer("<think> 3 + 4 = 7 </think> <answer> 7 </answer>")
'7'
>>> extract_answer("<think> it is <answer>7</answer> </think> no answer here") is None
True
>>> extract_answer(r"so \\boxed{1} ... no wait, \\boxed{2}", "boxed") is None
True
>>> extract_answer(r"We get $x = \\boxed{\\frac{1}{2}}$.", "boxed")
'\\\\frac{1}{2}'
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

ANSWER_REGIONS = ("answer_tag", "boxed")

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"

_BOX_START = re.compile(r"\\(?:boxed|fbox)\s*\{")
_BRACE = re.compile(r"\\[{}]|[{}]")


def check_region(answer_region: str) -> str:
    """`answer_region` itself, or a `ValueError` naming the valid ones."""
    if answer_region not in ANSWER_REGIONS:
        raise ValueError(f"unknown answer_region {answer_region!r}: choose one of {', '.join(ANSWER_REGIONS)}")
    return answer_region


def after_think(text: str) -> str | None:
    """The text after the last ``</think>``; the whole text if there are no think tags; None if a ``<think>`` was
    opened and never closed (everything is still reasoning).

    >>> after_think("<think> a </think> b")
    ' b'
    >>> after_think("<think> still thinking") is None
    True
    """
    close = text.rfind(THINK_CLOSE)
    if close >= 0:
        return text[close + len(THINK_CLOSE) :]
    return None if THINK_OPEN in text else text


def boxes(text: str) -> list[tuple[int, int, str]]:
    """Every balanced ``\\boxed{...}`` (or ``\\fbox{...}``) as (start, end, content), in order; an unclosed box is
    skipped. One pass over the braces, so a megabyte of unbalanced braces costs linear time.

    >>> [c for _, _, c in boxes(r"\\boxed{\\frac{1}{2}} and \\fbox{3} and \\boxed{4")]
    ['\\\\frac{1}{2}', '3']
    """
    starts = {m.end() - 1: m.start() for m in _BOX_START.finditer(text)}  # position of "{" -> start of "\boxed"
    if not starts:
        return []
    found, stack = [], []
    for m in _BRACE.finditer(text):
        token = m.group()
        if token == "{":
            stack.append(m.start())
        elif token == "}" and stack:
            open_at = stack.pop()
            if open_at in starts:
                found.append((starts[open_at], m.end(), text[open_at + 1 : m.start()]))
    return sorted(found)


def _final_box(text: str) -> str | None:
    """The content of the last box, or None when there is none or the non-empty boxes disagree."""
    contents = [c for _, _, c in boxes(text)]
    distinct = {normalize(c) for c in contents} - {""}
    if len(distinct) != 1:
        return None
    last = [c for c in contents if normalize(c)][-1]
    return last.strip()


def extract_answer(text: str, answer_region: str = "answer_tag") -> str | None:
    """The final answer string that the reward grades, or None when there is none (or more than one).

    >>> extract_answer("<think> x </think> <answer> \\\\boxed{5} </answer>")
    '5'
    >>> extract_answer("<think> x </think> <answer>1</answer><answer>2</answer>") is None
    True
    >>> extract_answer(r"<think> \\boxed{1} </think> The answer is \\boxed{2}.", "boxed")
    '2'
    """
    check_region(answer_region)
    region = after_think(text)
    if region is None:
        return None
    if answer_region == "boxed":
        return _final_box(region)
    if region.count(ANSWER_OPEN) != 1 or region.count(ANSWER_CLOSE) != 1:
        return None
    start = region.index(ANSWER_OPEN) + len(ANSWER_OPEN)
    end = region.index(ANSWER_CLOSE)
    if end < start:
        return None
    content = region[start:end]
    if _BOX_START.search(content):
        return _final_box(content)
    content = content.strip()
    return content or None


def gold_answer(solution: str) -> str:
    """The gold answer inside a dataset's solution field: the last ``\\boxed{}`` of a worked solution (MATH), the
    text after ``####`` (GSM8K), else the whole field.

    >>> gold_answer("so the answer is $\\\\boxed{\\\\frac{1}{2}}$.")
    '\\\\frac{1}{2}'
    >>> gold_answer("3 + 4 = 7\\n#### 7")
    '7'
    >>> gold_answer(" 18 ")
    '18'
    """
    if "\\boxed" in solution or "\\fbox" in solution:
        found = boxes(solution)
        if found:
            return found[-1][2].strip()
    if "####" in solution:
        return solution.rsplit("####", 1)[1].strip()
    return solution.strip()


# Conservative rewrites that math-verify's own normalisation also performs, so equality after them never claims a
# match that math-verify would refuse. Anything subtler goes to sympy.
MAX_NORMALIZED_CHARS = 4096
_SPACING = re.compile(r"\\[,;:! ]|\\q?quad\b|~|\\left\b|\\right\b|\\displaystyle\b|\s+")
_PHANTOM = re.compile(r"\\phantom\{[^{}]*\}")
_WRAPPERS = (("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)")


def normalize(answer: str) -> str:
    """The answer with math delimiters, spacing commands, ``\\left``/``\\right``, ``\\dfrac`` and a trailing full
    stop removed; the key for exact matches and for deduplication.

    >>> normalize(r" $\\dfrac{1}{ 2}$. ")
    '\\\\frac{1}{2}'
    >>> normalize(r"3,\\!250")
    '3,250'
    >>> normalize(r"\\phantom{2}")
    ''
    """
    if len(answer) > MAX_NORMALIZED_CHARS:  # no shortcut will match it and rewards.screen refuses it: save the regexes
        return answer.strip()
    s = answer.strip().rstrip(".").strip()
    for left, right in _WRAPPERS:
        if len(s) >= len(left) + len(right) and s.startswith(left) and s.endswith(right):
            s = s[len(left) : len(s) - len(right)].strip()
    s = _PHANTOM.sub("", s)
    s = _SPACING.sub("", s)
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    return s.rstrip(".")


def as_number(answer: str) -> Decimal | None:
    """The answer as an exact decimal when it is a plain number (thousands commas allowed), else None.

    >>> as_number("3,250"), as_number("-0.50"), as_number("1,2"), as_number("2^3")
    (Decimal('3250'), Decimal('-0.50'), None, None)
    """
    if len(answer) > 64:  # longer than any number worth a shortcut; the screen looks at it instead
        return None
    s = normalize(answer)
    if _THOUSANDS.fullmatch(s):
        s = s.replace(",", "")
    if not _NUMBER.fullmatch(s):
        return None
    try:
        return Decimal(s)
    except InvalidOperation:  # unreachable for strings the regex accepts; kept so a bad literal is never fatal
        return None


def quick_verdict(prediction: str, gold: str) -> bool | None:
    """True/False when a string-level comparison settles it, None when sympy must decide.

    Equal normalised strings or equal numbers match. Two different integers of at most 15 digits (math-verify's
    numeric precision) do not. Every other pair, including two different decimals (math-verify rounds them), goes
    to sympy.

    >>> quick_verdict(" 7 ", "7"), quick_verdict("3250", "3,\\\\!250"), quick_verdict("8", "7")
    (True, True, False)
    >>> quick_verdict("0.5", "\\\\frac{1}{2}") is None
    True
    """
    p, g = normalize(prediction), normalize(gold)
    if p and p == g:
        return True
    pn, gn = as_number(p), as_number(g)
    if pn is None or gn is None:
        return None
    if pn == gn:
        return True
    integers = all(x == x.to_integral_value() and "." not in s for x, s in ((pn, p), (gn, g)))
    if integers and max(len(str(abs(int(pn)))), len(str(abs(int(gn))))) <= 15:
        return False
    return None
