"""How golds and predictions are read, and the cheap string-level comparison that skips sympy.

One reading for both sides, so that the reward pays exactly what math-verify would pay, except where stated:

- **The gold** is what math-verify extracts from the solution field: its last ``\\boxed{}``, together with the
  earlier boxes math-verify joins to it (`final_boxes`: boxes in one math environment, or environments joined by
  just ``,``/``and``/``or``, or, in a bare answer, boxes a few characters apart). A gold read from several boxes is
  *multi-part* (counted in ``rewards/gold_multi_part``): it is graded as the boxes ``\\boxed{a}, \\boxed{b}``,
  which math-verify parses as a set, so every part is needed and one part alone scores 0. Boxes separated by
  prose are results restated on the way to the last box, which alone is the answer. Checked on all 122 solutions
  with several boxes in MATH train, MATH-500 and Minerva: the same parse as math-verify's own on the whole
  solution, every one (tests/test_rewards_multi_part.py). GSM8K's ``#### n`` and bare answers are read whole.
- **The prediction** is read only from the final answer region (a deliberate difference: math-verify reads
  anything, the reasoning included): with ``answer_region="answer_tag"`` (the ``r1_zero`` template) the text
  inside the single ``<answer>...</answer>`` after the last ``</think>``, its boxes if it has any; with
  ``answer_region="boxed"`` the boxes after the last ``</think>`` (the whole completion without think tags). Its
  boxes are read as the gold's are: several joined boxes are one set, which is right against a gold with
  the same parts and never against one value (a set of two values is not a value). A box *outside* that final
  answer holding another value is a hedge and the prediction is no answer (a deliberate difference: math-verify
  grades the last box, so ``\\boxed{1}`` + a paragraph + ``\\boxed{2}`` would collect on either gold).
- A currency sign before a lone number, and unit words after the final number of an answer with no word before
  them, are dropped on both sides (`rewards.units`): ``$1,000``, ``18 dollars`` and ``10 x 5 = 50 ounces`` are
  graded as ``1,000``, ``18`` and ``10 x 5 = 50``, as math-verify's plain ``parse`` pays them. Unlike math-verify,
  no word that changes the value (``18 thousand``, ``3 squared``, ``18 percent``) or joins another (``18 or
  twenty``, ``18 and 20``) is taken for a unit, and no number is picked out of a sentence
  (tests/test_rewards_real.py lists where the two differ on a real model's answers, and why).
- Both sides are wrapped in ``$...$`` before math-verify parses them (`rewards.verify`; a deliberate difference:
  the bare string ``7\\pi`` parses as 7); `rewards.screen` refuses answers far too costly to grade and
  ``1 or 2`` style alternatives unless the gold is a list or has alternatives itself.

The other hacking guards: an answer that exists only inside an unclosed ``<think>`` is no answer; two
``<answer>`` blocks are no answer. Boxes that restate the same value, and empty boxes copied from the problem
(``\\boxed{\\phantom{2}}``), are fine.

Why MATH train's 25 solutions with several different boxes are read this way (math-verify's own reading): 12 join
their boxes into one answer (``(-2,18)`` and ``(8,38)``; ``\\frac{1}{3}`` or ``-\\frac{5}{2}``): all parts are needed.
Of the 13 read by their last box, 2 restate one value (``\\dfrac{1}{6}``, ``\\frac{1}{6}``; empty
``\\phantom`` boxes), 4 box an intermediate result first (``144`` then ``12``; ``\\log_2 4 = 2`` then ``4``), 4 box a
second spelling or an accepted alternative (``16/5`` then ``\\frac{16}{5}``; either unit vector), and 3 spread a
multi-part answer over sentences (``4`` ... ``-4``; the angles ``60^\\circ`` ... ``45^\\circ`` ... ``75^\\circ``).
Those 3 pay their last part alone, as math-verify does: telling them from the 8 intermediate or alternative rows needs the
problem's wording, and paying their full answer would pay what math-verify refuses.

>>> extract_answer("<think> 3 + 4 = 7 </think> <answer> 7 </answer>")
'7'
>>> extract_answer("<think> it is <answer>7</answer> </think> no answer here") is None
True
>>> extract_answer(r"so \\boxed{1}. But checking the second case we get another result: \\boxed{2}", "boxed") is None
True
>>> extract_answer(r"$x = \\boxed{-2}$ or $x = \\boxed{1}$", "boxed")
'\\\\boxed{-2}, \\\\boxed{1}'
>>> gold_answer(r"... the area is $\\boxed{144}$. Then ... the answer is $5+7=\\boxed{12}$.")
'12'
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


# latex2sympy2_extended's rule (math_normalization.extract_boxed_content, mode "last"), which math-verify applies to
# a bare answer: walking back from the last box, an earlier box belongs to the same answer when under 10 characters
# separate them, or under 70 that hold a separator and the two contents differ.
_SEPARATOR = re.compile(r"\b(?:and|or)\b|,|;")
_NEAR, _SEPARATED = 10, 70
# math-verify's boxed pattern (parser.lazy_latex_regex): one math environment, or up to six environments joined
# by exactly ``,`` / ``and`` / ``or`` / ``,and`` / ``,or`` between a closing and an opening delimiter.
_DELIMITER = re.compile(r"(?<!\\)\$\$?|\\[\[\]()]")
_ENV_JOIN = re.compile(r"\s*(?:,?and|,?or|,)\s*")
_MAX_ENVS = 6


def _joined_near(text: str, earlier: tuple[int, int, str], later: tuple[int, int, str]) -> bool:
    between = text[earlier[1] : later[0]]
    return len(between) < _NEAR or (
        earlier[2].strip() != later[2].strip() and len(between) < _SEPARATED and bool(_SEPARATOR.search(between))
    )


def _env_gap(between: str) -> int | None:
    """0 when two boxes share one math environment, 1 when their environments are joined by a connector only,
    None otherwise."""
    delimiters = list(_DELIMITER.finditer(between))
    if not delimiters:
        return 0
    if len(delimiters) == 2 and _ENV_JOIN.fullmatch(between[delimiters[0].end() : delimiters[1].start()]):
        return 1
    return None


def _last_env_wins(text: str, last_end: int) -> bool:
    """Whether math-verify reads the final answer from the math environment around the last box (its match ends at
    that environment's closing delimiter) rather than from its plain ``\\boxed{.+}`` match (which ends at the
    text's last ``}``): both have the same priority and the match that ends further right is taken."""
    close = _DELIMITER.search(text, last_end)
    return close is not None and text.rfind("}") < close.end()


def final_boxes(text: str, found: list[tuple[int, int, str]] | None = None) -> list[str]:
    """The boxes math-verify reads as the final answer of `text`, in order: the last box, and the earlier boxes
    joined to it (several when they form a set); [] when there is no non-empty box. Empty boxes (``\\phantom{2}``
    copied from a problem) are skipped; a box restated with the same content counts once.

    >>> final_boxes(r"so $x = \\boxed{-2}$ or $x = \\boxed{1}$.")
    ['-2', '1']
    >>> final_boxes(r"$\\log_2 4 = \\boxed{2}$, so $\\log_2 16 = \\boxed{4}$.")  # an intermediate, then the answer
    ['4']
    >>> final_boxes(r"\\boxed{-2} \\quad \\text{and} \\quad \\boxed{1}")
    ['-2', '1']
    """
    found = [b for b in (boxes(text) if found is None else found) if normalize(b[2])]  # `found`: boxes(text)
    if not found:
        return []
    if len(found) == 1:
        return [found[0][2].strip()]
    chain = [found[-1]]
    use_envs = _last_env_wins(text, found[-1][1])
    envs = 1
    for earlier in reversed(found[:-1]):
        later = chain[-1]
        if use_envs:
            gap = _env_gap(text[earlier[1] : later[0]])
            if gap is None or envs + gap > _MAX_ENVS:
                break
            envs += gap
        elif not _joined_near(text, earlier, later):
            break
        chain.append(earlier)
    parts: list[str] = []
    for _, _, content in reversed(chain):
        if not parts or normalize(parts[-1]) != normalize(content):
            parts.append(content.strip())
    return parts


def _final_box(text: str) -> str | None:
    """The final answer held in the boxes of an answer region: one box, or several joined boxes read as a list
    (math-verify reads them as a set), or None when there is no box or a box outside that answer holds another
    value (a hedge: ``\\boxed{1} ... on second thought ... \\boxed{2}``)."""
    found = boxes(text)
    parts = final_boxes(text, found)
    if len(parts) == len(found) or not parts:  # every box is in the answer (the common case: one box), or none is
        return join_parts(parts) if parts else None
    answer = {normalize(p) for p in parts}
    if {normalize(c) for _, _, c in found} - {""} - answer:
        return None
    return join_parts(parts)


def is_list(answer: str) -> bool:
    """Whether the answer is a list: a comma or semicolon outside every bracket, other than a thousands separator.

    >>> is_list("-2, 1"), is_list("(1, 2)"), is_list(r"3,\\!250"), is_list(r"\\{1, 2\\}")
    (True, False, False, True)
    """
    s = normalize(answer)
    if as_number(s) is not None:
        return False
    depth = 0
    for i, ch in enumerate(s):
        if ch in "([{" and not (ch == "{" and s[i - 1 : i] == "\\"):
            depth += 1
        elif ch in ")]}" and depth and not (ch == "}" and s[i - 1 : i] == "\\"):
            depth -= 1
        elif ch in ",;" and depth == 0:
            return True
    return False


def join_parts(parts: list[str]) -> str:
    """One answer string for its parts: the part itself, or several parts as the boxes math-verify joins into a set.
    Kept as boxes, not as ``a, b``: math-verify parses each box of a set on its own, so a part that does not parse
    (Asymptote code boxed in a figure, a congruence) leaves the set unparsed instead of vanishing from it.

    >>> join_parts(["7"]), join_parts(["(-2,18)", "(8,38)"])
    ('7', '\\\\boxed{(-2,18)}, \\\\boxed{(8,38)}')
    """
    return parts[0] if len(parts) == 1 else ", ".join(f"\\boxed{{{p}}}" for p in parts)


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


def gold_parts(solution: str) -> list[str]:
    """The parts of the gold answer inside a dataset's solution field: the final boxes of a worked solution (MATH;
    several when math-verify reads them as one multi-part answer), the text after ``####`` (GSM8K), else the whole
    field.

    >>> gold_parts(r"The points are $\\boxed{(-2,18)}$ and $\\boxed{(8,38)}$.")
    ['(-2,18)', '(8,38)']
    """
    if "\\boxed" in solution or "\\fbox" in solution:
        parts = final_boxes(solution) or [c.strip() for _, _, c in boxes(solution)][-1:]  # empty boxes: unparseable
        if parts:
            return parts
    if "####" in solution:
        return [solution.rsplit("####", 1)[1].strip()]
    return [solution.strip()]


def gold_answer(solution: str) -> str:
    """The gold answer that is graded: `gold_parts` as one list when there are several.

    >>> gold_answer("so the answer is $\\\\boxed{\\\\frac{1}{2}}$.")
    '\\\\frac{1}{2}'
    >>> gold_answer("3 + 4 = 7\\n#### 7")
    '7'
    >>> gold_answer(" 18 ")
    '18'
    >>> gold_answer(r"so $k = \\boxed{5}$ or $k = \\boxed{-3}$.")
    '\\\\boxed{5}, \\\\boxed{-3}'
    """
    return join_parts(gold_parts(solution))


# Conservative rewrites that math-verify's own normalisation also performs, so equality after them never claims a
# match that math-verify would refuse. Anything subtler goes to sympy.
MAX_NORMALIZED_CHARS = 4096
_SPACING = re.compile(r"\\[,;:! ]|\\q?quad\b|~|\\left\b|\\right\b|\\displaystyle\b|\s+")
# A comma followed by a space (of any kind but the negative ``\\!``) separates list items for math-verify: ``32, 349``
# and ``32,\\,349`` are the set {32, 349}; ``32,349`` and ``3,\\!250`` are numbers. The space is kept, as one space.
_LIST_COMMA = re.compile(r",(?:\s|\\[,;: ]|\\q?quad\b|~)+")
_PHANTOM = re.compile(r"\\phantom\{[^{}]*\}")
_WRAPPERS = (("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))
# math-verify reads ``0,111`` as 0.111 (a decimal comma) and ``+1,000`` as a list: only these are thousands.
_THOUSANDS = re.compile(r"-?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?")
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
    s = _LIST_COMMA.sub(",\0", s)  # \0 survives the next line
    s = _SPACING.sub("", s).replace("\0", " ")
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    return s.rstrip(".")


def as_number(answer: str) -> Decimal | None:
    """The answer as an exact decimal when it is a plain number (thousands commas allowed), else None.

    >>> as_number("3,250"), as_number("-0.50"), as_number("1,2"), as_number("2^3")
    (Decimal('3250'), Decimal('-0.50'), None, None)
    """
    if len(answer) > 64 or not _stop_is_safe(answer) or _LOOSE_SIGN.search(answer):  # a plain number only
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


_STOP = re.compile(r"\.\s*(?:\$|\\\)|\\\])?\s*$")
_PLAIN = r"-?(?:0|[1-9]\d*|[1-9]\d{0,2}(?:,\d{3})+)(?:\.\d+)?"
_NUMBER_STOP = re.compile(rf"\s*(?:\$?{_PLAIN}\.\$?|\${_PLAIN}\$)\.?\s*")
_LOOSE_SIGN = re.compile(r"[-+]\s")  # math-verify reads ``- 5,\\!622`` unlike ``-5,\\!622``


def _stop_is_safe(answer: str) -> bool:
    """Whether ignoring a trailing full stop is safe. math-verify reads ``7.`` as 7, but ``- 247.`` as 247, ``+4.``
    and ``\\(607.\\)`` as nothing and ``1.5, 3.`` as 3 (measured, math-verify 0.9): after anything but a plain
    number the stop changes its verdict, so sympy must decide."""
    return not _STOP.search(answer) or bool(_NUMBER_STOP.fullmatch(answer))


def quick_verdict(prediction: str, gold: str) -> bool | None:
    """True/False when a string-level comparison settles it, None when sympy must decide.

    Identical strings, equal normalised strings (not lists) or equal numbers match. Two different integers of at
    most 15 digits (math-verify's numeric precision) do not. Every other pair, including two different decimals (math-verify rounds them), goes
    to sympy.

    >>> quick_verdict(" 7 ", "7"), quick_verdict("3250", "3,\\\\!250"), quick_verdict("8", "7")
    (True, True, False)
    >>> quick_verdict("0.5", "\\\\frac{1}{2}") is None, quick_verdict("32, 349", "32349") is None
    (True, True)
    """
    if prediction.strip() == gold.strip():
        return True
    if not (_stop_is_safe(prediction) and _stop_is_safe(gold)) or _LOOSE_SIGN.search(prediction + " " + gold):
        return None
    p, g = normalize(prediction), normalize(gold)
    if p and p == g and " " not in p:  # a list (its commas keep a space) goes to sympy unless spelt identically
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
