"""The math-verify calls that decide equivalence, as run inside a grading worker (or serially, for reference).

Both gold and prediction are already cut down to the bare answer (`rewards.extract`), so both are parsed the
same way: wrapped in ``$...$`` and read with math-verify's LaTeX and plain-expression extractors. Wrapping is what
lets a bare gold like ``\\dfrac{1}{9}``, ``7\\pi`` or ``4a-2`` parse whole; math-verify's plain ``parse`` of the
unwrapped string returns nothing or just the leading ``4``/``7`` (see bench/verifier_audit.py).

math-verify's own timeouts are switched off here (they use ``signal.alarm``, which works only in a main thread
and only to whole seconds); the caller bounds the time instead: `soft_deadline` in the worker, and the pool's
hard kill behind it.

>>> verify_answer(parse_gold("\\\\dfrac{1}{9}"), "\\\\frac{1}{9}")
True
>>> verify_answer(parse_gold("7"), "1 \\\\text{ or } 7")
False
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager

from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

from rewards.extract import is_list

EXTRACTION = (LatexExtractionConfig(), ExprExtractionConfig())

# With timeouts off, math-verify warns once per process that the caller must bound the time; we do.
logging.getLogger("math_verify.parser").setLevel(logging.ERROR)
logging.getLogger("math_verify.grader").setLevel(logging.ERROR)


class SoftDeadline(BaseException):
    """Raised inside a worker when an item overruns its time. A BaseException so that math-verify's and sympy's
    ``except Exception`` blocks let it through; sympy code stuck in C never sees it, which is why the pool kills."""


def as_latex(answer: str) -> str:
    """The answer wrapped in ``$...$`` unless it already carries math delimiters; an escaped dollar is dropped.

    >>> as_latex("7"), as_latex("$7$ dollars"), as_latex("\\\\$7")
    ('$7$', '$7$ dollars', '$7$')
    """
    answer = answer.replace("\\$", "")
    if "$" in answer or "\\(" in answer or "\\[" in answer:
        return answer
    return f"${answer}$"


def parse_gold(gold: str) -> list:
    """math-verify's parse of a gold answer; an empty list means unparseable (the reward is then None).

    math-verify falls back to returning the raw string when its LaTeX parser fails; a gold that only comes back
    as that string could be matched by nothing but an identical string, so it counts as unparseable.

    >>> parse_gold("\\frac{"), parse_gold("")
    ([], [])
    """
    if is_list(gold) and not _parsed(parse(as_latex(gold), extraction_config=EXTRACTION[:1], parsing_timeout=None)):
        return []  # as for a prediction (`verify_answer`): a list LaTeX cannot parse is not read piecemeal
    parsed = parse(as_latex(gold), extraction_config=EXTRACTION, parsing_timeout=None)
    return parsed if _parsed(parsed) else []


def _parsed(parsed: list) -> bool:
    """Whether math-verify parsed something: it returns the raw string alone when its parsers fail."""
    return any(not isinstance(p, str) for p in parsed)


def verify_answer(gold_parsed: list, prediction: str) -> bool:
    """Whether the prediction is equivalent to an already parsed gold answer.

    A list that LaTeX cannot parse is no answer: the plain-expression extractor would pick one number out of it
    (``22, " + string(n) + "`` would read as 22), paying a part for the whole. math-verify on the raw box pays some
    such lists, but only through its last-resort plain-number regex (``try_extract_without_anchor``: the rightmost
    number after a space, ``=`` or the text's start), so with J that Asymptote fragment its verdict turns on one
    character: ``\\boxed{J, 22}`` pays, ``\\boxed{J,22}`` and ``\\boxed{22, J}`` do not, ``\\boxed{ 22, J}`` does,
    and so does ``\\boxed{1, j-i \\equiv 0 \\pmod{6}, 784}`` against 784, a wrong value listed; a list that parses,
    ``\\boxed{5, 22}``, is a set and refused (tests/test_rewards_multi_part.py).

    >>> verify_answer(parse_gold("22"), '22, " + string(n) + "'), verify_answer(parse_gold("22"), "22 apples")
    (False, True)
    """
    if not gold_parsed:
        return False
    latex = as_latex(prediction)
    if is_list(prediction) and not _parsed(parse(latex, extraction_config=EXTRACTION[:1], parsing_timeout=None)):
        return False
    predicted = parse(latex, extraction_config=EXTRACTION, parsing_timeout=None)
    return bool(verify(gold_parsed, predicted, timeout_seconds=None))


def clear_caches() -> None:
    """Empty sympy's cache and math-verify's parse caches."""
    from math_verify import parser
    from sympy.core.cache import clear_cache

    clear_cache()
    for cached in (parser.parse_latex_cached, parser.parse_expr_cached, parser.extract_latex):
        cached.cache_clear()


@contextmanager
def soft_deadline(seconds: float) -> Iterator[None]:
    """Raise `SoftDeadline` in this (main) thread after `seconds`, with sub-second precision (``setitimer``)."""

    def _expire(signum, frame):
        raise SoftDeadline(f"over {seconds:.2f} s")

    previous = signal.signal(signal.SIGALRM, _expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
