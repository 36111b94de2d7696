"""Training problems: a hub dataset id, a local jsonl/json/parquet file, or the built-in tiny task, mapped to
the three columns the trainer reads: `prompt` (rendered by a template), `solution` (the gold answer) and
`prompt_id` (stable across runs, for per-prompt learning curves).

The common sets' answer fields map into `solution`: MATH's `solution` (its `\\boxed{}` is parsed by the reward),
MATH-500's `answer`, GSM8K's `#### n`, OlympiadBench's `final_answer` list, AMC's float `answer`.
"""

from __future__ import annotations

import hashlib
import re
import sys
from importlib.resources import files
from pathlib import Path
from typing import Any

from zero.args import DataArgs, ProblemArgs
from zero.errors import ConfigError
from zero.run.preflight import check_json_file, drop_unanswerable
from zero.templates import render
from zero.tiny.task import arithmetic_problems

PROBLEM_FIELDS = ("problem", "question", "prompt", "input")
# `answer` before `solution`: MATH-500 has both, and its `answer` is the bare gold.
SOLUTION_FIELDS = ("answer", "solution", "final_answer", "gold", "target")
ID_FIELDS = ("unique_id", "id", "idx")
_GSM8K_ANSWER = re.compile(r"####\s*(.+?)\s*$", re.S)
LOCAL_FORMATS = {".jsonl": "json", ".json": "json", ".parquet": "parquet"}


def normalise_solution(value: Any) -> str:
    """The gold answer as a string the reward can parse.

    >>> normalise_solution("Natalia sold 48/2 = 24 clips.\\n#### 1,072")
    '1072'
    >>> normalise_solution(27.0), normalise_solution(["$\\\\frac{1}{2}$"]), normalise_solution("\\\\boxed{5}")
    ('27', '$\\\\frac{1}{2}$', '\\\\boxed{5}')
    """
    if isinstance(value, (list, tuple)):
        value = ", ".join(str(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    match = _GSM8K_ANSWER.search(text)
    if match:
        text = match.group(1).replace(",", "").strip()
    return text


def pick_field(columns: list[str], wanted: str | None, candidates: tuple[str, ...], what: str, key: str) -> str:
    """The column to read `what` from: `wanted` if given, else the first candidate present."""
    if wanted is not None:
        if wanted not in columns:
            raise ConfigError(f"{key}={wanted!r} is not a column of the dataset; it has: {', '.join(columns)}")
        return wanted
    for name in candidates:
        if name in columns:
            return name
    raise ConfigError(
        f"the dataset has no {what} column (looked for {', '.join(candidates)}); it has: {', '.join(columns)}. "
        f"Name it with {key}=COLUMN"
    )


def prompt_id(problem: str) -> str:
    """A stable id for a problem text (for sets without an id column)."""
    return hashlib.sha1(problem.encode()).hexdigest()[:12]


def load_raw(source: DataArgs, seed: int, *, tiny_num_problems: int, tiny_max_operand: int):
    """The dataset as it comes, before mapping: a `datasets.Dataset`. The tiny_* values size builtin:arithmetic."""
    import datasets

    name = source.dataset_name
    if name == "builtin:arithmetic":
        try:
            rows = arithmetic_problems(tiny_num_problems, tiny_max_operand, seed)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        return datasets.Dataset.from_list(rows)
    if name.startswith("builtin:"):
        raise ConfigError(f"unknown built-in dataset {name!r}: the built-in one is builtin:arithmetic")
    path = shipped_data(name) or Path(name)
    if path.exists():
        fmt = LOCAL_FORMATS.get(path.suffix)
        if fmt is None or not path.is_file():
            raise ConfigError(f"dataset file {name!r} must be a .jsonl, .json or .parquet file")
        if path.stat().st_size == 0:
            raise ConfigError(f"dataset file {name!r} is empty: point dataset_name at a file with problems")
        if fmt == "json":
            check_json_file(path)  # names the file and line; datasets' own error names neither
        try:
            return datasets.load_dataset(fmt, data_files=str(path), split="train")
        except (ValueError, StopIteration, datasets.exceptions.DatasetGenerationError) as e:
            raise ConfigError(f"cannot read dataset file {name!r}: {str(e).splitlines()[0]}") from None
    if path.suffix in LOCAL_FORMATS or name.startswith((".", "/")):
        raise ConfigError(f"dataset file {name!r} does not exist: check the path")
    return load_hub_dataset(name, source.dataset_config, source.dataset_split, "a local .jsonl/.parquet file")


def shipped_data(name: str) -> Path | None:
    """A data file shipped with zero, named as in the checkout (`zero/datafiles/train/math_train.jsonl`), found in
    the installed package when the working directory holds no such file; None for any other name."""
    prefix = "zero/datafiles/"
    if Path(name).exists() or not name.startswith(prefix):
        return None
    candidate = Path(str(files("zero") / "datafiles" / name.removeprefix(prefix)))
    return candidate if candidate.is_file() else None


def load_hub_dataset(name: str, config: str | None, split: str, local_alternative: str):
    """`datasets.load_dataset(name, config, split=split)`, or a ConfigError naming the id, the cause and the fix.
    Shared by zero.train's data and zero.sft's traces."""
    import datasets

    try:
        return datasets.load_dataset(name, config, split=split)
    except Exception as e:  # the hub client raises many types (offline, 404, gated); all mean "cannot load"
        raise ConfigError(
            f"cannot load dataset {name!r} from the hub ({type(e).__name__}: {str(e).splitlines()[0][:200]}); "
            f"check the id and your network, or pass {local_alternative}"
        ) from None


def difficulty(level: Any) -> int | None:
    """MATH's difficulty as a number: the shipped file says 3, the hub copies "Level 3"; unknown ("Level ?") is None.

    >>> difficulty(3), difficulty("Level 5"), difficulty("Level ?"), difficulty(None)
    (3, 5, None, None)
    """
    if isinstance(level, int) and not isinstance(level, bool):
        return level
    match = re.fullmatch(r"\s*(?:level\s*)?(\d+)\s*", str(level), re.I)
    return int(match.group(1)) if match else None


def keep_levels(ds, levels: list[int], name: str):
    """The rows of `ds` whose `level` is one of `levels`; a ConfigError when there is no `level` column or no row."""
    if "level" not in ds.column_names:
        raise ConfigError(
            f"dataset_levels needs a `level` column, and {name!r} has only: {', '.join(ds.column_names)}; "
            "drop dataset_levels or use MATH (zero/datafiles/train/math_train.jsonl)"
        )
    wanted = set(levels)
    kept = ds.filter(lambda row: difficulty(row["level"]) in wanted, desc="keeping levels")
    if len(kept) == 0:
        raise ConfigError(f"no problem of {name!r} has a level in {sorted(wanted)}: check dataset_levels")
    return kept


def load_problems(source: ProblemArgs, seed: int, *, limit: int | None = None, levels: list[int] | None = None,
                  tiny_num_problems: int, tiny_max_operand: int, keep_columns: bool = False,
                  pass_rates: tuple[str, list[float]] | None = None):
    """The problem set with `problem`, `solution` (the normalised gold) and `prompt_id` columns, in a fixed
    order: the dataset's, or shuffled with `seed` when `limit` cuts it; `levels` keeps MATH's difficulty levels;
    `pass_rates` (a file of zero.pass_rate and a band [lo, hi]) keeps the problems whose pass rate is in the band.
    With `keep_columns` the dataset's other columns stay too (a task's own, such as Countdown's `nums` and
    `target`: TRL passes them to every reward). zero.train renders its prompts from it (`load_prompts`),
    zero.generate its teacher's."""
    ds = load_raw(source, seed, tiny_num_problems=tiny_num_problems, tiny_max_operand=tiny_max_operand)
    if len(ds) == 0:
        raise ConfigError(f"dataset {source.dataset_name!r} is empty: point dataset_name at a file with problems")
    columns = list(ds.column_names)
    problem_col = pick_field(columns, source.problem_field, PROBLEM_FIELDS, "problem", "problem_field")
    solution_col = pick_field(columns, source.solution_field, SOLUTION_FIELDS, "answer", "solution_field")
    id_col = "prompt_id" if "prompt_id" in columns else next((c for c in ID_FIELDS if c in columns), None)
    if levels is not None:
        ds = keep_levels(ds, levels, source.dataset_name)
    ds = drop_unanswerable(ds, problem_col, solution_col, source.dataset_name)  # a null answer would train against "None"
    if limit is not None:
        ds = ds.shuffle(seed=seed).select(range(min(limit, len(ds))))

    def to_row(row: dict) -> dict:
        problem = str(row[problem_col])
        return {
            "problem": problem,
            "solution": normalise_solution(row[solution_col]),
            "prompt_id": str(row[id_col]) if id_col else prompt_id(problem),
        }

    # The problem, gold and id columns are read into the three above; any other column stays when asked for.
    dropped = [c for c in columns if not keep_columns or c in (problem_col, solution_col, id_col)]
    ds = ds.map(to_row, remove_columns=dropped, desc="reading problems")
    if pass_rates is not None:
        ds = keep_pass_rates(ds, *pass_rates)
    return ds


def keep_pass_rates(ds, path: str, band: list[float]):
    """The rows of `ds` whose prompt's pass rate in `path` (written by python -m zero.pass_rate) lies in `band`
    ([lo, hi], inclusive: open-r1 keeps [0.1, 0.9]). A problem the file does not rate is dropped and counted; a
    ConfigError when the file rates none of the problems or none is left."""
    from zero.store import read_lines

    rows, bad = read_lines(path)
    if bad:
        raise ConfigError(f"{path}:{bad[0][0]}: not JSON ({bad[0][1]}): write it with python -m zero.pass_rate")
    rates: dict[str, float] = {}
    for number, row in rows:
        if not isinstance(row, dict) or "prompt_id" not in row or not isinstance(row.get("pass_rate"), (int, float)):
            raise ConfigError(f"{path}:{number}: a row needs prompt_id and pass_rate (python -m zero.pass_rate)")
        rates[str(row["prompt_id"])] = float(row["pass_rate"])
    ids = ds["prompt_id"]
    unrated = sum(i not in rates for i in ids)
    if unrated == len(ids):
        raise ConfigError(f"pass_rate_file {path} rates none of this dataset's problems: it was written for another "
                          "dataset (or other dataset settings)")
    lo, hi = band
    keep = [i for i, pid in enumerate(ids) if pid in rates and lo <= rates[pid] <= hi]
    if not keep:
        raise ConfigError(f"no problem has a pass rate in [{lo}, {hi}] in {path}: widen dataset_pass_rate")
    print(f"zero: dataset_pass_rate [{lo}, {hi}] keeps {len(keep)} of {len(ids)} problems ({unrated} not rated in "
          f"{path})", file=sys.stderr)
    return ds.select(keep)


def load_prompts(source: ProblemArgs, seed: int, *, template: str, system_prompt: str | None = None, **problems: Any):
    """The training set: `load_problems` (its keyword arguments in `problems`) with each problem rendered by
    `template` into `prompt`; columns `prompt`, `solution`, `prompt_id` (and the task's own with keep_columns)."""
    ds = load_problems(source, seed, **problems)
    return ds.map(lambda row: {"prompt": render(template, row["problem"], system_prompt)}, remove_columns=["problem"],
                  desc="rendering prompts")  # fmt: skip
