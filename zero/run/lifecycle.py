"""A run's life as a process: one process per output_dir, a clean stop on SIGTERM/SIGINT, divergence caught.
Its trainer callbacks (`StopCallback`, `DivergenceGuard`) live in zero.run.guards, which imports transformers.

- `hold_run_dir`: an exclusive `flock` on `output_dir/zero.lock`, held until the process exits. A second zero
  process on the same directory exits 2 naming the holder's pid. The kernel drops the lock when its holder dies
  (even by kill -9), so a stale lock is simply taken over; the file is never deleted (deleting it would let two
  processes lock two different files of the same name). `claim` takes it for a planned output_dir and plans again.
- `Stops`: SIGTERM (what schedulers and preemption send) and SIGINT (Ctrl-C). Before training they stop the
  process at once (nothing worth keeping is half done: a rerun starts over, reusing a complete cold start).
  During training the first signal lets the current step finish, saves a checkpoint and ends training; a
  second one stops at once. Either way the exit code is 128 + the signal (143, 130) and one line says where
  the run resumes. Transformers' own `enable_jit_checkpoint` covers only SIGTERM, waits 3 s on a timer thread
  and lets the caller print "done" for a stopped run; `guards.StopCallback` replaces it.
- `guards.DivergenceGuard`: a non-finite loss or gradient norm ends the run (exit 1) before that step is
  checkpointed; a collapse (policy entropy near 0 while the reward falls) is warned about in the log and W&B.
- `guarded`: the entry point's wrapper that turns these outcomes, and a full or read-only disk, into one line
  and an exit code.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import os
import signal
import sys
import threading
from pathlib import Path

from rewards.loader import RewardError
from zero.config import ConfigError
from zero.run import launch
from zero.run.output_dir import BROKEN_DIR, Plan, checkpoint_step, plan_output_dir, save_final

LOCK_FILE = "zero.lock"
EXIT_DIVERGED = 1


class Stopped(BaseException):
    """A stop signal took effect (a BaseException, like KeyboardInterrupt: `except Exception` must not eat it)."""

    def __init__(self, signum: int, message: str = ""):
        super().__init__(message or signal.Signals(signum).name)
        self.signum = signum
        self.message = message


class Diverged(RuntimeError):
    """Training produced non-finite numbers; the message says where and which checkpoint is the last good one."""


_held: list = []  # open lock files: kept referenced so the locks live as long as the process


def hold_run_dir(output_dir: str | Path, prog: str = "zero") -> Path:
    """Take the output_dir's lock for the rest of this process's life; ConfigError when another process holds it."""
    output_dir = Path(output_dir)
    path = output_dir / LOCK_FILE
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        fh = open(path, "a+")
    except OSError as e:
        raise ConfigError(f"output_dir {str(output_dir)!r}: {disk_error(e) or e}") from None
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip() or "?"
        fh.close()
        raise ConfigError(
            f"output_dir {str(output_dir)!r} is in use by another zero process (pid {holder}): wait for it to "
            f"finish, stop it (kill {holder}; it saves a checkpoint), or pick another output_dir"
        ) from None
    fh.seek(0)
    previous = fh.read().strip()
    if previous.isdigit() and int(previous) != os.getpid():
        print(f"{prog}: taking over the lock of pid {previous}, which stopped without releasing it")
    fh.seek(0)
    fh.truncate()
    fh.write(str(os.getpid()))
    fh.flush()
    _held.append(fh)
    return path


def claim(plan: Plan, resume: str, max_steps: int, prog: str = "zero") -> Plan:
    """Take the lock of the planned output_dir (`hold_run_dir`, main process only: it holds it for life) and plan
    again (`plan_output_dir`, same `resume` and `max_steps`), now that no other run can change the directory.
    Other processes keep the plan they read. zero.train's and zero.sft's one way to claim their output_dir."""
    if not launch.is_main():
        return plan
    hold_run_dir(plan.output_dir, prog)
    return plan_output_dir(plan.output_dir, resume, max_steps, plan.config_file, plan.checkpoints)


def release_run_dirs() -> None:
    """Release the locks `hold_run_dir` took in this process (a clean exit: the pid is cleared, the file kept)."""
    for fh in list(_held):
        fh.seek(0)
        fh.truncate()
        fh.flush()
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()
        _held.remove(fh)


class Stops:
    """SIGTERM/SIGINT handlers for the life of a command. Call `defer()` when training starts."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self, prog: str = "zero"):
        self.prog = prog  # the command named in the line a signal prints
        self.signum: int | None = None  # the first signal received while deferring
        self.deferring = False
        self._previous: dict[int, object] = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers can only be set from the main thread (zero.train run inside a thread)
        for s in self.SIGNALS:
            self._previous.setdefault(s, signal.signal(s, self._handle))  # `restore` goes back to the first ones

    def restore(self) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous.clear()

    def defer(self) -> None:
        """From now on the first signal only asks to stop at the end of the current step."""
        self.deferring = True

    def _handle(self, signum, frame) -> None:
        if self.deferring and self.signum is None:
            self.signum = signum
            print(
                f"{self.prog}: {signal.Signals(signum).name} received: finishing this step and saving a checkpoint "
                "(send it again to stop at once)",
                file=sys.stderr,
                flush=True,
            )
            return
        raise Stopped(signum)


def last_checkpoint(output_dir: Path) -> str:
    """The newest checkpoint's name, for the line that says where a stopped run stands."""
    steps = sorted(checkpoint_step(p) for p in Path(output_dir).glob("checkpoint-*") if checkpoint_step(p) >= 0)
    return f"checkpoint-{steps[-1]}" if steps else "none yet (a rerun starts over)"


def _sampling_diverged(e: BaseException) -> bool:
    # torch.multinomial in HF generation, on logits that overflowed: the policy's weights produce inf/nan
    return isinstance(e, RuntimeError) and "probability tensor contains" in str(e)


def train(trainer, checkpoint: str | None, stops: Stops, prog: str = "zero") -> int | None:
    """`trainer.train(resume_from_checkpoint=checkpoint)`; None when it reached max_steps, else the exit code
    (one line printed) of a run that stopped early: a signal (128 + signum) or anything else (1)."""
    try:
        trainer.train(resume_from_checkpoint=checkpoint)
    except RuntimeError as e:
        step, out = trainer.state.global_step, Path(trainer.args.output_dir)
        if _short_write(e):  # torch.save on a full disk: "[enforce fail at inline_container.cc] unexpected pos"
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(out / f"checkpoint-{step}")) from e
        if not _sampling_diverged(e):
            raise
        # The weights of global_step produced inf/nan logits while sampling: their checkpoint would fail the
        # same way on resume, so it is moved aside and the one before is named.
        bad = out / f"checkpoint-{step}"
        if bad.is_dir() and launch.is_main():
            (out / BROKEN_DIR).mkdir(exist_ok=True)
            bad.rename(out / BROKEN_DIR / bad.name)
        raise Diverged(
            f"training diverged after step {step}: the policy's probabilities are not finite "
            f"({str(e).splitlines()[0][:80]}). Last good checkpoint: {last_checkpoint(out)}. "
            "Lower learning_rate and start a new output_dir"
        ) from None
    state, out = trainer.state, trainer.args.output_dir
    if stops.signum is not None and state.global_step < state.max_steps:  # (in the last step: just finish)
        print(f"{prog}: stopped by {signal.Signals(stops.signum).name} at step {state.global_step} of "
              f"{state.max_steps}; checkpoint-{state.global_step} saved in {out}. Rerun the same command to resume",
              file=sys.stderr)
        return 128 + stops.signum
    if state.global_step < state.max_steps:
        print(f"{prog}: training ended at step {state.global_step} of {state.max_steps} without reaching "
              f"max_steps; not saving it as the final model. Rerun the same command to resume", file=sys.stderr)
        return 1
    return None


def train_to_the_end(trainer, checkpoint: str | None, stops: Stops, tokenizer, done: str, prog: str = "zero") -> int:
    """A run's last act, the same for every command that trains: `train` from `checkpoint`, then the final save on
    every process (FSDP and DeepSpeed gather the shards; `save_final`), then `done` printed by the main process.
    Returns the exit code: 0, or that of a run that stopped early (`train`), which is not saved as final."""
    stopped = train(trainer, checkpoint, stops, prog)
    if stopped is not None:
        return stopped
    save_final(trainer, tokenizer)
    if launch.is_main():
        print(f"{prog}: {done}")
    return 0


def disk_error(e: OSError) -> str | None:
    """One line for a full or read-only disk (naming the path), None for other OSErrors."""
    where = f" writing {e.filename!r}" if e.filename else ""
    if e.errno == errno.ENOSPC:
        return f"no space left on the device{where}: free space there (or pick another output_dir) and rerun"
    if e.errno == errno.EROFS:
        return f"read-only file system{where}: pick an output_dir you can write to"
    if e.errno == errno.EACCES:
        return f"permission denied{where}: pick an output_dir you can write to"
    return None


def _short_write(e: BaseException) -> bool:
    return isinstance(e, RuntimeError) and ("unexpected pos" in str(e) or "file write failed" in str(e))


def _disk_error_in(e: BaseException) -> str | None:
    """The one line for a full or read-only disk anywhere in `e`'s chain of causes, else None."""
    while e is not None:
        if isinstance(e, OSError) and disk_error(e):
            return disk_error(e)
        if _short_write(e):
            return "could not write a file (the disk is probably full): free space and rerun"
        if "No space left on device" in str(e):  # safetensors, pyarrow: their own exception types
            return "no space left on the device: free space (or pick another output_dir) and rerun"
        e = e.__cause__ or e.__context__
    return None


def guarded(prog: str):
    """Decorate a command's `main(argv) -> int`: signals handled (see `Stops`), and stops, divergence and disk
    errors turned into one line on stderr and an exit code. The `Stops` is passed to main as `stops=`."""

    def wrap(main):
        @functools.wraps(main)
        def run(argv=None) -> int:
            stops = Stops(prog)
            stops.install()
            try:
                return main(argv, stops=stops)
            except Stopped as e:
                name = signal.Signals(e.signum).name
                print(f"{prog}: stopped by {name}{e.message}; rerun the same command to go on", file=sys.stderr)
                return 128 + e.signum
            except Diverged as e:
                print(f"{prog}: error: {e}", file=sys.stderr)
                return EXIT_DIVERGED
            except RewardError as e:  # a reward broke its contract: the line names it (rewards/loader.py)
                print(f"{prog}: error: {e}", file=sys.stderr)
                return 1
            except Exception as e:
                line = _disk_error_in(e)
                if line is None:
                    raise
                print(f"{prog}: error: {line}", file=sys.stderr)
                return 1
            finally:
                stops.restore()
                release_run_dirs()

        return run

    return wrap
