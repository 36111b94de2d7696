"""Currency signs and unit words around an answer's number, which the grader drops from both sides.

SmolLM2-135M wrote ``<answer> $1,000 </answer>`` and ``<answer> 18 dollars </answer>`` (issue 22); math-verify's
plain ``parse`` pays both against 1000 and 18. zero wraps an answer in ``$...$`` before math-verify reads it
(`rewards.verify.as_latex`, so that ``7\\pi`` parses whole), which read ``18 dollars`` as the product
18*d*o*l*l*a*r*s and an unpaired ``$`` as a math delimiter; so `rewards.grade` reads both sides through
`without_units` first. Only words that are a unit go: none that changes the value (``18 thousand``, ``3 squared``)
or joins another (``18 or twenty``), and none after prose (a word before the final number: zero picks no number out
of a sentence). tests/test_rewards_real.py checks the result against math-verify on a real model's answers.
"""

from __future__ import annotations

import re

from rewards.extract import _PLAIN  # one spelling of a plain number (thousands commas, decimals)

# A currency sign before a lone plain number; unit words after an answer's final number (letters only, the first word
# of at least three letters: ``2 xy`` is a product of variables, not 2 in units of xy).
_CURRENCY_NUMBER = re.compile(rf"\s*\\?\$\s*(?P<number>{_PLAIN})\s*\.?\s*")
_UNIT_WORDS = re.compile(r"\s+[A-Za-z]{3,}(?:\s+[A-Za-z]+)*")
# A word before the final number: the answer is prose, not math with a unit (``5 weeks = 31 weeks``), and is left
# to math-verify as it is; a LaTeX command (``\\frac``) is no word.
_PROSE = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{3,}")
# Words that are no unit: they change the number's value, or join another value to it (a hedge or a list).
_NOT_A_UNIT = re.compile(
    r"\b(?:and|or|nor|either|neither|not|no|but|to|than|vs|versus|plus|minus|times|over|divided|equals?|is|are|was"
    r"|percent|percentage|pct|permille|squared|cubed|factorial|roots?|inverse|reciprocal|grand|dozens?|hundreds?"
    r"|thousands?|millions?|billions?"
    r"|trillions?|half|halves|quarters?|thirds?|fourths?|fifths?|tenths?|hundredths?"
    r"|zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|(?:thir|four|fif|six|seven|eigh|nine)teen"
    r"|(?:twen|thir|for|fif|six|seven|eigh|nine)ty)\b",
    re.IGNORECASE,
)


def without_units(answer: str) -> str:
    """The answer without the unit words after its final number (when no word comes before them: math, not
    prose), and a lone number without its currency sign; the answer as it is otherwise. Linear in the answer's
    length (no regex backtracks over it: a policy can write a megabyte).

    >>> without_units("$1,000"), without_units("18 dollars"), without_units("\\\\$18.50 per hour.")
    ('1,000', '18', '18.50')
    >>> without_units("10 x 5 = 50 ounces of pistachios per week"), without_units("18 dollars or 20 dollars")
    ('10 x 5 = 50', '18 dollars or 20 dollars')
    >>> without_units("So there are 1.1 wheels at the station."), without_units(r"\\frac{1}{2} = 0.5 cups")
    ('So there are 1.1 wheels at the station.', '\\\\frac{1}{2} = 0.5')
    >>> [without_units(a) for a in ("18 or twenty", "18 thousand", "3 squared", "2 xy", "7.", "x^2")]
    ['18 or twenty', '18 thousand', '3 squared', '2 xy', '7.', 'x^2']
    """
    text = answer.rstrip()
    text = text[:-1].rstrip() if text.endswith(".") else text
    start = len(text)  # the trailing run of ASCII letters and spaces begins here
    while start and text[start - 1].isascii() and (text[start - 1].isalpha() or text[start - 1].isspace()):
        start -= 1
    words = text[start:]
    if words.strip():
        unit = _UNIT_WORDS.fullmatch(words) and not _NOT_A_UNIT.search(words)
        if not (start and text[start - 1].isdigit() and unit and not _PROSE.search(text, 0, start)):
            return answer
        answer = text[:start]
    lone = _CURRENCY_NUMBER.fullmatch(answer)
    return lone.group("number") if lone else answer
