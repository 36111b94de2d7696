"""The online pass-rate curriculum: a problem whose last N groups were all right (or, for a separate N, all wrong)
is set aside for a while, so each batch holds more groups that teach.

Why: GRPO's advantage is a completion's reward minus its group's mean, so a group whose completions all score the
same teaches nothing (TRL logs the share of such groups as ``frac_reward_zero_std``). DAPO resamples until a batch
is full of mixed groups (Yu et al. 2025, "dynamic sampling"); open-r1 filters problems offline to pass rates in
[0.1, 0.9]. TRL 1.16 has neither, and zero already knows every prompt's history from its rollouts, so the sampler
skips the prompts that history says teach nothing now.

A group is *all right* when every completion of it is correct (`is_correct`, the rollout files' column; a group
with an ungradable gold counts as neither). After `solved_groups` consecutive all-right groups (or `failed_groups`
all-wrong ones) the problem is retired for `retire_steps` steps; then it returns with a clean history. Retired
problems are counted every step as ``data/retired_prompts`` (set aside now) and ``data/retirements`` (since the
start); a retired problem drawn anyway because too few were in play to fill a batch, as ``data/retired_drawn``.

Deterministic under a seed: the sampler draws TRL's order (a `torch.randperm` per pass over the data, seeded with
`seed`) and skips retired problems; retirements follow from the rollouts, which the seed fixes. The sampler draws a
batch shortly before it is trained on (the data loader looks one batch ahead), so a retirement takes effect one or
two steps after the group that earned it. Every process observes every process's groups (gathered), so all
processes skip alike, as TRL's `RepeatSampler` needs.

Resume: the checkpoint holds the state (``checkpoint-N/curriculum.json``: histories, retirements, the sampler's
queue and generator, and this pass's draws). On resume the trainer skips the batches it already trained on by
drawing them again; the sampler replays this pass's recorded draws for them, then goes on from the saved queue.

>>> c = Curriculum(["a", "b", "c"], solved_groups=2, failed_groups=1, retire_steps=5)
>>> c.observe(1, ["a", "a", "b", "b", "c", "c"], [True, True, False, False, True, False])
>>> sorted(c.retired_ids()), c.retirements
(['b'], 1)
>>> c.observe(2, ["a", "a"], [True, True])
>>> sorted(c.retired_ids()), c.metrics()
(['a', 'b'], {'data/retired_prompts': 2.0, 'data/retirements': 2.0, 'data/retired_drawn': 0.0})
>>> c.observe(6, ["c", "c"], [True, False])       # step 6: b (retired at step 1 for 5 steps) is back
>>> sorted(c.retired_ids())
['a']
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

STATE_FILE = "curriculum.json"


class Curriculum:
    """Per-problem streaks of all-right and all-wrong groups, and which problems are set aside until which step.
    `prompt_ids[i]` is the dataset row i's id; the sampler asks by row index."""

    def __init__(self, prompt_ids: Sequence[str], solved_groups: int, failed_groups: int, retire_steps: int):
        self.prompt_ids = [str(p) for p in prompt_ids]
        self.solved_groups, self.failed_groups, self.retire_steps = solved_groups, failed_groups, retire_steps
        self.step = 0  # the latest rollout step observed
        self.solved_run: dict[str, int] = {}
        self.failed_run: dict[str, int] = {}
        self.until: dict[str, int] = {}  # prompt id -> the step it returns at
        self.retirements = 0
        self.fallbacks = 0  # retired problems drawn because too few were in play
        # The sampler's own state, kept here so that one object is saved and restored.
        self.queue: deque[int] = deque()
        self.generator_state: list[int] | None = None
        self.pass_draws: list[list[int]] = []  # the chunks drawn in the sampler's current pass over the data
        self.replay: list[list[int]] = []  # after a resume: those chunks, drawn again while the trainer skips them

    def observe(self, step: int, prompt_ids: Sequence[str], is_correct: Sequence[bool | None]) -> None:
        """Update the histories with one step's completions (every process's), grouped by prompt id."""
        self.step = max(self.step, step)
        for pid in [p for p, until in self.until.items() if until <= self.step]:
            del self.until[pid]  # back, with a clean history
            self.solved_run.pop(pid, None)
            self.failed_run.pop(pid, None)
        groups: dict[str, list[bool | None]] = {}
        for pid, ok in zip(prompt_ids, is_correct):
            groups.setdefault(str(pid), []).append(ok)
        for pid, verdicts in groups.items():
            if pid in self.until or any(v is None for v in verdicts):
                continue
            all_right, all_wrong = all(verdicts), not any(verdicts)
            self.solved_run[pid] = self.solved_run.get(pid, 0) + 1 if all_right else 0
            self.failed_run[pid] = self.failed_run.get(pid, 0) + 1 if all_wrong else 0
            solved = self.solved_groups and self.solved_run[pid] >= self.solved_groups
            failed = self.failed_groups and self.failed_run[pid] >= self.failed_groups
            if solved or failed:
                self.until[pid] = self.step + self.retire_steps
                self.retirements += 1

    def is_retired(self, index: int) -> bool:
        return self.prompt_ids[index] in self.until

    def retired_ids(self) -> set[str]:
        return set(self.until)

    def metrics(self) -> dict[str, float]:
        return {"data/retired_prompts": float(len(self.until)), "data/retirements": float(self.retirements),
                "data/retired_drawn": float(self.fallbacks)}

    # --- checkpoints -------------------------------------------------------------------------------------------
    _SAVED = ("step", "solved_run", "failed_run", "until", "retirements", "fallbacks", "generator_state", "pass_draws")

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / STATE_FILE
        state = {key: getattr(self, key) for key in self._SAVED}
        state["queue"] = list(self.queue)
        state["settings"] = [self.solved_groups, self.failed_groups, self.retire_steps, len(self.prompt_ids)]
        path.write_text(json.dumps(state))
        return path

    def load(self, directory: str | Path) -> bool:
        """Restore the state a checkpoint holds; False when it holds none (a run that had no curriculum then)."""
        path = Path(directory) / STATE_FILE
        if not path.is_file():
            return False
        state: dict[str, Any] = json.loads(path.read_text())
        settings = [self.solved_groups, self.failed_groups, self.retire_steps, len(self.prompt_ids)]
        if state.pop("settings") != settings:
            from zero.errors import ConfigError

            raise ConfigError(f"{path} was saved with other curriculum settings or another dataset "
                              f"({settings} now): resume with the run's own settings or start a new output_dir")
        self.queue = deque(state.pop("queue"))
        for key, value in state.items():
            setattr(self, key, value)
        self.replay = [list(c) for c in self.pass_draws]
        return True


class CurriculumSampler:
    """TRL's `RepeatSampler` order (same arguments, same `torch.randperm` stream for a seed) with the curriculum's
    retired problems skipped. A batch of `batch_size` distinct problems is drawn only when the data loader asks
    for it. When one whole pass over the data finds too few problems in play, retired ones fill the batch (a batch
    is never short, so the trainer's step count holds)."""

    def __init__(self, curriculum: Curriculum, mini_repeat_count: int, batch_size: int, repeat_count: int, seed: int):
        import torch

        self.curriculum = curriculum
        self.mini_repeat_count, self.batch_size, self.repeat_count = mini_repeat_count, batch_size, repeat_count
        self.num_samples = len(curriculum.prompt_ids)
        self.generator = torch.Generator()
        self.generator.manual_seed(seed)
        if curriculum.generator_state is not None:  # restored from a checkpoint
            self.generator.set_state(torch.tensor(curriculum.generator_state, dtype=torch.uint8))

    def __len__(self) -> int:
        return (self.num_samples // self.batch_size) * self.batch_size * self.mini_repeat_count * self.repeat_count

    def _draw(self) -> list[int]:
        import torch

        c = self.curriculum
        chunk: list[int] = []
        held: list[int] = []  # already in this chunk (a new pass began mid-chunk): kept for the next one
        scanned = 0
        while len(chunk) < self.batch_size:
            if not c.queue:
                c.queue.extend(torch.randperm(self.num_samples, generator=self.generator).tolist())
                c.generator_state = self.generator.get_state().tolist()
            index = c.queue.popleft()
            scanned += 1
            if index in chunk:
                held.append(index)
            elif not c.is_retired(index):
                chunk.append(index)
            elif scanned > self.num_samples:  # a whole pass found too few in play: a full batch comes first
                chunk.append(index)
                c.fallbacks += 1
            # else: set aside; it comes back in a later pass
        c.queue.extendleft(reversed(held))
        return chunk

    def __iter__(self):
        c = self.curriculum
        replay, c.replay = c.replay, []
        if not replay:
            c.pass_draws = []  # a new pass; after a resume, pass_draws already holds the replayed chunks
        for i in range(self.num_samples // self.batch_size):
            if i < len(replay):
                chunk = replay[i]
            else:
                chunk = self._draw()
                c.pass_draws.append(chunk)
            for _ in range(self.repeat_count):
                for index in chunk:
                    for _ in range(self.mini_repeat_count):
                        yield index


def trainer_class(curriculum: Curriculum | None):
    """TRL's `GRPOTrainer`, or with a curriculum its subclass whose training sampler skips retired problems."""
    from trl import GRPOTrainer

    if curriculum is None:
        return GRPOTrainer

    class CurriculumGRPOTrainer(GRPOTrainer):
        """GRPOTrainer with one override, `_get_train_sampler`: TRL 1.16's `get_train_dataloader` builds the
        training loader with ``sampler_fn=self._get_train_sampler``, the one place where the order of prompts is
        chosen, and TRL has no hook to filter prompts (DAPO's dynamic sampling is not in TRL 1.16)."""

        def _get_train_sampler(self, dataset=None):
            return CurriculumSampler(
                curriculum,
                mini_repeat_count=self.num_generations,
                batch_size=self.args.generation_batch_size // self.num_generations,
                repeat_count=self.num_iterations * self.args.steps_per_generation,
                seed=self.args.seed,
            )

    return CurriculumGRPOTrainer


def checkpoint_callback(curriculum: Curriculum, output_dir: str | Path, is_main: bool):
    """A trainer callback that writes the curriculum's state into each checkpoint the trainer saves."""
    from transformers import TrainerCallback
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

    class CurriculumCheckpoint(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            checkpoint = Path(output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"
            if is_main and checkpoint.is_dir():
                curriculum.save(checkpoint)

    return CurriculumCheckpoint()
