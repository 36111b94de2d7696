"""W&B views of the rollouts: a completions table with reflection words highlighted, and length histograms.

`ReasoningTablesCallback` reads the rollout files from disk (`zero.telemetry.rollout_files`), not the
trainer, so W&B shows exactly what the files hold and works the same offline (`WANDB_MODE=offline`: the table
and histograms land in the offline run directory, to be synced later).

Timing (TRL 1.16): `GRPOTrainer.log` fires the `on_log` callbacks *before* it writes the step's parquet file, so
at `on_log` of step N only files of steps < N are complete, and at the next `on_step_begin` (global_step still N)
the file of step N is. The last file is read at `on_train_end`. Nothing happens while `wandb.run` is None
(W&B not in `report_to`, or a non-main process).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from zero.telemetry import reasoning
from zero.telemetry.rollout_files import rollout_files

TABLE_KEY = "reasoning/completions"
AHA_KEY = "reasoning/first_aha"  # a table, and `reasoning/first_aha_html`: its context with <mark>ed words
HISTOGRAM_KEYS = {
    None: "reasoning/length_hist",
    True: "reasoning/length_hist_correct",
    False: "reasoning/length_hist_incorrect",
}


def table_rows(rows: list[dict[str, Any]], lexicon: Any = None, max_rows: int = 64) -> tuple[list[str], list[list]]:
    """Columns and rows of the completions table for one rollout file.

    The completion is a string with its reflection words in `**bold**`: W&B stores `wandb.Html` cells of a
    run-logged table as the bare word "Html" in the run files, so the highlight travels as text.

    >>> table_rows([{"step": 3, "prompt": "p", "completion": "Hmm, 4", "reward": 1.0}])
    (['step', 'prompt_id', 'prompt', 'completion', 'reward'], [[3, '', 'p', '**Hmm**, 4', 1.0]])
    """
    rewards = sorted({key for row in rows for key in row if key.startswith("reward_")})
    optional = [
        "reward",
        *rewards,
        "advantage",
        "is_correct",
        "reflection_count",
        "reflection_words",
        "self_correction",
    ]
    present = [c for c in optional if any(c in row for row in rows)]
    columns = ["step", "prompt_id", "prompt", "completion", *present]
    out = []
    for row in rows[:max_rows]:
        completion = reasoning.highlight_reflections(str(row["completion"]), lexicon, style="markdown")
        prompt = row["prompt"] if isinstance(row["prompt"], str) else str(row["prompt"])
        values = [row.get(c) for c in present]
        out.append([int(row["step"]), str(row.get("prompt_id", "")), prompt, completion, *values])
    return columns, out


class ReasoningTablesCallback(TrainerCallback):
    """Publishes each complete rollout file to the active W&B run: length histograms every step, a completions
    table every `table_every_n_steps` steps (and for the first and the last rollout batch), and the first
    self-correction of the run (a table under `reasoning/first_aha`, its step in the run summary). A file that
    repeats an already published rollout batch (same `rollout_step`, num_iterations > 1) is skipped."""

    def __init__(
        self,
        output_dir: str | Path | None = None,
        table_every_n_steps: int = 10,
        max_table_rows: int = 64,
        lexicon: list[str] | None = None,
    ):
        if table_every_n_steps < 1 or max_table_rows < 1:
            raise ValueError("table_every_n_steps and max_table_rows must be >= 1")
        self.output_dir = Path(output_dir) if output_dir is not None else None
        self.table_every_n_steps = table_every_n_steps
        self.max_table_rows = max_table_rows
        self.lexicon = lexicon
        self.published: list[int] = []  # steps whose files were published, in order
        self._last_step = -1  # files of steps <= this are done
        self._seen_rollouts: set[Any] = set()
        self._aha_logged = False
        self._last_table_step: int | None = None
        self._last_rows: tuple[int, list[dict[str, Any]]] | None = None  # the newest rollout batch published

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not self.published:  # on resume, the files up to the checkpoint were published by the earlier process
            self._last_step = max(self._last_step, state.global_step)

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.publish(self._dir(args), newest_complete=state.global_step)

    def on_log(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.publish(self._dir(args), newest_complete=state.global_step - 1)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.publish(self._dir(args), newest_complete=None, final=True)

    def _dir(self, args: Any) -> Path:
        return self.output_dir if self.output_dir is not None else Path(args.output_dir)

    def publish(self, output_dir: Path, newest_complete: int | None, final: bool = False) -> list[int]:
        """Publish the not yet published files of steps <= `newest_complete` (all of them when None);
        returns their steps. With `final`, the last rollout batch also gets its table. No-op without a W&B run."""
        import wandb

        if wandb.run is None:
            return []
        files = rollout_files(output_dir)
        ready = [(s, p) for s, p in files if s > self._last_step and (newest_complete is None or s <= newest_complete)]
        for step, path in ready:
            self._publish_file(step, path)
            self._last_step = step
            self.published.append(step)
        if final and self._last_rows is not None and self._last_rows[0] != self._last_table_step:
            step, rows = self._last_rows
            wandb.log({"train/global_step": step, TABLE_KEY: self._table(rows)})
            self._last_table_step = step
        return [step for step, _ in ready]

    def _table(self, rows: list[dict[str, Any]]) -> Any:
        import wandb

        columns, data = table_rows(rows, self.lexicon, self.max_table_rows)
        return wandb.Table(columns=columns, data=data)

    def _publish_file(self, step: int, path: Path) -> None:
        import pandas as pd
        import wandb

        frame = pd.read_parquet(path)
        if "rollout_step" in frame:  # num_iterations > 1: the same rollout batch is logged at several steps
            rollouts = frozenset(frame["rollout_step"].unique().tolist())
            if rollouts <= self._seen_rollouts:
                return
            self._seen_rollouts |= rollouts
        frame["step"] = step
        rows = frame.to_dict("records")
        self._last_rows = (step, rows)
        logs: dict[str, Any] = {"train/global_step": step}
        if "completion_tokens" in frame:
            for flag, key in HISTOGRAM_KEYS.items():
                lengths = [
                    int(r["completion_tokens"])
                    for r in rows
                    if flag is None or reasoning.as_flag(r.get("is_correct")) is flag
                ]
                if lengths:
                    logs[key] = wandb.Histogram(lengths)
        if self._last_table_step is None or step >= self._last_table_step + self.table_every_n_steps:
            logs[TABLE_KEY] = self._table(rows)
            self._last_table_step = step
        if not self._aha_logged and "self_correction" in frame:
            hits = [r for r in rows if reasoning.as_flag(r["self_correction"])]
            if hits:
                logs[AHA_KEY] = self._aha_table(step, hits[0])
                context = reasoning.highlight_reflections(str(hits[0].get("self_correction_context", "")), self.lexicon)
                logs[f"{AHA_KEY}_html"] = wandb.Html(f"<p>step {step}</p><pre>{context}</pre>")
                wandb.run.summary["reasoning/first_aha_step"] = step
                self._aha_logged = True
        wandb.log(logs)

    def _aha_table(self, step: int, row: dict[str, Any]) -> Any:
        import wandb

        context = str(row.get("self_correction_context") or "")
        return wandb.Table(
            columns=["step", "prompt_id", "prompt", "context", "completion"],
            data=[
                [
                    step,
                    str(row.get("prompt_id", "")),
                    str(row["prompt"]),
                    reasoning.highlight_reflections(context, self.lexicon, style="markdown"),
                    str(row["completion"]),
                ]
            ],
        )
