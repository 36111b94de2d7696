"""zero.store: the JSON-lines store zero.eval and zero.generate append to and resume from.

Run: python -m pytest tests/test_store.py
"""

import pytest

from zero.config import ConfigError
from zero.store import JsonlStore


@pytest.mark.parametrize(
    "content, rows, after",
    [('{"a": 1}\n{"a": 2', [{"a": 1}], '{"a": 1}\n'),  # cut short by a kill: dropped, file truncated
     ('{"a": 1}\n{"a": 2}', [{"a": 1}, {"a": 2}], '{"a": 1}\n{"a": 2}\n'),  # whole, newline lost: kept and ended
     ('{"a": 1}\n\n{"a": 2}\n', [{"a": 1}, {"a": 2}], '{"a": 1}\n\n{"a": 2}\n'),  # blank lines are nothing
     ("", [], "")],
)
def test_a_cut_last_line_is_dropped_and_the_next_append_starts_a_line(tmp_path, content, rows, after):
    store = JsonlStore(tmp_path / "s.jsonl")
    store.path.write_text(content)
    assert store.read() == rows and store.path.read_text() == after
    store.append([{"b": 3}])
    assert store.read() == rows + [{"b": 3}]


def test_a_damaged_line_before_the_last_is_an_error_and_a_missing_store_is_empty(tmp_path):
    store = JsonlStore(tmp_path / "s.jsonl")
    assert store.read() == [] and not store.exists()
    store.path.write_text('{"a": 1}\n{"a": \n{"a": 3}\n')
    with pytest.raises(ConfigError, match="line 2 is not valid JSON"):
        store.read()
