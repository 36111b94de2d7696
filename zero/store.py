"""JSON-lines files: the one line reader every zero command uses, and the append-as-you-go store that makes
zero.eval (`samples_<benchmark>.jsonl`) and zero.generate (`OUTPUT.samples.jsonl`) resumable.

A store is appended to as results arrive, one JSON object per line, flushed per batch. A killed process can leave a
last line cut short; reading the store back drops that line and truncates the file to its last full line, so the
next append starts on a fresh line and the dropped result is simply produced again. Any other malformed line is not
an interruption but damage: a ConfigError naming the line.

zero.sft's trace files are input, not a store: `zero.traces.read_jsonl` reads them with `read_lines` and reports
each malformed line as a dropped row instead.

>>> import tempfile
>>> path = Path(tempfile.mkdtemp()) / "s.jsonl"
>>> store = JsonlStore(path)
>>> store.append([{"a": 1}, {"a": 2}])
>>> _ = path.open("a").write('{"a": 3, "b"')  # a write cut short
>>> store.read(), path.read_text()
([{'a': 1}, {'a': 2}], '{"a": 1}\\n{"a": 2}\\n')
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from zero.errors import ConfigError


def parse_lines(text: str) -> tuple[list[tuple[int, Any]], list[tuple[int, str]]]:
    """(line number, value) for each non-blank line that is JSON, and (line number, error) for each that is not.

    >>> parse_lines('{"a": 1}\\n\\n[2\\n')
    ([(1, {'a': 1})], [(3, "Expecting ',' delimiter")])
    """
    rows, bad = [], []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            rows.append((number, json.loads(line)))
        except json.JSONDecodeError as e:
            bad.append((number, e.msg))
    return rows, bad


def read_lines(path: str | Path) -> tuple[list[tuple[int, Any]], list[tuple[int, str]]]:
    """`parse_lines` of a file."""
    return parse_lines(Path(path).read_text(encoding="utf-8"))


class JsonlStore:
    """An append-only JSON-lines file of results, read back to resume (module docstring)."""

    def __init__(self, path: str | Path, prog: str = "zero"):
        self.path, self.prog = Path(path), prog

    def exists(self) -> bool:
        return self.path.exists()

    def read(self) -> list[dict]:
        """The rows written so far ([] for a missing file), after dropping a cut last line (the file is truncated
        to its last full line)."""
        if not self.path.exists():
            return []
        text = self.path.read_text(encoding="utf-8")
        rows, bad = parse_lines(text)
        tail = text[text.rfind("\n") + 1 :]  # what follows the last newline: "" for a complete file
        if bad and tail.strip() and bad[-1][0] == text.count("\n") + 1:
            bad.pop()
            print(f"{self.prog}: dropping a partial last line of {self.path} (an interrupted write)", file=sys.stderr)
            with self.path.open("r+b") as f:
                f.truncate(len(text.encode("utf-8")) - len(tail.encode("utf-8")))
        elif tail.strip():  # a whole last row whose newline was lost: end it, so the next append starts a line
            with self.path.open("a", encoding="utf-8") as f:
                f.write("\n")
        if bad:
            raise ConfigError(f"{self.path} line {bad[0][0]} is not valid JSON: delete the file to start it over")
        return [row for _, row in rows]

    def append(self, rows: Iterable[dict]) -> None:
        """Write `rows` at the end, one line each, and flush them to the file."""
        text = "".join(json.dumps(row) + "\n" for row in rows)
        if text:
            with self.path.open("a", encoding="utf-8") as f:
                f.write(text)

    def rewrite(self, rows: Iterable[dict]) -> None:
        """Replace the file's content with `rows` (written beside it, then moved over it, so a kill leaves the
        old file or the new one, never half of one)."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
        tmp.replace(self.path)
