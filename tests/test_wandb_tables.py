"""The W&B callback publishes rollout files to an offline run: completions tables, length histograms, first aha.

Run: python -m pytest tests/test_wandb_tables.py -q
Uses `wandb.init(mode="offline")` in a temp dir: nothing leaves the machine; the offline run files are the proof.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import wandb
from helpers import AHA_STEP, write_synthetic_run  # tests/ is on sys.path (pytest's default import mode)
from transformers import TrainerState

from zero.telemetry.tables import AHA_KEY, TABLE_KEY, ReasoningTablesCallback


@pytest.fixture
def offline_run(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    run = wandb.init(dir=str(tmp_path), mode="offline", project="zero-test")
    yield run
    if wandb.run is not None:
        wandb.finish()


def _state(step: int) -> TrainerState:
    state = TrainerState()
    state.global_step = step
    return state


def test_publishes_only_complete_files_in_order(tmp_path, offline_run):
    run_dir = write_synthetic_run(tmp_path / "run")  # files for steps 1..8, rollout batches logged twice
    args = SimpleNamespace(output_dir=str(run_dir))
    callback = ReasoningTablesCallback(table_every_n_steps=4)
    # at on_log of step 3 the step-3 file is not written yet (TRL writes it after the callbacks)
    assert callback.publish(run_dir, newest_complete=2) == [1, 2]
    callback.on_log(args, _state(3), None)
    assert callback.published == [1, 2]
    callback.on_step_begin(args, _state(3), None)  # step 4 begins: the step-3 file is complete
    assert callback.published == [1, 2, 3]
    callback.on_train_end(args, _state(8), None)
    assert callback.published == list(range(1, 9))
    assert wandb.run.summary["reasoning/first_aha_step"] == AHA_STEP


def test_offline_run_files_hold_tables_and_histograms(tmp_path, offline_run):
    run_dir = write_synthetic_run(tmp_path / "run")
    callback = ReasoningTablesCallback(table_every_n_steps=4, max_table_rows=5)
    callback.on_train_end(SimpleNamespace(output_dir=str(run_dir)), _state(8), None)
    run_files = Path(offline_run.dir)  # .../wandb/offline-run-*/files
    wandb.finish()
    wandb.teardown()  # stops the wandb-core service, which flushes the run's record log (finish alone may not)

    # the offline run's record log (protobuf records; keys and JSON values are stored as plain bytes)
    records = next(run_files.parent.glob("run-*.wandb")).read_bytes()
    for key in ("reasoning/length_hist", "reasoning/length_hist_correct", "reasoning/first_aha_step", TABLE_KEY):
        assert key.encode() in records, key
    tables = sorted(run_files.glob(f"media/table/{TABLE_KEY}_*.table.json"))
    # new rollout batches at steps 1, 3, 5, 7 (even steps repeat one): tables at 1 (first), 5 (4 later), 7 (last)
    assert len(tables) == 3
    table = json.loads(tables[0].read_text())
    assert table["columns"][:4] == ["step", "prompt_id", "prompt", "completion"]
    assert "reward_accuracy" in table["columns"] and "advantage" in table["columns"]
    assert len(table["data"]) == 5
    completions = [row[3] for t in tables for row in json.loads(t.read_text())["data"]]
    assert any("**Let me check**" in c for c in completions)  # reflection words highlighted in the text
    aha = list(run_files.glob(f"media/table/{AHA_KEY}_*.table.json"))
    aha_row = json.loads(aha[0].read_text())["data"][0]
    assert len(aha) == 1 and aha_row[0] == AHA_STEP and "**Wait**" in aha_row[3]
    html = [p.read_text() for p in run_files.glob("media/html/**/*.html")]
    assert any("<mark>Wait</mark>" in h for h in html)


def test_no_wandb_run_is_a_no_op(tmp_path):
    run_dir = write_synthetic_run(tmp_path / "run")
    assert wandb.run is None
    callback = ReasoningTablesCallback()
    assert callback.publish(run_dir, newest_complete=None) == []
    assert callback.published == []


def test_resume_skips_files_of_the_earlier_process(tmp_path, offline_run):
    run_dir = write_synthetic_run(tmp_path / "run")
    args = SimpleNamespace(output_dir=str(run_dir))
    callback = ReasoningTablesCallback()
    callback.on_train_begin(args, _state(6), None)
    callback.on_train_end(args, _state(8), None)
    assert callback.published == [7, 8]


def test_bad_arguments():
    with pytest.raises(ValueError, match=">= 1"):
        ReasoningTablesCallback(table_every_n_steps=0)


def test_a_file_trl_did_not_name_is_left_out_not_fatal(tmp_path, offline_run):
    """The callback runs inside training: a stray file in completions/ must not stop the run (rollout_files)."""
    run_dir = write_synthetic_run(tmp_path / "run")
    (run_dir / "completions" / "completions_latest.parquet").write_bytes(b"not parquet")
    callback = ReasoningTablesCallback()
    callback.on_train_end(SimpleNamespace(output_dir=str(run_dir)), _state(8), None)
    assert callback.published == list(range(1, 9))
