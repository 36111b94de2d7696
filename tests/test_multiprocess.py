"""zero.train with two processes on CPUs (DDP over gloo), launched as the README says.

Run: python -m pytest tests/test_multiprocess.py -m "not slow"     (the 2-process smoke run and its resume: ~2 min)
     python -m pytest tests/test_multiprocess.py                   (+ 1 vs 2 processes learning alike: minutes)
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO, TINY_RECIPE

# The smoke run of test_train.py, on two processes: 8 completions per process, 16 per step.
FAST = ["cold_start_steps=40", "cold_start_learning_rate=3e-3", "num_generations=4", "per_device_train_batch_size=8",
        "tiny_num_problems=40", "disable_tqdm=true", "save_steps=1", "use_cpu=true"]
# 5 problems x 1 sample over 2 processes: shares of 3 and 2 (+1 filler), 2 batches each.
EVAL = ["eval_every=2", "eval_benchmarks=gsm8k", "eval_limit=5", "eval_n=1", "eval_max_tokens=8", "eval_batch_size=2"]


def free_port() -> int:
    with socket.socket() as s:  # other test sessions may launch on the same machine: never the default 29500
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(num_processes: int, *argv: str, cpu_flag: str = "--multi_gpu", timeout: int = 900):
    """`accelerate launch ... -m zero.train ARGV`, W&B offline."""
    command = [sys.executable, "-m", "accelerate.commands.launch", cpu_flag, "--num_processes", str(num_processes),
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", str(free_port()), "-m", "zero.train", *argv]
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=env, timeout=timeout)


@pytest.fixture(scope="session")
def two_process_run(tmp_path_factory) -> Path:
    """Two GRPO steps on two processes, with W&B (offline) and an evaluation at step 2."""
    out = tmp_path_factory.mktemp("ddp") / "run"
    result = launch(2, str(TINY_RECIPE), f"output_dir={out}", *FAST, "max_steps=2", *EVAL)
    assert result.returncode == 0, result.stderr[-4000:]
    return out


def test_every_rank_s_rollouts_land_once_per_step_with_global_metrics(two_process_run):
    from zero import replay

    out = two_process_run
    files = sorted((out / "completions").glob("completions_*.parquet"))
    assert [f.name for f in files] == ["completions_00001.parquet", "completions_00002.parquet"]
    history = json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())["log_history"]
    for step, f in enumerate(files, start=1):
        df = pd.read_parquet(f)
        assert len(df) == 16 and (df["step"] == step).all() and (df["rollout_step"] == step).all()
        groups = df["prompt_id"].to_numpy().reshape(-1, 4)  # 4 prompts x num_generations, in sampler order
        assert (groups == groups[:, :1]).all()
        # zero's log_extra columns and TRL's own columns were gathered in the same order
        assert all(f"{a} + {b}" in p for (a, b), p in zip(df["prompt_id"].str.split("+"), df["prompt"]))
        assert ((df["reward"] - (df["reward_accuracy"] + 0.1 * df["reward_format"])).abs() < 1e-9).all()
        # the logged metrics are over both processes' completions, not the main process's half
        logged = next(e for e in history if e.get("step") == step and "reward" in e)
        assert logged["rewards/reward_accuracy/mean"] == pytest.approx(df["reward_accuracy"].mean())
        assert logged["reasoning/length/mean"] == pytest.approx(df["completion_tokens"].mean())
        assert logged["completions/mean_length"] == pytest.approx(df["completion_tokens"].mean())
    assert replay.load_rollouts(out).groupby("step").size().tolist() == [16, 16]
    assert len(list((out / "wandb").glob("offline-run-*"))) == 1, "W&B must be written by the main process only"
    assert (out / "cold_start" / "model.safetensors").exists() and (out / "model.safetensors").exists()


def test_the_evaluation_is_generated_by_every_rank_and_written_once(two_process_run):
    """The sharded evaluation draws exactly the samples one process draws (samples are seeded per request)."""
    from zero.eval import EvalConfig, evaluate, read_samples

    step_dir = two_process_run / "eval" / "step_000002"
    sharded = read_samples(step_dir / "samples_gsm8k.jsonl")  # raises on a (prompt_id, sample) written twice
    assert len(sharded) == 5 and {r["sample"] for r in sharded} == {0}  # the fillers were dropped
    results = json.loads((step_dir / "results.json").read_text())
    assert results["benchmarks"]["gsm8k"]["num_problems"] == 5
    history = json.loads((two_process_run / "checkpoint-2" / "trainer_state.json").read_text())["log_history"]
    assert any("eval/gsm8k/pass@1" in e for e in history)

    # the model after step 2 is the one saved at the end of the run
    single = evaluate(EvalConfig(model=str(two_process_run), benchmarks=["gsm8k"], limit=5, n=1, max_tokens=8,
                                 temperature=0.6, template="r1_zero", seed=0, batch_size=2, backend="hf",
                                 output_dir=str(two_process_run.parent / "single_eval")))
    alone = {(r["prompt_id"], r["sample"]): r["completion"]
             for r in read_samples(two_process_run.parent / "single_eval" / "samples_gsm8k.jsonl")}
    assert {(r["prompt_id"], r["sample"]): r["completion"] for r in sharded} == alone
    assert single["benchmarks"]["gsm8k"]["pass@1"] == results["benchmarks"]["gsm8k"]["pass@1"]


def test_two_processes_resume_without_duplicating_rollouts(two_process_run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(two_process_run, out)
    first = pd.read_parquet(out / "completions" / "completions_00002.parquet")
    result = launch(2, str(TINY_RECIPE), f"output_dir={out}", *FAST, "max_steps=4", "report_to=none")
    assert result.returncode == 0, result.stderr[-4000:]
    assert "resuming" in result.stdout and "from checkpoint-2" in result.stdout
    files = sorted(p.name for p in (out / "completions").glob("*.parquet"))
    assert files == [f"completions_{i:05d}.parquet" for i in range(1, 5)]
    assert pd.read_parquet(out / "completions" / "completions_00002.parquet").equals(first)
    for step in (3, 4):
        assert len(pd.read_parquet(out / "completions" / f"completions_{step:05d}.parquet")) == 16
    state = json.loads((out / "checkpoint-4" / "trainer_state.json").read_text())
    assert state["global_step"] == 4
    assert {p.name for p in (out / "checkpoint-4").glob("rng_state_*.pth")} == {"rng_state_0.pth", "rng_state_1.pth"}


def test_accelerate_cpu_flag_with_two_processes_is_refused(tmp_path):
    """accelerate 1.15 starts one process for `--cpu --num_processes 2` (without mpirun): say so, train nothing."""
    out = tmp_path / "run"
    result = launch(2, str(TINY_RECIPE), f"output_dir={out}", cpu_flag="--cpu", timeout=300)
    assert result.returncode != 0
    assert "zero.train: error: accelerate launch --cpu with --num_processes > 1 started one process" in result.stderr
    assert not out.exists()


def test_the_reward_pool_is_sized_per_process(tmp_path):
    """Each of the launch's processes sizes its grading pool to its share of the cores."""
    script = tmp_path / "workers.py"
    script.write_text("import os, rewards.pool as p\n"
                      "print('workers', os.environ['RANK'], p.default_workers(), len(os.sched_getaffinity(0)))\n")
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", str(free_port()), str(script)]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr[-2000:]
    lines = sorted(line.split()[1:] for line in result.stdout.splitlines() if line.startswith("workers "))
    assert [rank for rank, _, _ in lines] == ["0", "1"]
    for _, workers, cores in lines:
        assert int(workers) == max(1, int(cores) // 2)


def test_default_workers_divides_the_cores_among_local_processes(monkeypatch):
    from rewards import pool

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    for local, workers in (("1", 16), ("2", 8), ("8", 2), ("32", 1)):
        monkeypatch.setenv("LOCAL_WORLD_SIZE", local)
        assert pool.default_workers() == workers


class _Recorder:
    """A generator that answers each request with its key and records what this process generated."""

    name = "recorder"

    def __init__(self, batch_size: int):
        self.batch_size, self.batches = batch_size, []

    def generate(self, requests, sampling, on_done):
        from zero.generation import Sample

        for start in range(0, len(requests), self.batch_size):
            batch = requests[start : start + self.batch_size]
            self.batches.append([r.key for r in batch])
            on_done([Sample(r.key, r.prompt_ids, [1], str(r.key), False) for r in batch])


def _sharded_worker(rank: int, world: int, port: int, out: str) -> None:
    import torch.distributed as dist

    from zero.generation import Request, Sampling, ShardedGenerator

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    inner = _Recorder(batch_size=2)
    sharded = ShardedGenerator(inner)
    received = []
    if rank == 0:
        requests = [Request(("gsm8k", str(i), 0), [i], i) for i in range(5)]
        sharded.generate(requests, Sampling(1.0, 1.0, 4), lambda samples: received.append([s.key for s in samples]))
        sharded.generate(requests[:1], Sampling(1.0, 1.0, 4), lambda samples: received.append([s.key for s in samples]))
        sharded.finish()
    else:
        sharded.serve()
    Path(out, f"rank{rank}.json").write_text(json.dumps({"batches": inner.batches, "received": received}))
    dist.destroy_process_group()


def test_sharded_generation_gives_every_rank_an_equal_share(tmp_path):
    """5 requests over 2 processes: 3 and 2 (+1 filler) each, the same number of batches on both (FSDP and ZeRO-3
    need every process in each forward), and the main process receives each real sample once."""
    import torch.multiprocessing as mp

    mp.spawn(_sharded_worker, args=(2, free_port(), str(tmp_path)), nprocs=2)
    main, other = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    key = lambda i: ["gsm8k", str(i), 0]  # noqa: E731 (JSON turns the key tuples into lists)
    pad = ["zero.pad"]
    assert main["batches"] == [[key(0), key(2)], [key(4)], [key(0)]]
    assert other["batches"] == [[key(1), key(3)], [pad], [pad]]
    assert sorted(k for batch in main["received"][:2] for k in batch) == [key(i) for i in range(5)]
    assert main["received"][2] == [key(0)] and other["received"] == []
