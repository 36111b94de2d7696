"""Data loading from local files and the built-in task. Run: python -m pytest tests/test_data.py"""

import json
from pathlib import Path

import pytest

from zero.config import ConfigError, ZeroConfig
from zero.data import normalise_solution
from zero.train import training_set

DATA = Path(__file__).parents[1] / "zero" / "datafiles"


def cfg(**kw):
    return ZeroConfig(**kw)


@pytest.mark.parametrize(
    "raw, gold",
    [("He pays 3 * 4 = 12.\n#### 1,200", "1200"), (27.0, "27"), (2.5, "2.5"), (["$\\frac{1}{2}$"], "$\\frac{1}{2}$"),
     ("The answer is $\\boxed{5}$.", "The answer is $\\boxed{5}$."), (" 7 ", "7")],
)
def test_answer_fields_of_common_sets_map_to_solution(raw, gold):
    assert normalise_solution(raw) == gold


@pytest.mark.parametrize(
    "file, solution0, extra",
    [("benchmarks/gsm8k.jsonl", "18", []),
     ("benchmarks/math500.jsonl", "\\left( 3, \\frac{\\pi}{2} \\right)", ["level", "subject"]),
     ("benchmarks/amc23.jsonl", "27", ["question", "url"]), ("train/gsm8k_train.jsonl", "18", [])],
)
def test_local_jsonl_files(file, solution0, extra):
    ds = training_set(cfg(dataset_name=str(DATA / file), template="qwen_math_boxed"), seed=0)
    # the set's own columns stay beside the three the trainer reads: TRL passes them to every reward
    assert sorted(ds.column_names) == sorted(["prompt", "prompt_id", "solution", *extra])
    assert ds[0]["solution"] == solution0
    assert ds[0]["prompt"].startswith("<|im_start|>system")


def test_parquet_and_max_train_samples(tmp_path):
    import pandas as pd

    path = tmp_path / "set.parquet"
    pd.DataFrame({"question": [f"{i} + 1" for i in range(10)], "final_answer": [str(i + 1) for i in range(10)]}).to_parquet(path)
    ds = training_set(cfg(dataset_name=str(path), max_train_samples=3), seed=0)
    assert len(ds) == 3
    assert all(int(r["solution"]) == int(r["prompt"].split("User: ")[1].split(" + ")[0]) + 1 for r in ds)
    assert len(set(ds["prompt_id"])) == 3


def test_builtin_arithmetic():
    ds = training_set(cfg(tiny_num_problems=5), seed=0)
    # seed 0's first chain on the ten-hour clock: 5*3 = 15 -> 5, +1 -> 6, *4 = 24 -> 4, +2 -> 6
    assert len(ds) == 5 and ds[0]["prompt_id"] == "5*3+1*4+2" and ds[0]["solution"] == "6"
    assert "5 * 3 + 1 * 4 + 2" in ds[0]["prompt"]


def test_missing_column_lists_the_columns(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"text": "1+1", "label": "2"}) + "\n")
    with pytest.raises(ConfigError, match="no problem column .* it has: text, label. Name it with problem_field"):
        training_set(cfg(dataset_name=str(path)), seed=0)
    with pytest.raises(ConfigError, match="solution_field='nope' is not a column"):
        training_set(cfg(dataset_name=str(path), problem_field="text", solution_field="nope"), seed=0)


def test_empty_and_missing_files(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(ConfigError, match="empty|cannot read"):
        training_set(cfg(dataset_name=str(empty)), seed=0)
    with pytest.raises(ConfigError, match="does not exist"):
        training_set(cfg(dataset_name=str(tmp_path / "nope.jsonl")), seed=0)
    with pytest.raises(ConfigError, match="unknown built-in dataset"):
        training_set(cfg(dataset_name="builtin:countdown"), seed=0)


def test_shipped_math_train_with_simplerl_zoo_levels():
    """MATH train ships in zero/datafiles (README there); levels 3-5 are the 5,584 rows with level 3, 4 or 5."""
    ds = training_set(cfg(dataset_name=str(DATA / "train/math_train.jsonl"), dataset_levels=[3, 4, 5],
                          template="simplerl_abel"), seed=0)
    assert len(ds) == 5584
    assert ds[0]["prompt_id"] == "train/algebra/0.json" and ds[0]["solution"] == "0"  # level 5; train/algebra/3 is 3
    assert ds[0]["prompt"].startswith("Question:\nLet \\[f(x)") and ds[0]["prompt"].endswith("step by step.\n")
    everything = training_set(cfg(dataset_name=str(DATA / "train/math_train.jsonl")), seed=0)
    assert len(everything) == 7498


def test_shipped_data_is_found_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # as a recipe names it, from outside the checkout: the package's copy is read
    ds = training_set(cfg(dataset_name="zero/datafiles/train/math_train.jsonl", dataset_levels=[3, 4, 5]), seed=0)
    assert len(ds) == 5584
    with pytest.raises(ConfigError, match="does not exist"):
        training_set(cfg(dataset_name="zero/datafiles/train/nope.jsonl"), seed=0)


def test_level_filter_reads_hub_spelling_and_fails_clearly(tmp_path):
    path = tmp_path / "levels.jsonl"
    rows = [{"problem": f"p{i}", "answer": str(i), "level": level}
            for i, level in enumerate(["Level 1", "Level 3", "Level ?", 5, "Level 5"])]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    kept = training_set(cfg(dataset_name=str(path), dataset_levels=[3, 5]), seed=0)["solution"]
    assert list(kept) == ["1", "3", "4"]  # "Level 3", 5 and "Level 5"; "Level ?" has no level
    with pytest.raises(ConfigError, match="no problem of .* has a level in \\[2\\]"):
        training_set(cfg(dataset_name=str(path), dataset_levels=[2]), seed=0)
    with pytest.raises(ConfigError, match="dataset_levels needs a `level` column"):
        training_set(cfg(dataset_name=str(DATA / "train/gsm8k_train.jsonl"), dataset_levels=[3]), seed=0)
