"""The evaluation benchmarks shipped in zero/datafiles/benchmarks/ (sources and licences in its README), by name.

Each file keeps its upstream fields; `BENCHMARKS` names the problem, gold-answer and id field of each, and
`load_benchmark` maps them to `Problem(benchmark, prompt_id, problem, gold)`. The gold goes through
`zero.data.normalise_solution` (GSM8K's `#### n`, AMC's float, OlympiadBench's list) and is graded by `rewards`,
which reads the last `\\boxed{}` of a worked solution (Minerva's `solution`) itself. A path to a .jsonl file works
too: its fields are found like a training set's (`problem`/`question`, `answer`/`solution`/...).

>>> [p.gold for p in load_benchmark("gsm8k", limit=2)]
['18', '3']
>>> load_benchmark("amc23", limit=1)[0].gold
'27'
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from zero.config import ConfigError
from zero.data import ID_FIELDS, PROBLEM_FIELDS, SOLUTION_FIELDS, normalise_solution, pick_field

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

BENCHMARK_DIR = files("zero") / "datafiles" / "benchmarks"


@dataclass(frozen=True)
class Benchmark:
    file: str
    problem_field: str
    answer_field: str
    id_field: str | None  # None: the row index


BENCHMARKS: dict[str, Benchmark] = {
    "aime24": Benchmark("aime24.jsonl", "problem", "answer", "id"),
    "amc23": Benchmark("amc23.jsonl", "problem", "answer", "id"),
    "gsm8k": Benchmark("gsm8k.jsonl", "question", "answer", "idx"),
    "math500": Benchmark("math500.jsonl", "problem", "answer", "unique_id"),
    "minerva": Benchmark("minerva_math.jsonl", "problem", "solution", "idx"),
    "olympiadbench": Benchmark("olympiadbench.jsonl", "question", "final_answer", "id"),
}


@dataclass(frozen=True)
class Problem:
    benchmark: str
    prompt_id: str  # unique within the benchmark, stable when `limit` changes
    problem: str
    gold: str


def check_names(names: list[str]) -> list[str]:
    """`names` themselves; a ConfigError listing the valid names for an unknown one.

    >>> check_names(["mat500"])
    Traceback (most recent call last):
    ...
    zero.errors.ConfigError: unknown benchmark 'mat500': choose from aime24, amc23, gsm8k, math500, minerva, olympiadbench, or a path to a .jsonl file
    """
    if not names:
        raise ConfigError("benchmarks is empty: name at least one, e.g. benchmarks=math500,aime24")
    for name in names:
        if name not in BENCHMARKS and not name.endswith(".jsonl"):
            raise ConfigError(
                f"unknown benchmark {name!r}: choose from {', '.join(BENCHMARKS)}, or a path to a .jsonl file"
            )
        if name.endswith(".jsonl") and not Path(name).is_file():
            raise ConfigError(f"benchmark file {name!r} does not exist: check the path")
    if len(set(names)) != len(names):
        raise ConfigError(f"benchmarks lists a name twice: {names}")
    return names


def _read_jsonl(path: Path | Traversable) -> list[dict]:
    rows = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ConfigError(f"{path}:{i} is not valid JSON ({e.msg}): fix or remove that line") from None
    if not rows:
        raise ConfigError(f"benchmark file {path} holds no problems")
    return rows


def benchmark_label(name: str) -> str:
    """The name results are filed under: the benchmark name, or a file's stem."""
    return Path(name).stem if name.endswith(".jsonl") else name


def load_benchmark(name: str, limit: int | None = None) -> list[Problem]:
    """The first `limit` problems (all when None) of a benchmark name or .jsonl path."""
    check_names([name])
    if name in BENCHMARKS:
        spec = BENCHMARKS[name]
        rows = _read_jsonl(BENCHMARK_DIR / spec.file)
        problem_col, answer_col, id_col = spec.problem_field, spec.answer_field, spec.id_field
    else:
        rows = _read_jsonl(Path(name))
        columns = list(rows[0])
        problem_col = pick_field(columns, None, PROBLEM_FIELDS, "problem", "the benchmark file")
        answer_col = pick_field(columns, None, SOLUTION_FIELDS, "answer", "the benchmark file")
        id_col = next((c for c in ("prompt_id", *ID_FIELDS) if c in columns), None)
    if limit is not None:
        if limit < 1:
            raise ConfigError(f"limit must be >= 1 (or null for the whole benchmark), got {limit}")
        rows = rows[:limit]
    label = benchmark_label(name)
    problems = []
    for i, row in enumerate(rows):
        missing = [c for c in (problem_col, answer_col) if row.get(c) is None]
        if missing:
            raise ConfigError(f"benchmark {name!r} row {i} has no {missing[0]!r}: fix the file")
        prompt_id = str(row[id_col]) if id_col and row.get(id_col) is not None else str(i)
        problems.append(Problem(label, prompt_id, str(row[problem_col]), normalise_solution(row[answer_col])))
    ids = [p.prompt_id for p in problems]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"benchmark {name!r} has repeated ids in {id_col!r}: make them unique")
    return problems
