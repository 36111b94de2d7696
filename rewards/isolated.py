"""A user's reward, run in a worker process with a hard deadline per call, so a reward that hangs cannot stall
the run: past `timeout_s` the worker is killed (SIGKILL reaches code stuck in C or in a sleep, which no thread and
no signal handler in the trainer can), the batch scores None for that reward (TRL's "cannot score", counted in
``rewards/<name>/timeouts``), and the next call starts a fresh worker.

The worker is a fresh interpreter, as `rewards.pool`'s are, never a fork of the trainer (torch threads, CUDA,
vLLM). It loads the entry itself (`rewards.loader.load_reward`, from the same working directory and `sys.path`),
says ready, and then serves calls; start-up and the import of the user's module never count against a deadline.
A call carries TRL's keyword arguments: ``trainer_state`` as a namespace of its plain fields (``global_step``,
``max_steps``, ``epoch``, ...; `state_snapshot`), and ``log_metric`` / ``log_extra`` calls made in the worker are
recorded and replayed in the trainer.

>>> reward = IsolatedReward("rewards.format:format_reward", {}, timeout_s=60)
>>> reward(completions=["<think> a </think> <answer> 1 </answer>", "no tags"])
[1.0, 0.0]
>>> reward.close()
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
import time
import weakref
from collections.abc import Mapping
from multiprocessing.connection import Connection
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from rewards.loader import RewardError, call_arguments, load_reward

START_TIMEOUT_S = 300.0  # importing a user's module (torch, trl) can take a minute on a loaded machine
_UNSENDABLE = ("log_metric", "log_extra", "environments")  # live objects of the trainer; replayed, never sent


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []

    def metric(self, key: str, value: Any) -> None:
        self.calls.append(("log_metric", key, value))

    def extra(self, key: str, values: Any) -> None:
        self.calls.append(("log_extra", key, values))


def worker_main(read_fd: int, write_fd: int) -> None:
    """Load one reward and serve calls until the parent sends None or goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the trainer's to handle; it then kills us
    inbox, outbox = Connection(read_fd, writable=False), Connection(write_fd, readable=False)
    entry, kwargs = inbox.recv()
    try:
        func = load_reward(entry, kwargs).func
    except Exception as e:  # reported to the parent, which raises it there with the entry's name
        outbox.send(("error", f"{type(e).__name__}: {e}"))
        return
    outbox.send(("ready",))
    while True:
        try:
            message = inbox.recv()
        except EOFError:
            return
        if message is None:
            return
        recorder = _Recorder()
        try:
            scores = func(**call_arguments(func, **message, log_metric=recorder.metric, log_extra=recorder.extra))
            outbox.send(("ok", list(scores) if scores is not None else None, recorder.calls))
        except Exception as e:  # the user's code: any failure is reported, the parent decides
            outbox.send(("raised", f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}", []))


def state_snapshot(state: Any) -> SimpleNamespace:
    """The trainer state's plain fields (global_step, max_steps, epoch, ...) as a namespace that pickles without
    transformers (unpickling a TrainerState imports it: 20 s on a loaded 2-core machine, inside the deadline); the
    log history and callback states stay behind."""
    fields = getattr(state, "__dict__", {})
    keep = {k: v for k, v in fields.items() if isinstance(v, (int, float, str, bool, type(None)))}
    return SimpleNamespace(**keep)


class IsolatedReward:
    """`entry` (with `kwargs`) called in a worker process, `timeout_s` seconds at most per call. Returns the scores,
    or None when the call ran past the deadline (the worker is then killed); `timeouts` counts those."""

    def __init__(self, entry: str, kwargs: Mapping[str, Any] | None, timeout_s: float):
        self.entry, self.kwargs, self.timeout_s = entry, dict(kwargs or {}), timeout_s
        self.timeouts = 0
        self._process: subprocess.Popen | None = None
        self._pid = os.getpid()
        _LIVE.add(self)

    def _start(self) -> None:
        parent_read, child_write = os.pipe()
        child_read, parent_write = os.pipe()
        package_root = str(Path(__file__).resolve().parent.parent)
        code = f"from rewards.isolated import worker_main; worker_main({child_read}, {child_write})"
        env = dict(os.environ)  # the worker finds the user's modules where the trainer does
        env["PYTHONPATH"] = os.pathsep.join([package_root, *[p for p in sys.path if p]])
        self._process = subprocess.Popen([sys.executable, "-c", code], pass_fds=(child_read, child_write),
                                         stdin=subprocess.DEVNULL, env=env)
        os.close(child_read)
        os.close(child_write)
        self._inbox = Connection(parent_read, writable=False)
        self._outbox = Connection(parent_write, readable=False)
        self._outbox.send((self.entry, self.kwargs))
        if not self._inbox.poll(START_TIMEOUT_S):
            self.close()
            raise RewardError(f"reward {self.entry!r}: its worker did not load it within {START_TIMEOUT_S:.0f} s")
        try:
            reply = self._inbox.recv()
        except EOFError:
            self.close()
            raise RewardError(f"reward {self.entry!r}: its worker died while loading it") from None
        if reply[0] == "error":
            self.close()
            raise RewardError(f"reward {self.entry!r}: loading it in its worker failed: {reply[1]}")

    def __call__(self, **call_kwargs: Any) -> list | None:
        if self._process is None or self._pid != os.getpid() or self._process.poll() is not None:
            self._pid = os.getpid()
            self._start()
        replay = {k: call_kwargs.pop(k) for k in _UNSENDABLE if k in call_kwargs}
        if call_kwargs.get("trainer_state") is not None:
            call_kwargs["trainer_state"] = state_snapshot(call_kwargs["trainer_state"])
        started = time.monotonic()
        try:
            self._outbox.send(call_kwargs)
        except (TypeError, AttributeError, ValueError) as e:  # pickling: a column or state that cannot travel
            raise RewardError(f"reward {self.entry!r}: its arguments cannot be sent to its worker ({e}); "
                              "set custom_reward_timeout_s=none to run it in the training process") from None
        if not self._inbox.poll(max(0.0, self.timeout_s - (time.monotonic() - started))):
            self.timeouts += 1
            self.close()
            return None
        try:
            status, scores, calls = self._inbox.recv()
        except EOFError:  # the worker died (a segfault, os._exit in the user's code): like a raise
            self.close()
            raise RewardError(f"reward {self.entry!r}: its worker process died during the call") from None
        if status == "raised":
            raise RewardError(f"reward {self.entry!r} raised {scores}")
        for kind, key, value in calls:
            if replay.get(kind) is not None:
                replay[kind](key, value)
        return scores

    def close(self) -> None:
        """Kill the worker (a fresh one starts on the next call)."""
        if self._process is not None and self._pid == os.getpid():
            self._process.kill()
            self._process.wait()
            self._inbox.close()
            self._outbox.close()
        self._process = None


_LIVE: weakref.WeakSet[IsolatedReward] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for reward in list(_LIVE):
        reward.close()
