"""Reasoning-trace files: what `zero.generate` writes, what `zero.sft` reads, and the row-by-row check between.

A trace file is JSON lines, one training example per line, in either form:

    {"problem": "3 + 4", "prompt": ..., "response": "<think> 3 + 4 = 7 </think> <answer> 7 </answer>", ...}
    {"messages": [{"role": "user", "content": "3 + 4"}, {"role": "assistant", "content": "<think> ..."}], ...}

`zero.generate` adds the provenance of each row (`PROVENANCE`): the problem's id and gold answer, which sample of
the problem it was, the teacher, the template and sampling parameters it was drawn with, and the verifier's
verdict. A hub dataset of reasoning traces with the same columns (or a `messages` column) reads the same way.

`check_rows` turns rows into SFT examples ({prompt, completion} as text) and reports every row it drops, by row
number and reason, with counts per reason; `zero.sft` goes on with the good rows and stops (ConfigError) when
none are left.

>>> rows = [{"problem": "1 + 1", "response": " <think> 2 </think> <answer> 2 </answer>"},
...         {"problem": "2 + 2", "response": "  "}, {"response": "<answer> 3 </answer>"}]
>>> kept, report = check_rows(rows, prompt_text=lambda p: f"Q: {p} A:", template="r1_zero")
>>> kept[0]["prompt"], report.kept, report.counts()
('Q: 1 + 1 A:', 1, {'empty response': 1, "missing field 'problem'": 1})
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zero.config import ConfigError
from zero.store import read_lines
from zero.templates import get_template, render

# Fields zero.generate writes beside problem/prompt/response; zero.sft carries none of them into training.
PROVENANCE = ("problem_id", "answer", "sample_index", "teacher", "template", "sampling", "verdict")
SHOWN_ISSUES = 50  # issue lines printed; the full list goes to output_dir/trace_report.json


@dataclass(frozen=True)
class Issue:
    row: int  # 1-based: the line number in a jsonl file, the index + 1 in a hub dataset
    reason: str  # short and fixed, so issues count by reason ("empty response")
    detail: str = ""  # the specifics of this row ("812 tokens > max_length 512")


@dataclass
class TraceReport:
    """What the check found: how many rows were read, how many kept, and every dropped row with its reason."""

    source: str
    total: int = 0
    kept: int = 0
    issues: list[Issue] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Dropped rows per reason, most frequent first (ties by name)."""
        tally = Counter(i.reason for i in self.issues)
        return dict(sorted(tally.items(), key=lambda kv: (-kv[1], kv[0])))

    def lines(self, shown: int = SHOWN_ISSUES) -> list[str]:
        """The report as printed: a summary line, the counts, then one line per dropped row (the first `shown`)."""
        out = [f"{self.source}: {self.kept} of {self.total} rows kept, {len(self.issues)} dropped"]
        out += [f"  {n:6d}  {reason}" for reason, n in self.counts().items()]
        for issue in self.issues[:shown]:
            out.append(f"  row {issue.row}: {issue.reason}" + (f" ({issue.detail})" if issue.detail else ""))
        if len(self.issues) > shown:
            out.append(f"  ... and {len(self.issues) - shown} more rows (all are listed in trace_report.json)")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "total": self.total,
            "kept": self.kept,
            "dropped": len(self.issues),
            "counts": self.counts(),
            "issues": [{"row": i.row, "reason": i.reason, "detail": i.detail} for i in self.issues],
        }


def read_jsonl(path: str | Path) -> tuple[list[tuple[int, Any]], list[Issue]]:
    """(line number, parsed value) for every non-blank line of `path`, and an Issue for each line that is not JSON.

    A missing or empty file is a ConfigError: there is nothing to go on with.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"trace file {str(path)!r} does not exist: run python -m zero.generate first, or fix the path")
    rows, bad = read_lines(path)  # zero.store's line reader; in a trace file (input) a bad line is an Issue
    issues = [Issue(number, "not valid JSON", error) for number, error in bad]
    if not rows and not issues:
        raise ConfigError(f"trace file {str(path)!r} is empty: it needs one JSON object per line")
    return rows, issues


class _Bad(Exception):
    def __init__(self, reason: str, detail: str = ""):
        super().__init__(reason)
        self.reason, self.detail = reason, detail


def _messages(value: Any, name: str) -> list[dict[str, str]]:
    ok = isinstance(value, list) and value and all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in value
    )
    if not ok:
        raise _Bad(f"malformed {name}", "expected a non-empty list of {role, content} messages")
    return value


def split_row(
    row: Any,
    template: str | None,
    problem_field: str = "problem",
    response_field: str = "response",
    messages_field: str = "messages",
) -> tuple[Any, str]:
    """(what the prompt is rendered from, the response) of one row, or `_Bad` naming what is wrong.

    With a `template`, the prompt is rendered from the row's problem text (so the student learns under the
    template it is trained with by RL and scored with by eval); with `template=None`, the row's stored `prompt`
    (text or messages) or its `messages` minus the final assistant turn is used as it is.
    """
    if not isinstance(row, dict):
        raise _Bad("not a JSON object", type(row).__name__)
    if messages_field in row and response_field not in row:
        messages = _messages(row[messages_field], messages_field)
        if messages[-1]["role"] != "assistant":
            raise _Bad(f"malformed {messages_field}", "the last message must be the assistant's response")
        response, stored_prompt = messages[-1]["content"], messages[:-1]
        if not stored_prompt:
            raise _Bad(f"malformed {messages_field}", "no message before the assistant's response")
    elif response_field in row:
        response, stored_prompt = row[response_field], row.get("prompt")
    else:
        raise _Bad(f"missing field {response_field!r}", f"nor {messages_field!r}; the row has: {', '.join(row) or 'nothing'}")
    if not isinstance(response, str):
        raise _Bad("response is not a string", type(response).__name__)
    if not response.strip():
        raise _Bad("empty response")
    verdict = row.get("verdict")
    if isinstance(verdict, dict) and verdict.get("accepted") is False:
        raise _Bad("rejected by its verdict", json.dumps(verdict, sort_keys=True))
    if template is not None:
        problem = row.get(problem_field)
        if not isinstance(problem, str) or not problem.strip():
            if problem_field not in row:
                raise _Bad(f"missing field {problem_field!r}")
            raise _Bad(f"empty {problem_field!r}")
        return problem, response
    if stored_prompt is None:
        raise _Bad("missing field 'prompt'", "template=none trains on the stored prompt")
    if isinstance(stored_prompt, list):
        return _messages(stored_prompt, "prompt"), response
    if not isinstance(stored_prompt, str) or not stored_prompt.strip():
        raise _Bad("empty 'prompt'")
    return stored_prompt, response


def check_rows(
    rows: list[Any],
    prompt_text: Callable[[Any], str],
    template: str | None,
    count_tokens: Callable[[str], int] | None = None,
    max_length: int | None = None,
    numbers: list[int] | None = None,
    source: str = "traces",
    fields: dict[str, str] | None = None,
) -> tuple[list[dict[str, str]], TraceReport]:
    """The rows fit to train on, as {prompt, completion} text, and the report of those that are not.

    `prompt_text` renders what `split_row` returns (a problem with a template, or a stored prompt) to the exact
    prompt text; `count_tokens(prompt + response)` + 1 (the EOS SFT appends) must be <= `max_length`, since a
    response cut short would teach the model to stop mid-thought. `numbers` are the rows' numbers (default 1..n).
    """
    numbers = numbers or list(range(1, len(rows) + 1))
    report = TraceReport(source=source, total=len(rows))
    kept = []
    for number, row in zip(numbers, rows):
        try:
            source_prompt, response = split_row(row, template, **(fields or {}))
            prompt = prompt_text(source_prompt)
            if count_tokens is not None and max_length is not None:
                n = count_tokens(prompt + response) + 1
                if n > max_length:
                    raise _Bad("over max_length", f"{n} tokens > max_length {max_length}")
        except _Bad as bad:
            report.issues.append(Issue(number, bad.reason, bad.detail))
            continue
        if prompt.rstrip().endswith("<think>") and response.lstrip().startswith("<think>"):
            response = response.lstrip()[len("<think>") :]  # the template opens the think block itself
        kept.append({"prompt": prompt, "completion": response})
    report.kept = len(kept)
    return kept, report


def prompt_renderer(template: str | None, tokenizer, system_prompt: str | None = None):
    """A function from what `zero.traces.split_row` returns (a problem, or a stored prompt) to the prompt text.

    Conversational prompts go through the tokenizer's chat template with `add_generation_prompt=True`, as
    TRL's GRPOTrainer renders them for rollouts, so SFT and RL see the same text.
    """
    if template is not None:
        try:
            conversational = get_template(template).conversational
        except ValueError as e:
            raise ConfigError(f"template: {e}") from None
        if conversational and not tokenizer.chat_template:
            raise ConfigError(f"template={template} needs a tokenizer with a chat template: pick r1_zero, or a chat model")

    def chat(messages: list[dict[str, str]]) -> str:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def text(source: Any) -> str:
        prompt = render(template, source, system_prompt) if template is not None else source
        return chat(prompt) if isinstance(prompt, list) else prompt

    return text


def require_rows(report: TraceReport) -> None:
    """ConfigError when no row survived the check, naming the most common reason."""
    if report.kept == 0:
        top = next(iter(report.counts()), "no rows")
        raise ConfigError(
            f"no usable row in {report.source} ({report.total} read; most common problem: {top}): "
            "fix the file, or the field names (problem_field, response_field, messages_field), template or max_length"
        )
