"""The format reward: did the completion put its reasoning and its answer where the template asks?

Rule for ``answer_region="answer_tag"`` (the R1-Zero template), after stripping leading and trailing whitespace:

- the completion is ``<think>T</think>`` then ``<answer>A</answer>`` and nothing else; only whitespace may stand
  between ``</think>`` and ``<answer>``, and nothing may follow ``</answer>``;
- each of the four tags occurs exactly once (so no nested, repeated or stray tags);
- T and A each contain something other than whitespace, and neither is the template's own placeholder
  ("reasoning process here", "answer here"): echoing the example from the prompt is not a format;
- with ``think_prefilled=True`` the prompt already ended with ``<think>``, so the completion starts inside the
  think block and must not open another one.

Rule for ``answer_region="boxed"``: exactly one ``\\boxed{...}`` with a non-empty, brace-balanced content in the
final answer region (after ``</think>`` when the completion has think tags, and then exactly one ``</think>``
preceded by exactly one ``<think>``, or by none when ``think_prefilled``), followed by at most
`MAX_BOXED_TAIL` characters (closing ``$``, ``\\]``, a full stop).

>>> format_reward(["<think> 3 + 4 = 7 </think> <answer> 7 </answer>", "<answer> 7 </answer>"])
[1.0, 0.0]
>>> format_reward(["<think> reasoning process here </think> <answer> answer here </answer>"])
[0.0]
>>> format_reward([" 3 + 4 = 7 </think>\\n<answer>7</answer>"], think_prefilled=True)
[1.0]
>>> format_reward([r"So $x = \\boxed{7}$.", r"\\boxed{7} or \\boxed{8}"], answer_region="boxed")
[1.0, 0.0]
"""

from __future__ import annotations

from rewards.extract import (
    ANSWER_CLOSE,
    ANSWER_OPEN,
    THINK_CLOSE,
    THINK_OPEN,
    after_think,
    boxes,
    check_region,
    normalize,
)
from rewards.text import completion_text

PLACEHOLDERS = ("reasoning process here", "answer here")  # the example inside the R1-Zero prompt itself
MAX_BOXED_TAIL = 50


def _tagged(text: str, think_prefilled: bool) -> bool:
    s = (THINK_OPEN if think_prefilled else "") + text.strip()
    if any(s.count(tag) != 1 for tag in (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)):
        return False
    if not (s.startswith(THINK_OPEN) and s.endswith(ANSWER_CLOSE)):
        return False
    think_end, answer_start = s.index(THINK_CLOSE), s.index(ANSWER_OPEN)
    if answer_start < think_end or s[think_end + len(THINK_CLOSE) : answer_start].strip():
        return False
    think = s[len(THINK_OPEN) : think_end].strip()
    answer = s[answer_start + len(ANSWER_OPEN) : -len(ANSWER_CLOSE)].strip()
    return bool(think) and bool(answer) and think not in PLACEHOLDERS and answer not in PLACEHOLDERS


def _boxed(text: str, think_prefilled: bool) -> bool:
    if THINK_CLOSE in text or THINK_OPEN in text:
        opens = text.count(THINK_OPEN)
        if text.count(THINK_CLOSE) != 1 or opens != (0 if think_prefilled else 1):
            return False
        if opens and text.index(THINK_OPEN) > text.index(THINK_CLOSE):
            return False
    region = after_think(text)
    if region is None:
        return False
    found = boxes(region)
    if len(found) != 1 or region.count("\\boxed") + region.count("\\fbox") != 1:  # an unclosed box counts too
        return False
    _, end, content = found[0]
    return bool(normalize(content)) and len(region[end:].strip()) <= MAX_BOXED_TAIL


def format_reward(
    completions: list, answer_region: str = "answer_tag", think_prefilled: bool = False, **kwargs
) -> list[float]:
    """1.0 where the completion follows the template's format exactly (module docstring), else 0.0.

    `completions` are strings or chat messages; other keyword arguments (TRL's) are ignored.
    """
    check_region(answer_region)
    rule = _tagged if answer_region == "answer_tag" else _boxed
    return [1.0 if rule(completion_text(c), think_prefilled) else 0.0 for c in completions]
