"""Worker processes that run math-verify with a hard deadline per answer.

Why processes: math-verify bounds its own time with ``signal.alarm``, which works only in a main thread (in any
other thread ``parse`` raises ValueError) and cannot interrupt sympy stuck in C; pathological answers cost 3-5 s
each even when the alarm works. Here every worker is the main thread of its own process: it arms a sub-second
timer per answer (`rewards.verify.soft_deadline`, reported as a timeout), and the parent kills and replaces any
worker still silent at the hard deadline. Either way the answer scores 0 and is counted.

Protocol: the parent sends a worker one *task* at a time, ``(task_id, gold, predictions, timeout_s)``: one gold
with the distinct predictions for it, so each gold is parsed once per prompt (and kept, per worker, across
steps). The worker replies ``("gold", task_id, ok)`` and then ``("item", task_id, j, verdict)`` per prediction;
each reply restarts that worker's deadline. A killed worker's remaining predictions go back on the queue.

Workers are fresh interpreters (``python -c "from rewards.pool import worker_main; ..."``) talking over two
pipes, not ``multiprocessing`` children: they never fork the trainer (torch threads, CUDA, vLLM), never re-import
the caller's ``__main__`` (a training script without an ``if __name__ == "__main__"`` guard, a notebook), and a
worker announces ``("ready",)`` after its imports, so its ~0.5 s start-up never counts against a deadline. The
pool starts lazily on first use, once per process (a forked child starts its own), and is shut down at
interpreter exit or by `shutdown()`.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path

CORRECT, WRONG, TIMEOUT = 1, 0, -1
SOFT_FRACTION = 0.8  # the worker gives up at 80 % of the deadline, so the kill is only for code deaf to signals
GOLD_CACHE_SIZE = 4096
MEMORY_LIMIT_BYTES = 4 << 30  # address-space cap per worker: a 10^(10^9) integer raises MemoryError, not OOM
START_TIMEOUT_S = 120.0  # a worker that has not imported math-verify by then is broken, not slow


def worker_main(read_fd: int, write_fd: int, memory_limit: int) -> None:
    """Serve tasks until the parent sends None or goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it then shuts us down
    if memory_limit:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    from rewards.verify import SoftDeadline, clear_caches, parse_gold, soft_deadline, verify_answer

    verify_answer(parse_gold("\\frac{1}{2}"), "0.5")  # builds the LaTeX grammar (~0.3 s) before we say ready
    inbox, outbox = Connection(read_fd, writable=False), Connection(write_fd, readable=False)
    outbox.send(("ready",))
    golds: OrderedDict[str, list] = OrderedDict()
    while True:
        try:
            message = inbox.recv()
        except EOFError:  # the parent exited without saying goodbye
            return
        if message is None:
            return
        if message == "clear":
            golds.clear()
            clear_caches()
            outbox.send(("cleared",))
            continue
        task_id, gold, predictions, timeout_s = message
        soft_s = timeout_s * SOFT_FRACTION
        parsed = golds.get(gold)
        if parsed is None:
            try:
                with soft_deadline(soft_s):
                    parsed = parse_gold(gold)
            except SoftDeadline:
                outbox.send(("gold", task_id, None))
                continue
            golds[gold] = parsed
            if len(golds) > GOLD_CACHE_SIZE:
                golds.popitem(last=False)
        golds.move_to_end(gold)
        outbox.send(("gold", task_id, bool(parsed)))
        if not parsed:
            continue
        for j, prediction in enumerate(predictions):
            try:
                with soft_deadline(soft_s):
                    verdict = CORRECT if verify_answer(parsed, prediction) else WRONG
            except SoftDeadline:
                verdict = TIMEOUT
            outbox.send(("item", task_id, j, verdict))


@dataclass
class TaskResult:
    """What the pool learnt about one gold and its predictions."""

    gold_ok: bool | None = None  # None: the gold's parse ran out of time
    verdicts: list[int] = field(default_factory=list)  # CORRECT, WRONG or TIMEOUT per prediction
    kills: int = 0  # workers killed at the hard deadline (or found dead) while on this task
    longest_s: float = 0.0  # the longest a worker spent on one step (gold parse or one prediction) of this task


@dataclass
class _Job:
    task_id: int
    offset: int  # index of the first prediction sent
    deadline: float
    gold_seen: bool = False
    done: int = 0
    dead: bool = False  # the worker's pipe closed: it died mid-task


class _Worker:
    """One worker interpreter and the two pipe ends that talk to it."""

    def __init__(self, memory_limit: int | None):
        parent_read, child_write = os.pipe()
        child_read, parent_write = os.pipe()
        package_root = str(Path(__file__).resolve().parent.parent)  # the worker imports this very package, even
        code = (  # when the caller's cwd or sys.path holds something else named `rewards`
            f"import sys; sys.path.insert(0, {package_root!r}); from rewards.pool import worker_main; "
            f"worker_main({child_read}, {child_write}, {memory_limit or 0})"
        )
        self.process = subprocess.Popen(
            [sys.executable, "-c", code], pass_fds=(child_read, child_write), stdin=subprocess.DEVNULL
        )
        os.close(child_read)
        os.close(child_write)
        self.inbox = Connection(parent_read, writable=False)
        self.outbox = Connection(parent_write, readable=False)
        self.started = time.monotonic()
        self.ready = False

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        self.inbox.close()
        self.outbox.close()

    def stop(self, grace_s: float = 2.0) -> None:
        try:
            self.outbox.send(None)
        except OSError:  # already dead (BrokenPipeError): nothing to tell it
            pass
        try:
            self.process.wait(grace_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.inbox.close()
        self.outbox.close()


def default_workers() -> int:
    """CPU cores available to this process, shared among the trainer's local processes (at least 1)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))


class GradingPool:
    """A fixed set of grading workers; `run` grades tasks with a per-answer deadline."""

    def __init__(self, workers: int | None = None, memory_limit: int | None = MEMORY_LIMIT_BYTES):
        self.size = workers or default_workers()
        self._memory_limit = memory_limit
        self._workers = [_Worker(memory_limit) for _ in range(self.size)]
        self.pid = os.getpid()
        self.kills = 0  # over the pool's life

    def run(self, tasks: list[tuple[str, list[str]]], timeout_s: float) -> list[TaskResult]:
        """Grade each (gold, predictions) task; every prediction gets a verdict within about `timeout_s`."""
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        results = [TaskResult(verdicts=[TIMEOUT] * len(preds)) for _, preds in tasks]
        queue = deque((task_id, 0) for task_id in range(len(tasks)))
        idle = [w for w, worker in enumerate(self._workers) if worker.ready]
        busy: dict[int, _Job] = {}
        while queue or busy:
            while queue and idle:
                w, (task_id, offset) = idle.pop(), queue.popleft()
                gold, predictions = tasks[task_id]
                self._workers[w].outbox.send((task_id, gold, predictions[offset:], timeout_s))
                busy[w] = _Job(task_id, offset, time.monotonic() + timeout_s)
            booting = [w for w, worker in enumerate(self._workers) if not worker.ready]
            by_conn = {self._workers[w].inbox: w for w in [*busy, *booting]}
            deadlines = [job.deadline for job in busy.values()]
            deadlines += [self._workers[w].started + START_TIMEOUT_S for w in booting]
            for conn in wait(list(by_conn), timeout=max(0.0, min(deadlines) - time.monotonic())):
                w = by_conn[conn]
                try:
                    message = conn.recv()
                except EOFError:  # the worker died (e.g. killed by the OS): same as an overrun
                    if w not in busy:
                        raise RuntimeError(self._start_failure(w)) from None
                    busy[w].dead = True
                    continue
                if message[0] == "ready":
                    self._workers[w].ready = True
                    idle.append(w)
                    continue
                job = busy[w]
                now = time.monotonic()
                result = results[job.task_id]
                result.longest_s = max(result.longest_s, now - (job.deadline - timeout_s))
                job.deadline = now + timeout_s
                if message[0] == "gold":
                    job.gold_seen = True
                    result.gold_ok = message[2]
                    if not message[2] or job.offset == len(tasks[job.task_id][1]):  # nothing (left) to verify
                        del busy[w]
                        idle.append(w)
                    continue
                _, _, j, verdict = message
                result.verdicts[job.offset + j] = verdict
                job.done += 1
                if job.offset + job.done == len(tasks[job.task_id][1]):
                    del busy[w]
                    idle.append(w)
            now = time.monotonic()
            for w in booting:
                if not self._workers[w].ready and now > self._workers[w].started + START_TIMEOUT_S:
                    raise RuntimeError(self._start_failure(w))
            for w, job in list(busy.items()):
                if job.deadline > now and not job.dead:
                    continue
                self._replace(w)
                results[job.task_id].kills += 1
                results[job.task_id].longest_s = max(results[job.task_id].longest_s, now - (job.deadline - timeout_s))
                del busy[w]
                if not job.gold_seen:  # the gold's own parse overran: the gold counts as unparseable
                    results[job.task_id].gold_ok = None
                    continue
                stuck = job.offset + job.done  # stays TIMEOUT
                if stuck + 1 < len(tasks[job.task_id][1]):
                    queue.appendleft((job.task_id, stuck + 1))
        return results

    def clear_caches(self) -> None:
        """Make every worker forget its parsed golds and sympy's and math-verify's caches (for benchmarks that
        must not grade strings a worker has seen before, and to return memory)."""
        for worker in self._workers:
            if not worker.ready:
                continue
            worker.outbox.send("clear")
            if worker.inbox.recv() != ("cleared",):
                raise RuntimeError(f"grading worker (pid {worker.process.pid}) answered out of turn")

    def _start_failure(self, w: int) -> str:
        worker = self._workers[w]
        return (
            f"grading worker {w} (pid {worker.process.pid}) did not start: exit code {worker.process.poll()}; "
            f"check that `python -c 'import rewards.verify'` works in this environment (see its stderr above)"
        )

    def _replace(self, w: int) -> None:
        """Kill worker `w` and start another in its place; it joins the idle set once it says it is ready."""
        self._workers[w].kill()
        self._workers[w] = _Worker(self._memory_limit)
        self.kills += 1

    def close(self) -> None:
        for worker in self._workers:
            worker.stop()
        self._workers = []


_POOL: GradingPool | None = None
_LOCK = threading.Lock()
_WORKERS: int | None = None


def configure(workers: int | None = None) -> None:
    """Set the number of workers for the pool that starts next (default: `default_workers()`)."""
    global _WORKERS
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    _WORKERS = workers


def get_pool() -> GradingPool:
    """The process's pool, started on first use."""
    global _POOL
    with _LOCK:
        if _POOL is None or _POOL.pid != os.getpid():  # a forked child must not talk to its parent's workers
            _POOL = GradingPool(_WORKERS)
        return _POOL


def run(tasks: list[tuple[str, list[str]]], timeout_s: float) -> list[TaskResult]:
    """`GradingPool.run` on the process's pool, one batch at a time."""
    pool = get_pool()
    with _LOCK:
        return pool.run(tasks, timeout_s)


def shutdown() -> None:
    """Stop the workers (registered with atexit; safe to call twice). The next grade starts a new pool."""
    global _POOL
    with _LOCK:
        if _POOL is not None and _POOL.pid == os.getpid():
            _POOL.close()
        _POOL = None


atexit.register(shutdown)
