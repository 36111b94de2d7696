"""zero.sft's life as a run (zero.run): the output_dir rule it shares with zero.train, and (slow) the real command
stopped by SIGTERM, doubled on one output_dir, and run out of disk.

Each slow case asserts the exit code, the one line printed, and the trainer state: its log_history holds every
step once (the tiny SFT recipe logs every step here), so a resumed run neither skipped nor repeated a step.

Run: OMP_NUM_THREADS=1 python -m pytest tests/test_sft_life.py -m "not slow"   (the rule; seconds)
     OMP_NUM_THREADS=1 python -m pytest tests/test_sft_life.py                  (with the real command)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO, wait_for
from zero import sft
from zero.config import ConfigError
from zero.run.output_dir import CONFIG_FILE, FINAL_STATE, plan_output_dir, prepare, write_config

RECIPE = REPO / "configs" / "sft" / "tiny_distill.yaml"
# 64 rows, about 8 a step (4 packed sequences of about 2 rows); a checkpoint every 5 steps, a log every step
SMALL = ["per_device_train_batch_size=4", "logging_steps=1", "save_strategy=steps", "save_steps=5",
         "disable_tqdm=true"]  # fmt: skip


@pytest.fixture
def traces(tmp_path) -> Path:
    path = tmp_path / "traces.jsonl"
    rows = [{"problem": f"{a} + {b}", "response": f" <think> {a} + {b} = {a + b} </think> <answer> {a + b} </answer>"}
            for a in range(8) for b in range(8)]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def argv(out: Path, traces: Path, *extra: str) -> list[str]:
    return [str(RECIPE), f"dataset_name={traces}", f"output_dir={out}", *SMALL, *extra]


def spawn(out: Path, traces: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "zero.sft", *argv(out, traces, *extra)], cwd=REPO, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip


def logged_steps(state_dir: Path) -> list[int]:
    """The step of every loss logged in `state_dir`'s trainer_state.json, in order."""
    history = json.loads((state_dir / "trainer_state.json").read_text())["log_history"]
    return [entry["step"] for entry in history if "loss" in entry]


# --- the one rule, read by both commands (no training) ----------------------------------------------------------


def write_state(path: Path, step: int, max_steps: int) -> None:
    (path / FINAL_STATE).write_text(json.dumps({"global_step": step, "max_steps": max_steps, "log_history": []}))


def test_each_command_recognises_its_own_runs_only(tmp_path):
    out = tmp_path / "student"
    out.mkdir()
    (out / sft.CONFIG_FILE).write_text("seed: 0\n")
    (out / sft.REPORT_FILE).write_text("{}")
    plan = plan_output_dir(out, "auto", 10, sft.CONFIG_FILE)  # killed before its first checkpoint: start over
    assert plan.checkpoint is None and not plan.finished
    with pytest.raises(ConfigError, match=f"no zero run \\(no {CONFIG_FILE}\\)"):
        plan_output_dir(out, "auto", 10)  # zero.train's rule does not take a zero.sft directory for its own run
    with pytest.raises(ConfigError, match="already holds a run: pick a new output_dir, or resume=auto"):
        plan_output_dir(out, "never", 10, sft.CONFIG_FILE)


@pytest.mark.parametrize("max_steps, finished", [(8, True), (-1, True), (6, True), (12, False)])
def test_a_whole_final_save_is_a_finished_run_without_any_checkpoint(tmp_path, capsys, max_steps, finished):
    """save_strategy=no keeps no checkpoint: the final save's trainer_state.json says where the run ended (with
    max_steps=-1, at the steps the trainer computed from the epochs, 8 here)."""
    from zero.tiny.model import build_tiny_model

    out = build_tiny_model(tmp_path / "student", seed=0)  # config, weights and tokenizer: a whole final save
    (out / sft.CONFIG_FILE).write_text("seed: 0\n")
    write_state(out, 8, 8)
    plan = plan_output_dir(out, "auto", max_steps, sft.CONFIG_FILE, checkpoints=False)
    assert plan.finished is finished and plan.checkpoint is None
    assert not plan_output_dir(out, "auto", max_steps, sft.CONFIG_FILE).finished  # checkpoints saved: one finishes
    if finished:
        assert plan.finished_step == 8
        return
    prepare(plan, "zero.sft")  # the earlier, shorter run's end is not this run's
    assert not (out / FINAL_STATE).exists()
    assert "no checkpoint to resume from" in capsys.readouterr().out
    (out / "model.safetensors").write_bytes(b"")  # a final save cut short is no finished run either
    write_state(out, 8, 8)
    assert not plan_output_dir(out, "auto", 8, sft.CONFIG_FILE, checkpoints=False).finished


def test_a_resumed_sft_run_keeps_the_optimizer_keys_of_its_checkpoint_in_its_one_config_file(tmp_path, capsys):
    from trl import SFTConfig

    from zero.config import parse

    out = tmp_path / "student"
    first = parse([str(RECIPE), f"output_dir={out}", "dataset_name=t.jsonl"], (sft.SFTZeroConfig, SFTConfig))
    write_config(*first, config_file=sft.CONFIG_FILE, prog="zero.sft")
    again = parse([str(RECIPE), f"output_dir={out}", "dataset_name=t.jsonl", "learning_rate=0.5", "max_steps=300"],
                  (sft.SFTZeroConfig, SFTConfig))  # fmt: skip
    write_config(*again, resuming=True, config_file=sft.CONFIG_FILE, prog="zero.sft")
    printed = capsys.readouterr().out
    assert "zero.sft: resumed with changed keys: max_steps: 200 -> 300" in printed
    assert "learning_rate: 0.001 (new 0.5 ignored)" in printed
    written = (out / sft.CONFIG_FILE).read_text()
    assert "learning_rate: 0.001\n" in written and "max_steps: 300\n" in written
    assert not (out / CONFIG_FILE).exists()  # zero.train's file name is not written by zero.sft


# --- the real command -------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_at_the_end_of_the_step_and_the_rerun_runs_every_step_once(tmp_path, traces,
                                                                                             capfd):
    out = tmp_path / "student"
    proc = spawn(out, traces, "max_steps=40")
    wait_for(out / "checkpoint-5" / "trainer_state.json", proc)
    proc.send_signal(signal.SIGTERM)
    printed, _ = proc.communicate(timeout=300)
    assert proc.returncode == 143, printed[-3000:]
    assert "zero.sft: SIGTERM received: finishing this step" in printed, printed[-3000:]
    last = printed.strip().splitlines()[-1]
    assert last.startswith("zero.sft: stopped by SIGTERM at step "), printed[-3000:]
    step = int(last.split(" at step ")[1].split()[0])
    assert 5 <= step < 40 and f"checkpoint-{step} saved in {out}" in last and "Rerun the same command" in last
    assert "zero.sft: done" not in printed and "Traceback" not in printed
    assert not (out / "model.safetensors").exists()  # a stopped run is not saved as the final model
    assert logged_steps(out / f"checkpoint-{step}") == list(range(1, step + 1))  # the stop step was logged too
    first_save = (out / "checkpoint-5" / "trainer_state.json").stat().st_mtime_ns

    assert sft.main(argv(out, traces, "max_steps=40")) == 0  # the same command
    assert f"zero.sft: resuming {out} from checkpoint-{step}" in capfd.readouterr().out
    assert logged_steps(out) == list(range(1, 41))  # the final save's state: every step once
    assert (out / "checkpoint-5" / "trainer_state.json").stat().st_mtime_ns == first_save  # not trained again
    assert (out / "model.safetensors").exists()

    assert sft.main(argv(out, traces, "max_steps=40")) == 0  # and once more: finished, nothing trained
    assert f"zero.sft: {out} already finished at step 40 (checkpoint-40): nothing to train" in capfd.readouterr().out


@pytest.mark.slow
def test_a_second_zero_sft_on_the_same_output_dir_exits_2_naming_the_first(tmp_path, traces, capfd):
    from zero.run.output_dir import checkpoint_problem

    out = tmp_path / "student"
    first = spawn(out, traces, "max_steps=2000")  # far longer than the second needs to reach the lock
    wait_for(out / "checkpoint-5" / "trainer_state.json", first)
    written = {name: (out / name).read_bytes() for name in (sft.CONFIG_FILE, sft.REPORT_FILE)}
    try:
        assert sft.main(argv(out, traces, "max_steps=2000")) == 2
        error = capfd.readouterr().err.strip().splitlines()[-1]
        assert error.startswith("zero.sft: error: output_dir") and f"(pid {first.pid})" in error, error
        assert (out / "zero.lock").read_text() == str(first.pid)
        assert {name: (out / name).read_bytes() for name in written} == written
    finally:
        first.send_signal(signal.SIGTERM)
        printed, _ = first.communicate(timeout=300)
    assert first.returncode == 143, printed[-3000:]  # the first went on undisturbed and stops as usual
    step = int(printed.strip().splitlines()[-1].split(" at step ")[1].split()[0])
    assert checkpoint_problem(out / f"checkpoint-{step}") is None
    assert logged_steps(out / f"checkpoint-{step}") == list(range(1, step + 1))


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 10 MB tmpfs: room for the tiny base model (3.1 MB), not for its first checkpoint (the weights and twice as
    much optimizer state)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=10m", "tmpfs", str(mnt)], capture_output=True,
                             text=True)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN): {mounted.stderr.strip()[:120]}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=True)


@pytest.mark.slow
def test_a_full_disk_is_one_line_and_the_rerun_starts_over_reusing_the_base_model(small_tmpfs, traces, capfd):
    out = small_tmpfs / "student"
    assert sft.main(argv(out, traces, "max_steps=10")) == 1
    error = capfd.readouterr().err.strip().splitlines()[-1]
    assert error == (f"zero.sft: error: no space left on the device writing '{out / 'checkpoint-5'}': "
                     "free space there (or pick another output_dir) and rerun")  # fmt: skip
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_tmpfs)], check=True)  # space freed
    assert sft.main(argv(out, traces, "max_steps=10")) == 0
    printed = capfd.readouterr().out
    assert "checkpoint-5 does not load" in printed and "starting over, reusing base_model" in printed
    assert logged_steps(out) == list(range(1, 11))


@pytest.mark.slow
@pytest.mark.parametrize("saves", ["save_steps=1", "save_strategy=no"])
def test_a_loss_gone_non_finite_stops_the_run_before_its_weights_are_saved(tmp_path, traces, capfd, saves):
    """A log every 25 steps of 10: each checkpoint (save_steps=1), or the final save alone (save_strategy=no),
    follows a log, so the guard reads the loss of every saved model."""
    out = tmp_path / "student"
    assert sft.main(argv(out, traces, "max_steps=10", "learning_rate=1e30", "logging_steps=25", saves)) == 1
    error = capfd.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("zero.sft: error: training diverged at step "), error
    step = int(error.split(" at step ")[1].split(":")[0])
    last = f"checkpoint-{step - 1}" if saves == "save_steps=1" else "none yet"
    assert f"this step was not saved. Last checkpoint: {last}" in error, error
    assert not (out / f"checkpoint-{step}").exists() and not (out / "model.safetensors").exists()


@pytest.mark.slow
def test_two_processes_train_one_run_and_the_rerun_finds_it_finished(tmp_path, traces):
    """`accelerate launch` on CPUs (DDP over gloo, the README's launch): the main process alone holds the lock and
    writes zero's files, every step is logged once, and the same command again trains nothing."""
    import socket

    with socket.socket() as s:  # never accelerate's default port: other sessions may launch on this machine
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "student"
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port",
               str(port), "-m", "zero.sft", *argv(out, traces, "max_steps=6", "use_cpu=true",
                                                  "per_device_train_batch_size=2")]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    first = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=env, timeout=900)
    assert first.returncode == 0, first.stderr[-4000:]
    assert first.stdout.count("zero.sft: done") == 1 and first.stdout.count("zero.sft: training ") == 1
    assert logged_steps(out) == list(range(1, 7)) and (out / "checkpoint-5").is_dir()
    again = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=env, timeout=900)
    assert again.returncode == 0, again.stderr[-4000:]
    assert again.stdout.count(f"zero.sft: {out} already finished at step 6 (checkpoint-6): nothing to train") == 1
