"""Fault injection on the real `zero.train` command: runs that are killed, stopped, corrupted, doubled, diverged.

Each case asserts the exit code, the one line printed, and that after the restart every step's rollout file
exists exactly once (completions_00001 .. max_steps). One finished tiny run is shared (session fixture) and
copied for the cases that corrupt it; kills and signals use subprocesses.

Run: python -m pytest tests/test_faults.py
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from helpers import REPO, TINY_RECIPE, run_zero_train, wait_for

SMALL = ["cold_start_steps=10", "tiny_num_problems=40", "num_generations=4", "per_device_train_batch_size=8",
         "save_steps=2", "report_to=none", "disable_tqdm=true"]


def train(out: Path, *extra: str) -> int:
    return run_zero_train(str(TINY_RECIPE), f"output_dir={out}", *SMALL, "max_steps=4", *extra)


def spawn(out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "zero.train", str(TINY_RECIPE), f"output_dir={out}", *SMALL, *extra],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "WANDB_MODE": "offline", "OMP_NUM_THREADS": "1"},
    )


def assert_rollouts_exactly_once(out: Path, max_steps: int) -> None:
    files = sorted((out / "completions").glob("completions_*.parquet"))
    assert [f.name for f in files] == [f"completions_{i:05d}.parquet" for i in range(1, max_steps + 1)]
    for step, f in enumerate(files, start=1):
        assert (pd.read_parquet(f, columns=["step"])["step"] == step).all(), f.name


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory) -> Path:
    """A finished 4-step run (checkpoints at steps 2 and 4), never modified: copy it with `copy_of`."""
    out = tmp_path_factory.mktemp("faults") / "finished"
    assert train(out) == 0
    return out


def copy_of(run: Path, tmp_path: Path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(run, out)
    return out


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.slow
def test_rerun_of_a_finished_run_trains_nothing_and_restores_a_lost_final_save(finished_run, tmp_path, capfd):
    out = copy_of(finished_run, tmp_path)
    (out / "model.safetensors").unlink()  # as if killed during the final save
    before = {f.name: f.stat().st_mtime_ns for f in (out / "completions").iterdir()}
    assert train(out) == 0
    assert "already finished at step 4 (checkpoint-4): nothing to train" in capfd.readouterr().out
    assert not list(out.glob("checkpoint-5")) and (out / "model.safetensors").exists()
    assert {f.name: f.stat().st_mtime_ns for f in (out / "completions").iterdir()} == before


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["empty trainer_state.json", "half-written optimizer.pt", "half-written weights"])
def test_a_checkpoint_that_does_not_load_falls_back_to_the_one_before(finished_run, tmp_path, capfd, damage):
    out = copy_of(finished_run, tmp_path)
    ckpt = out / "checkpoint-4"
    if damage == "empty trainer_state.json":
        (ckpt / "trainer_state.json").write_text("")
    elif damage == "half-written optimizer.pt":
        truncate(ckpt / "optimizer.pt")
    else:
        truncate(ckpt / "model.safetensors")
    assert train(out, "learning_rate=1e-3") == 0
    printed = capfd.readouterr().out
    assert "checkpoint-4 does not load" in printed and "resuming" in printed and "from checkpoint-2" in printed
    assert "learning_rate: 0.0001 (new 0.001 ignored)" in printed  # named as not applied, not as applied
    assert "checkpoint-4 does not load" in printed and (out / "checkpoint-4" / "optimizer.pt").exists()
    assert_rollouts_exactly_once(out, 4)


@pytest.mark.slow
def test_no_complete_checkpoint_starts_over_reusing_the_cold_start(finished_run, tmp_path, capfd):
    """Killed during the first checkpoint: a partial checkpoint-2 and stale rollouts of steps 1-3."""
    out = copy_of(finished_run, tmp_path)
    shutil.rmtree(out / "checkpoint-4")
    truncate(out / "checkpoint-2" / "optimizer.pt")
    (out / "completions" / "completions_00004.parquet").unlink()
    cold = (out / "cold_start" / "model.safetensors").stat().st_mtime_ns
    assert train(out) == 0
    printed = capfd.readouterr().out
    assert "starting over, reusing base_model and cold_start" in printed
    assert (out / "cold_start" / "model.safetensors").stat().st_mtime_ns == cold
    assert_rollouts_exactly_once(out, 4)


@pytest.mark.slow
def test_a_half_written_cold_start_is_built_again(finished_run, tmp_path, capfd):
    """Killed during the cold start's save: nothing but the base model is reused."""
    out = copy_of(finished_run, tmp_path)
    for path in [*out.glob("checkpoint-*"), out / "completions"]:
        shutil.rmtree(path)
    truncate(out / "cold_start" / "model.safetensors")
    assert train(out) == 0
    printed = capfd.readouterr().out
    assert "starting over, reusing base_model" in printed and "cold start: 10 SFT steps" in printed
    assert_rollouts_exactly_once(out, 4)


HOLDER = textwrap.dedent("""
    import fcntl, os, sys
    fh = open(sys.argv[1], "a+")
    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    fh.truncate(0); fh.write(str(os.getpid())); fh.flush()
    print("locked", flush=True)
    sys.stdin.read()
""")


@pytest.mark.slow
def test_one_process_per_output_dir_and_a_dead_holders_lock_is_taken_over(finished_run, tmp_path, capfd):
    out = copy_of(finished_run, tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(out / "zero.lock")], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert train(out, "max_steps=6") == 2
        error = capfd.readouterr().err.strip().splitlines()[-1]
        assert error.startswith("zero.train: error:") and f"in use by another zero process (pid {holder.pid})" in error
        assert not (out / "completions" / "completions_00005.parquet").exists()
    finally:
        holder.stdin.close()
        holder.wait()
    assert train(out, "max_steps=6") == 0  # the holder died holding it: its lock is stale
    assert f"taking over the lock of pid {holder.pid}" in capfd.readouterr().out
    assert_rollouts_exactly_once(out, 6)


@pytest.mark.slow
def test_kill_9_mid_run_then_the_same_command_resumes(tmp_path):
    out = tmp_path / "run"
    proc = spawn(out, "max_steps=20")
    wait_for(out / "completions" / "completions_00003.parquet", proc)
    proc.kill()
    proc.wait()
    assert run_zero_train(str(TINY_RECIPE), f"output_dir={out}", *SMALL, "max_steps=20") == 0
    assert_rollouts_exactly_once(out, 20)


@pytest.mark.slow
@pytest.mark.parametrize("signum, code, extra", [(signal.SIGTERM, 143, []), (signal.SIGINT, 130, []),
                                                 (signal.SIGTERM, 143, ["enable_jit_checkpoint=true"])])
def test_a_signal_saves_a_checkpoint_at_the_end_of_the_step_and_says_where_to_resume(tmp_path, signum, code, extra):
    out = tmp_path / "run"
    proc = spawn(out, "max_steps=20", *extra)
    wait_for(out / "completions" / "completions_00001.parquet", proc)
    proc.send_signal(signum)
    printed, _ = proc.communicate(timeout=300)
    assert proc.returncode == code, printed[-3000:]
    last = printed.strip().splitlines()[-1]
    assert last.startswith(f"zero: stopped by {signal.Signals(signum).name} at step "), printed[-3000:]
    step = int(last.split(" at step ")[1].split()[0])
    assert f"checkpoint-{step} saved in {out}" in last and "Rerun the same command to resume" in last
    assert "zero: done" not in printed and "Traceback" not in printed
    assert not (out / "model.safetensors").exists()  # a stopped run is not saved as the final model
    assert_rollouts_exactly_once(out, step)
    if signum == signal.SIGTERM and not extra:
        assert run_zero_train(str(TINY_RECIPE), f"output_dir={out}", *SMALL, "max_steps=20") == 0
        assert_rollouts_exactly_once(out, 20)


@pytest.mark.slow
def test_a_signal_during_the_cold_start_stops_at_once_and_the_rerun_starts_over(tmp_path, capfd):
    out = tmp_path / "run"
    proc = spawn(out, "max_steps=4")  # the base model is built, then the cold start's SFT runs (seconds)
    wait_for(out / "base_model" / "tokenizer.json", proc)
    proc.send_signal(signal.SIGTERM)
    printed, _ = proc.communicate(timeout=300)
    assert proc.returncode == 143, printed[-3000:]
    assert printed.strip().splitlines()[-1] == "zero.train: stopped by SIGTERM; rerun the same command to go on"
    assert not (out / "cold_start" / "model.safetensors").exists()
    assert train(out) == 0
    assert "starting over, reusing base_model" in capfd.readouterr().out
    assert_rollouts_exactly_once(out, 4)


@pytest.mark.slow
def test_a_huge_learning_rate_stops_the_run_and_keeps_no_diverged_checkpoint(tmp_path, capfd):
    out = tmp_path / "run"
    # entropy_coef gives a gradient from the first step on (the rewards of a 10-step cold start are all 0)
    assert train(out, "learning_rate=1e30", "entropy_coef=0.01", "save_steps=1") == 1
    error = capfd.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("zero.train: error: training diverged after step 1:"), error
    assert "Last good checkpoint: none yet" in error
    assert not list(out.glob("checkpoint-*")) and (out / "broken_checkpoints" / "checkpoint-1").is_dir()


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 10 MB tmpfs: room for the base model and the cold start (3.1 MB each), not for the first checkpoint
    (the weights and twice as much optimizer state)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=10m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN): {mounted.stderr.strip()[:120]}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=True)


def remount(mnt: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(mnt)], check=True)


@pytest.mark.slow
def test_a_full_disk_then_a_read_only_one_are_one_line_errors_naming_the_path(small_tmpfs, capfd):
    out = small_tmpfs / "run"
    assert train(out) == 1
    error = capfd.readouterr().err.strip().splitlines()[-1]
    assert error == (f"zero.train: error: no space left on the device writing '{out / 'checkpoint-2'}': "
                     "free space there (or pick another output_dir) and rerun")
    remount(small_tmpfs, "size=64m")  # space freed: the same command goes on
    assert train(out) == 0
    assert "checkpoint-2 does not load" in capfd.readouterr().out
    assert_rollouts_exactly_once(out, 4)
    remount(small_tmpfs, "ro")
    assert train(out, "max_steps=6") == 2
    error = capfd.readouterr().err.strip().splitlines()[-1]
    assert error == (f"zero.train: error: output_dir '{out}': read-only file system writing '{out / 'zero.lock'}': "
                     "pick an output_dir you can write to")


@pytest.mark.parametrize("key, value", [("loss", math.nan), ("grad_norm", math.inf)])
def test_a_non_finite_loss_or_grad_norm_is_caught_before_that_step_is_saved(tmp_path, key, value):
    from transformers import TrainerControl, TrainerState

    from zero.run.guards import DivergenceGuard
    from zero.run.lifecycle import Diverged

    (tmp_path / "checkpoint-2").mkdir()
    state = TrainerState()
    state.global_step = 3
    with pytest.raises(Diverged, match=rf"diverged at step 3: {key} is {value}.*Last checkpoint: checkpoint-2"):
        DivergenceGuard(tmp_path).on_log(None, state, TrainerControl(), logs={"loss": 0.1, key: value})


def test_a_collapse_is_warned_about_once_and_logged(tmp_path, capsys):
    from transformers import TrainerControl, TrainerState

    from zero.run.guards import DivergenceGuard

    guard, state = DivergenceGuard(tmp_path, window=2), TrainerState()
    flags = []
    for step, (entropy, reward) in enumerate([(2.0, 0.5), (1.0, 0.6), (0.01, 0.3), (0.01, 0.2), (0.01, 0.1)], 1):
        state.global_step, logs = step, {"entropy": entropy, "reward": reward}
        guard.on_log(None, state, TrainerControl(), logs=logs)
        flags.append(logs["train/collapse"])
    assert flags == [0.0, 0.0, 0.0, 1.0, 1.0]
    assert capsys.readouterr().err.count("policy collapse at step 4") == 1


class _Server:
    """A loopback W&B stand-in: `mode` "hang" accepts connections and never answers; an int answers that status."""

    def __init__(self, mode):
        import http.server
        import socket
        import threading

        self.threads, self.held = [], []
        if mode == "hang":
            self.sock = socket.create_server(("127.0.0.1", 0))
            self.port = self.sock.getsockname()[1]
            self.threads.append(threading.Thread(target=self._hold, daemon=True))
        else:
            status = mode

            class Handler(http.server.BaseHTTPRequestHandler):
                def do_POST(self):
                    self.rfile.read(int(self.headers.get("Content-Length", 0)))
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")

                def log_message(self, *args):
                    pass

            self.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
            self.port = self.http.server_address[1]
            self.threads.append(threading.Thread(target=self.http.serve_forever, daemon=True))
        self.threads[0].start()

    def _hold(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)  # never read, never answered

    def close(self):
        if hasattr(self, "http"):
            self.http.shutdown()
            self.http.server_close()
        else:
            self.sock.close()
            for conn in self.held:
                conn.close()


@pytest.mark.parametrize("mode, reason", [("hang", "the server did not answer within 1 s"),
                                          (500, "the server answered HTTP 500"),
                                          (401, "the API key was refused")])
def test_wandb_that_hangs_errors_or_refuses_the_key_falls_back_to_offline(tmp_path, monkeypatch, capsys, mode, reason):
    import wandb

    from zero.telemetry import tracking

    server = _Server(mode)
    monkeypatch.delenv("WANDB_MODE")
    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{server.port}")
    monkeypatch.setattr(tracking, "PROBE_DEADLINE_S", 1.0)
    for key in ("WANDB_CONSOLE", "WANDB_INIT_TIMEOUT"):
        monkeypatch.delenv(key, raising=False)
    try:
        assert tracking.setup_wandb(tmp_path, "zero") == "offline"
        assert wandb.run is not None and wandb.run.settings.mode == "offline"
    finally:
        wandb.finish()
        wandb.teardown()
        server.close()
        for key in ("WANDB_MODE", "WANDB_RUN_ID", "WANDB_RESUME", "WANDB_DIR", "WANDB_PROJECT"):
            os.environ.pop(key, None)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("zero: W&B:")]
    assert lines == [f"zero: W&B: {reason}: logging offline to {tmp_path / 'wandb'} (wandb sync uploads it later)"]


def test_a_request_timing_out_reads_as_the_probe_s_deadline(monkeypatch):
    """The request's socket timeout and the probe's join expire at the same moment; whichever wins, one verdict."""
    from zero.telemetry import tracking

    server = _Server("hang")
    monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{server.port}")
    try:
        assert tracking._viewer("k" * 40, 1.0) == "the server did not answer within 1 s"
    finally:
        server.close()

def test_a_failing_wandb_init_falls_back_to_offline(tmp_path, monkeypatch, capsys):
    import wandb

    from zero.telemetry import tracking

    real_init, calls = wandb.init, []

    def init(**kwargs):
        calls.append(os.environ.get("WANDB_MODE"))
        if len(calls) == 1:
            raise wandb.errors.CommError("Failed to get resume status")
        return real_init(**kwargs)

    monkeypatch.setattr(wandb, "init", init)
    monkeypatch.delenv("WANDB_MODE")
    monkeypatch.setattr(tracking, "probe", lambda deadline_s: None)  # the server looked fine
    try:
        assert tracking.setup_wandb(tmp_path, "zero") == "offline"
        assert wandb.run is not None and wandb.run.settings.mode == "offline"
    finally:
        wandb.finish()
        wandb.teardown()
        for key in ("WANDB_MODE", "WANDB_RUN_ID", "WANDB_RESUME", "WANDB_DIR", "WANDB_PROJECT", "WANDB_CONSOLE",
                    "WANDB_INIT_TIMEOUT"):
            os.environ.pop(key, None)
    assert calls == [None, "offline"]
    assert "zero: W&B: wandb.init failed (CommError: Failed to get resume status): logging offline" in capsys.readouterr().out


@pytest.mark.slow
def test_replay_skips_a_truncated_rollout_file_naming_it(finished_run, tmp_path, capsys):
    from zero import replay

    out = copy_of(finished_run, tmp_path)
    bad = out / "completions" / "completions_00002.parquet"
    truncate(bad)
    df = replay.load_rollouts(out)  # what zero.replay and notebooks/replay.ipynb read
    assert sorted(df["step"].unique()) == [1, 3, 4]
    assert f"zero.replay: warning: skipping unreadable rollout file {bad}" in capsys.readouterr().err


def problems_file(tmp_path: Path, lines: list[bytes], suffix: str = ".jsonl") -> Path:
    path = tmp_path / f"problems{suffix}"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


GOOD = [b'{"problem": "1 + 2", "answer": "3"}', b'{"problem": "2 + 2", "answer": "4"}']


@pytest.mark.parametrize("lines, message", [
    (GOOD + [b'{"problem": "3 + 1", "answer": '], "line 3 is not valid JSON (Expecting value at column 32)"),
    (GOOD + [b'{"problem": "3 + 1", "answer": "4\xff"}'], "line 3 is not UTF-8 (byte 0xff at column 34)"),
    ([b'{"problem": "3 + 1", "answer": null}', b"", b"[1, 2]"], "line 3 is a JSON object per line is expected"),
])
def test_bad_data_lines_are_named_by_file_and_line_before_anything_is_written(tmp_path, capfd, lines, message):
    data = problems_file(tmp_path, lines)
    out = tmp_path / "run"
    assert run_zero_train(str(TINY_RECIPE), f"output_dir={out}", f"dataset_name={data}", *SMALL) == 2
    error = capfd.readouterr().err.strip().splitlines()[-1]
    assert error == f"zero.train: error: dataset file {str(data)!r} {message}: fix or delete it"
    assert not out.exists()


def test_null_and_empty_answers_are_skipped_and_counted(tmp_path, capsys):
    from trl import GRPOConfig

    from zero.config import ZeroConfig, parse
    from zero.train import training_set

    rows = GOOD + [b'{"problem": "3 + 1", "answer": null}', b'{"problem": "3 + 3", "answer": " "}',
                   b'{"problem": "", "answer": "0"}']
    cfg, args = parse([str(TINY_RECIPE), f"dataset_name={problems_file(tmp_path, rows)}"], (ZeroConfig, GRPOConfig))
    ds = training_set(cfg, args.seed)
    assert ds["solution"] == ["3", "4"]
    printed = capsys.readouterr().out
    assert "skipped 3 of 5 problems" in printed and "(rows 3, 4, 5)" in printed
    only_null = problems_file(tmp_path, [b'{"problem": "3 + 1", "answer": null}'])
    cfg, args = parse([str(TINY_RECIPE), f"dataset_name={only_null}"], (ZeroConfig, GRPOConfig))
    with pytest.raises(Exception, match="every one of its 1 rows has a null or empty 'problem' or 'answer'"):
        training_set(cfg, args.seed)


@pytest.mark.slow
def test_an_over_long_prompt_is_skipped_and_counted_before_training(tmp_path, capfd):
    huge = ("1 + " * 25_000 + "1").encode()  # 100 kB, 50k tokens: far past the tiny model's 512 positions
    data = problems_file(tmp_path, GOOD + [b'{"problem": "' + huge + b'", "answer": "25001"}'])
    out = tmp_path / "run"
    assert run_zero_train(str(TINY_RECIPE), f"output_dir={out}", f"dataset_name={data}", *SMALL, "max_steps=1") == 0
    printed = capfd.readouterr().out
    assert "skipped 1 of 3 problems" in printed and "whose prompt is longer than 464 tokens" in printed
    only_huge = problems_file(tmp_path, [b'{"problem": "' + huge + b'", "answer": "25001"}'])
    assert run_zero_train(str(TINY_RECIPE), f"output_dir={tmp_path / 'run2'}", f"dataset_name={only_huge}", *SMALL) == 2
    assert "every prompt is longer than the 464 tokens" in capfd.readouterr().err
    assert not (tmp_path / "run2").exists()


def test_a_duplicated_yaml_key_is_an_error(tmp_path, capfd):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(TINY_RECIPE.read_text() + "\nlearning_rate: 1.0\n")
    line = TINY_RECIPE.read_text().splitlines().index(
        next(l for l in TINY_RECIPE.read_text().splitlines() if l.startswith("learning_rate:"))) + 1
    total = len(TINY_RECIPE.read_text().splitlines()) + 2
    assert run_zero_train(str(recipe), f"output_dir={tmp_path / 'run'}") == 2
    error = capfd.readouterr().err.strip().splitlines()[-1]
    assert error == (f"zero.train: error: config file {str(recipe)!r}: key 'learning_rate' appears twice "
                     f"(lines {line} and {total}): keep one")


def test_use_vllm_without_vllm_installed_is_refused_before_anything_is_written(tmp_path, capfd, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else real(name, *a))
    out = tmp_path / "run"
    assert run_zero_train(str(TINY_RECIPE), f"output_dir={out}", *SMALL, "use_vllm=true") == 2
    assert "use_vllm=true but vllm is not installed" in capfd.readouterr().err
    assert not out.exists()
