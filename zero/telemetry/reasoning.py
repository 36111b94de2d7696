"""Reasoning telemetry: reflection words, self-corrections ("aha moments") and per-step length statistics.

R1-Zero's claim is that reasoning *emerges* under pure RL: responses grow longer and the model starts to pause,
check and restart ("Wait, wait. Wait. That's an aha moment I can flag here.", DeepSeek-R1 paper, Table 3).
These pure functions measure that on the completions of one generation batch. The trainer plumbing calls
`annotate` (per-completion columns, written to the rollout files) and `step_metrics` (`reasoning/...` scalars);
`zero.replay` calls the same functions on the files afterwards, so live and replayed numbers agree.

Everything here is plain Python on lists (no pandas, regexes compiled once) because it runs on every batch.

>>> cols = annotate(["<think>2+3 = 6. Wait, 2+3 = 5.</think> <answer>5</answer>"], [True], [True], [20],
...                 "answer_tag", extract_answer=lambda text, region: "5")
>>> cols["reflection_words"], cols["self_correction"]
(['wait'], [True])
"""

from __future__ import annotations

import bisect
import functools
import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from rewards import extract

# Reflection vocabulary: the words of the R1 paper's aha example ("wait", "re-evaluate") plus keywords of the kind
# the R1-Zero reproductions count as self-reflection (cf. SimpleRL-Zoo, Zeng et al. 2025; "Understanding
# R1-Zero-Like Training", Liu et al. 2025); the config's `reflection_lexicon` replaces it. Matching rules (see `reflection_pattern`): whole words, case-insensitive, any run of
# whitespace between the words of a phrase, a hyphen also matches no hyphen or a space ("re-check" finds
# "recheck"), an apostrophe also matches a typographic one. The longest phrase wins: "But wait" counts once.
DEFAULT_REFLECTION_LEXICON: tuple[str, ...] = (
    "wait",
    "but wait",
    "hmm",
    "re-check",
    "rethink",
    "retry",
    "re-evaluate",
    "re-examine",
    "reconsider",
    "alternatively",
    "let me check",
    "let me verify",
    "let's check",
    "let's verify",
    "double-check",
    "check again",
    "verify again",
    "however",
    "aha",
)

CONTEXT_BEFORE, CONTEXT_AFTER = 120, 300  # characters of text kept around a self-correction


@functools.lru_cache(maxsize=16)
def _compiled(lexicon: tuple[str, ...]) -> tuple[re.Pattern[str], tuple[str, ...]]:
    entries = tuple(sorted({e.strip().lower() for e in lexicon}, key=lambda e: (-len(e), e)))
    if not entries:
        return re.compile(r"(?!)"), ()  # matches nothing
    alternatives = []
    for i, entry in enumerate(entries):
        words = []
        for word in entry.split():
            word_re = r"[-\s]?".join(re.escape(part) for part in word.split("-"))
            words.append(word_re.replace("'", "['\u2019]"))
        alternatives.append(f"(?P<e{i}>" + r"\s+".join(words) + ")")
    # The first-letter lookahead lets the scan skip most positions cheaply (2.4x faster on 6k-character texts,
    # /tmp bench of 128 random-word completions).
    first = "".join(sorted({re.escape(e[0]) for e in entries}))
    pattern = rf"(?=[{first}])(?<![\w-])(?:{'|'.join(alternatives)})(?![\w-])"
    return re.compile(pattern, re.IGNORECASE), entries


def reflection_pattern(lexicon: Sequence[str] | None = None) -> re.Pattern[str]:
    """The compiled (and cached) regex that finds the reflection words of `lexicon`.

    >>> bool(reflection_pattern(["re-check"]).search("Let me recheck."))
    True
    """
    return _compiled(_lexicon_key(lexicon))[0]


def _lexicon_key(lexicon: Sequence[str] | None) -> tuple[str, ...]:
    if lexicon is None:
        return DEFAULT_REFLECTION_LEXICON
    if isinstance(lexicon, str):
        raise TypeError(f"lexicon must be a list of words, not the string {lexicon!r}: write [{lexicon!r}]")
    bad = [e for e in lexicon if not isinstance(e, str) or not e.strip() or "," in e]
    if bad:
        raise ValueError(f"reflection lexicon entries must be non-empty strings without commas, got {bad!r}")
    return tuple(lexicon)


def find_reflections(text: str, lexicon: Sequence[str] | None = None) -> list[tuple[int, str]]:
    """Each reflection word in `text` as `(character offset, lexicon entry)`, in order.

    >>> find_reflections("Waiting... Wait, but wait. HMM, let's  verify.")
    [(11, 'wait'), (17, 'but wait'), (27, 'hmm'), (32, "let's verify")]
    """
    pattern, entries = _compiled(_lexicon_key(lexicon))
    return [(m.start(), entries[int(m.lastgroup[1:])]) for m in pattern.finditer(text)]


def highlight_reflections(text: str, lexicon: Sequence[str] | None = None, style: str = "html") -> str:
    """`text` with its reflection words marked: `<mark>` (HTML-escaped text), `**bold**` or ANSI colour.

    >>> highlight_reflections("a<b. Wait!", style="html")
    'a&lt;b. <mark>Wait</mark>!'
    >>> highlight_reflections("Hmm, ok", style="markdown")
    '**Hmm**, ok'
    """
    marks = {"html": ("<mark>", "</mark>"), "markdown": ("**", "**"), "ansi": ("\033[1;33m", "\033[0m")}
    if style not in marks:
        raise ValueError(f"unknown highlight style {style!r}: choose one of {', '.join(marks)}")
    opening, closing = marks[style]
    escape = html.escape if style == "html" else (lambda s: s)
    out, last = [], 0
    for m in reflection_pattern(lexicon).finditer(text):
        out += [escape(text[last : m.start()]), opening, escape(m.group(0)), closing]
        last = m.end()
    out.append(escape(text[last:]))
    return "".join(out)


def answer_start(text: str, answer_region: str) -> int:
    """Offset where the answer part of a completion begins; `text[:i]` is the reasoning.

    The reasoning ends at the last `</think>`; without one, at the last `<answer>` ("answer_tag") or the last
    `\\boxed` ("boxed"); a completion with none of these is all reasoning.

    >>> t = "<think>so 4</think> <answer>4</answer>"
    >>> t[:answer_start(t, "answer_tag")]
    '<think>so 4'
    >>> answer_start("so \\\\boxed{4}", "boxed")
    3
    """
    extract.check_region(answer_region)
    marker = "<answer>" if answer_region == "answer_tag" else "\\boxed"
    for tag in ("</think>", marker):
        i = text.rfind(tag)
        if i >= 0:
            return i
    return len(text)


# Intermediate answers stated in the reasoning. A documented heuristic, not a parser:
#   "\boxed{...}" (any content, one level of nested braces), "the answer is 12" / "answer: 12", and "= 12" when
#   the number ends the expression (not "= 12 + 3"). Numbers may carry thousands commas, decimals or "a/b".
_NUM = r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?"
_STATED = re.compile(
    r"(?=[\\=a])(?:"  # every alternative starts with one of these characters: a cheap skip
    r"\\boxed\{(?P<boxed>(?:[^{}]|\{[^{}]*\})*)\}"
    rf"|answer(?:\s+(?:is|would\s+be|should\s+be)|\s*[:=])\s*(?:\$|\\\(|\*\*)?\s*(?P<said>{_NUM})"
    rf"|(?<![<>=!])=\s*\$?\s*(?P<eq>{_NUM})(?![\d.,]*\s*[-+*/^\u00d7\u00f7(])"
    r")",
    re.IGNORECASE,
)
_FRAC = re.compile(r"\\[dt]?frac\{(-?\d+)\}\{(\d+)\}")
_TEXT = re.compile(r"\\(?:text|mathrm|mbox)\{[^{}]*\}")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:/\d+)?")
_LABEL, _UNIT = re.compile(r"^[a-z]\w*="), re.compile(r"[a-z%\u00b0]+$")  # "x=" before, "cm" or "%" after


def stated_answers(reasoning: str) -> list[tuple[int, str]]:
    """The answers stated along the way in `reasoning`, as `(offset, raw value)`.

    >>> stated_answers("3 + 4 = 7 + 1 = 8. So the answer is 1,000, or \\\\boxed{\\\\frac{1}{2}}.")
    [(14, '8'), (26, '1,000'), (46, '\\\\frac{1}{2}')]
    """
    return [(m.start(), next(v for v in m.groups() if v is not None)) for m in _STATED.finditer(reasoning)]


def normalize_answer(answer: str) -> str:
    """A canonical form for comparing two stated answers: numbers as exact fractions, else lower-case text.

    Cheap on purpose (it runs per completion); the real grading is `rewards.grade`.

    >>> [normalize_answer(a) for a in ["$1,000.$", "12.0", "\\\\frac{1}{2}", "0.5", "12 \\\\text{kg}", "x=3", "12cm"]]
    ['1000', '12', '1/2', '1/2', '12', '3', '12']
    >>> normalize_answer("X + 1"), normalize_answer("B")
    ('x+1', 'b')
    """
    s = _TEXT.sub("", answer)
    s = _FRAC.sub(r"\1/\2", s).replace("\\!", "").replace("\\,", "").replace("$", "")
    s = _THOUSANDS.sub("", s).strip().rstrip(".").replace(" ", "").lower()
    number = _UNIT.sub("", _LABEL.sub("", s))
    if _NUMBER.fullmatch(number):
        try:
            return str(Fraction(number))
        except ZeroDivisionError:
            return s
    return s


@dataclass(frozen=True)
class SelfCorrection:
    offset: int  # where the reflection word starts in the completion
    word: str  # the lexicon entry
    stated: str  # the earlier answer, as written
    final: str  # the final (correct) answer, as extracted
    context: str  # the text from just before the earlier answer to a little after the reflection


def find_self_correction(
    text: str, final_answer: str, reasoning_end: int, reflections: Sequence[tuple[int, str]]
) -> SelfCorrection | None:
    """The first self-correction in `text`, given its (already graded correct) `final_answer`.

    A self-correction: the reasoning states an answer, then a reflection word follows, and the final answer
    differs from that earlier one, which is not restated later in the reasoning (restating it means the
    reflection was a check that confirmed it, not a correction).

    >>> t = "<think>x = 5. Wait, I dropped a sign: x = 3</think><answer>3</answer>"
    >>> find_self_correction(t, "3", t.index("</think>"), [(14, "wait")]).stated
    '5'
    >>> find_self_correction("x = 3. Wait, check: x = 3</think>", "3", 26, [(7, "wait")]) is None
    True
    """
    stated = stated_answers(text[:reasoning_end])
    if not stated:
        return None
    final = normalize_answer(final_answer)
    offsets = [o for o, _ in stated]
    values = [normalize_answer(v) for _, v in stated]
    last_said = {value: offset for offset, value in zip(offsets, values)}  # where each value is stated last
    for offset, word in reflections:
        if offset >= reasoning_end:
            break
        i = bisect.bisect_left(offsets, offset) - 1  # the last answer stated before the reflection
        if i < 0 or values[i] == final or last_said[values[i]] > offset:
            continue
        context = text[max(0, offsets[i] - CONTEXT_BEFORE) : offset + CONTEXT_AFTER]
        return SelfCorrection(offset, word, stated[i][1], final_answer, context)
    return None


def annotate(
    completions: Sequence[str],
    is_correct: Sequence[bool | None],
    format_ok: Sequence[bool],
    completion_tokens: Sequence[int],
    answer_region: str,
    lexicon: Sequence[str] | None = None,
    extract_answer: Callable[[str, str], str | None] | None = None,
) -> dict[str, list]:
    """Per-completion telemetry columns for one generation batch (lists aligned with `completions`).

    Columns: `is_correct`, `format_ok` (passed through), `reflection_count`, `reflection_words` (the lexicon entries
    found, in order, joined by ","), `reflection_in_think`, `reflection_in_answer`, `self_correction` (bool) and
    `self_correction_context` ("" when none). `extract_answer(text, answer_region)` reads the final answer;
    by default `rewards.extract_answer`, the one the accuracy reward grades.
    """
    n = len(completions)
    lengths = {"is_correct": len(is_correct), "format_ok": len(format_ok), "completion_tokens": len(completion_tokens)}
    if any(length != n for length in lengths.values()):
        raise ValueError(f"annotate: {n} completions but column lengths {lengths}; pass one value per completion")
    extract_answer = extract_answer or extract.extract_answer
    columns: dict[str, list[Any]] = {
        "is_correct": [None if c is None else bool(c) for c in is_correct],
        "format_ok": [bool(f) for f in format_ok],
        "reflection_count": [],
        "reflection_words": [],
        "reflection_in_think": [],
        "reflection_in_answer": [],
        "self_correction": [],
        "self_correction_context": [],
    }
    for text, correct in zip(completions, columns["is_correct"]):
        reflections = find_reflections(text, lexicon)
        end = answer_start(text, answer_region)
        in_think = sum(1 for offset, _ in reflections if offset < end)
        found = None
        if correct and in_think:
            final = extract_answer(text, answer_region)
            if final is not None:
                found = find_self_correction(text, final, end, reflections)
        columns["reflection_count"].append(len(reflections))
        columns["reflection_words"].append(",".join(word for _, word in reflections))
        columns["reflection_in_think"].append(in_think)
        columns["reflection_in_answer"].append(len(reflections) - in_think)
        columns["self_correction"].append(found is not None)
        columns["self_correction_context"].append(found.context if found else "")
    return columns


def as_flag(value: Any) -> bool | None:
    """True/False, or None for a missing value (None or NaN, as pandas reads a null boolean)."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    return bool(value)


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default method)."""
    position = q * (len(sorted_values) - 1)
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return float(sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low))


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def pass_rates(prompt_ids: Sequence[str], is_correct: Sequence[bool | None]) -> dict[str, float]:
    """Each prompt's share of correct completions (ungradeable ones left out).

    >>> pass_rates(["a", "a", "b", "b"], [True, False, None, False])
    {'a': 0.5, 'b': 0.0}
    """
    graded: dict[str, list[bool]] = {}
    for prompt_id, correct in zip(prompt_ids, is_correct):
        flag = as_flag(correct)
        if flag is not None:
            graded.setdefault(str(prompt_id), []).append(flag)
    return {prompt_id: sum(flags) / len(flags) for prompt_id, flags in graded.items()}


STEP_METRIC_INPUTS = ("prompt_id", "completion_tokens", "truncated", "is_correct", "reflection_count")


def step_metrics(columns: dict[str, Sequence[Any]]) -> dict[str, float]:
    """`reasoning/...` scalars for one batch, from the columns of `annotate` plus `prompt_id`,
    `completion_tokens` and `truncated`. A metric that is undefined on this batch (no correct completion, no
    reflection) is left out rather than NaN, because JSON loggers reject NaN.

    >>> m = step_metrics({"prompt_id": ["a", "a"], "completion_tokens": [10, 30], "truncated": [False, True],
    ...                   "is_correct": [True, False], "reflection_count": [0, 2]})
    >>> m["reasoning/length/p90"], m["reasoning/reflection/rate_per_1k_tokens"], m["reasoning/reflection/accuracy_with"]
    (28.0, 50.0, 0.0)
    """
    missing = [key for key in STEP_METRIC_INPUTS if key not in columns]
    if missing:
        raise KeyError(f"step_metrics needs the columns {missing}; pass annotate()'s output plus the base columns")
    tokens = [int(t) for t in columns["completion_tokens"]]
    n = len(tokens)
    if n == 0:
        return {}
    correct = [as_flag(c) for c in columns["is_correct"]]
    counts = [int(c) for c in columns["reflection_count"]]
    lengths = sorted(tokens)
    metrics: dict[str, float | None] = {
        "reasoning/length/mean": sum(tokens) / n,
        "reasoning/length/median": _quantile(lengths, 0.5),
        "reasoning/length/p90": _quantile(lengths, 0.9),
        "reasoning/length/max": float(lengths[-1]),
        "reasoning/length/correct_mean": _mean([t for t, c in zip(tokens, correct) if c is True]),
        "reasoning/length/incorrect_mean": _mean([t for t, c in zip(tokens, correct) if c is False]),
        "reasoning/truncated_share": sum(bool(t) for t in columns["truncated"]) / n,
        "reasoning/reflection/count_mean": sum(counts) / n,
        "reasoning/reflection/rate_per_1k_tokens": 1000 * sum(counts) / sum(tokens) if sum(tokens) else None,
        "reasoning/reflection/share": sum(c > 0 for c in counts) / n,
        "reasoning/reflection/accuracy_with": _mean([c for c, k in zip(correct, counts) if k and c is not None]),
        "reasoning/reflection/accuracy_without": _mean([c for c, k in zip(correct, counts) if not k and c is not None]),
    }
    if "reflection_in_think" in columns and sum(counts):
        metrics["reasoning/reflection/think_fraction"] = sum(int(k) for k in columns["reflection_in_think"]) / sum(
            counts
        )
    if "self_correction" in columns:
        metrics["reasoning/self_corrections"] = float(sum(bool(as_flag(s)) for s in columns["self_correction"]))
    rates = pass_rates(columns["prompt_id"], correct)
    if rates:
        metrics["reasoning/prompts/solved_share"] = sum(r > 0 for r in rates.values()) / len(rates)
    return {key: float(value) for key, value in metrics.items() if value is not None}
