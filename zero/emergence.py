"""Does reasoning emerge? The figures of a run's start and end, read from its rollout files.

`python -m zero.emergence RUN_DIR [--control CONTROL_DIR]` prints them and checks them against the targets of
the tiny recipe (README, "The tiny recipe"); the learning test and the README use this one definition.

Start and end are the rollouts of the first and the last 10 % of the logged steps (at least one step each):

- `accuracy`: share of graded completions that are correct;
- `length`: mean completion length in tokens, also split into correct and incorrect completions at the end;
- `reflection_share`: share of completions with at least one reflection word (`zero.telemetry.reasoning`'s lexicon),
  and the accuracy of completions with and without one at the end;
- `self_corrections`: completions the aha finder (`zero.telemetry.reasoning.find_self_correction`) flags, whole run.

A control run (the same recipe with `reward_funcs=[random,format]`, rewards/spurious.py) tells what the accuracy
reward taught from what any RL update would have shaken loose: its gain and its length ratio must stay below
the real run's.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from zero.telemetry import reasoning
from zero.telemetry.rollout_files import load_rollouts

EDGE_SHARE = 0.1  # first and last 10 % of the logged steps


@dataclass(frozen=True)
class Emergence:
    steps: int
    accuracy_start: float
    accuracy_end: float
    length_start: float
    length_end: float
    length_correct_end: float
    length_incorrect_end: float
    reflection_share_start: float
    reflection_share_end: float
    accuracy_with_reflection_end: float
    accuracy_without_reflection_end: float
    self_corrections: int

    @property
    def accuracy_gain(self) -> float:
        return self.accuracy_end - self.accuracy_start

    @property
    def length_ratio(self) -> float:
        return self.length_end / self.length_start if self.length_start else math.nan

    @property
    def reflection_ratio(self) -> float:
        return self.reflection_share_end / self.reflection_share_start if self.reflection_share_start else math.inf


def _mean(values) -> float:
    values = [float(v) for v in values if v is not None]
    return sum(values) / len(values) if values else math.nan


def edges(df: pd.DataFrame, share: float = EDGE_SHARE) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rollouts of the first and the last `share` of the logged steps."""
    steps = sorted(df["step"].unique())
    k = max(1, round(share * len(steps)))
    return df[df["step"].isin(steps[:k])], df[df["step"].isin(steps[-k:])]


def measure(df: pd.DataFrame) -> Emergence:
    """The start and end figures of a run's rollouts (`zero.telemetry.rollout_files.load_rollouts`)."""
    start, end = edges(df)

    def correct(rows: pd.DataFrame) -> list[bool | None]:
        return [reasoning.as_flag(c) for c in rows["is_correct"]]

    def reflective(rows: pd.DataFrame) -> list[bool]:
        return [int(c) > 0 for c in rows["reflection_count"]]

    end_correct, end_reflective = correct(end), reflective(end)
    tokens = end["completion_tokens"].tolist()
    return Emergence(
        steps=int(df["step"].nunique()),
        accuracy_start=_mean(correct(start)),
        accuracy_end=_mean(end_correct),
        length_start=_mean(start["completion_tokens"]),
        length_end=_mean(tokens),
        length_correct_end=_mean([t for t, c in zip(tokens, end_correct) if c is True]),
        length_incorrect_end=_mean([t for t, c in zip(tokens, end_correct) if c is False]),
        reflection_share_start=_mean(reflective(start)),
        reflection_share_end=_mean(end_reflective),
        accuracy_with_reflection_end=_mean([c for c, r in zip(end_correct, end_reflective) if r]),
        accuracy_without_reflection_end=_mean([c for c, r in zip(end_correct, end_reflective) if not r]),
        self_corrections=int(sum(bool(reasoning.as_flag(s)) for s in df["self_correction"])),
    )


def targets(run: Emergence, control: Emergence | None = None) -> dict[str, tuple[bool, str]]:
    """Each target of the tiny recipe: (met, the figures it was judged on)."""
    out = {
        "accuracy ends >= 0.8": (run.accuracy_end >= 0.8, f"{run.accuracy_end:.2f}"),
        "accuracy gains >= 0.4": (run.accuracy_gain >= 0.4, f"{run.accuracy_start:.2f} -> {run.accuracy_end:.2f}"),
        "length ends >= 1.5x start": (run.length_ratio >= 1.5, f"{run.length_start:.1f} -> {run.length_end:.1f}"),
        "correct longer than incorrect at the end": (
            run.length_correct_end > run.length_incorrect_end,
            f"{run.length_correct_end:.1f} vs {run.length_incorrect_end:.1f}",
        ),
        "reflection share ends >= 2x start and >= 0.2": (
            run.reflection_ratio >= 2 and run.reflection_share_end >= 0.2,
            f"{run.reflection_share_start:.2f} -> {run.reflection_share_end:.2f}",
        ),
        "accuracy with reflection > without at the end": (
            run.accuracy_with_reflection_end > run.accuracy_without_reflection_end,
            f"{run.accuracy_with_reflection_end:.2f} vs {run.accuracy_without_reflection_end:.2f}",
        ),
        "self-corrections >= 10": (run.self_corrections >= 10, str(run.self_corrections)),
    }
    if control is not None:
        out["control gain >= 0.3 below the run's"] = (
            control.accuracy_gain <= run.accuracy_gain - 0.3,
            f"{control.accuracy_gain:+.2f} vs {run.accuracy_gain:+.2f}",
        )
        out["control length ratio below the run's"] = (
            control.length_ratio < run.length_ratio,
            f"{control.length_ratio:.2f} vs {run.length_ratio:.2f}",
        )
    return out


def format_figures(runs: dict[str, Emergence]) -> str:
    """The figures of one or more runs side by side, as a text table."""
    rows = {name: {**asdict(e), "accuracy_gain": e.accuracy_gain, "length_ratio": e.length_ratio,
                   "reflection_ratio": e.reflection_ratio} for name, e in runs.items()}  # fmt: skip
    return pd.DataFrame(rows).to_string(float_format=lambda v: f"{v:.3g}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m zero.emergence", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", help="a run's output_dir")
    parser.add_argument("--control", help="the output_dir of its random-reward control run")
    args = parser.parse_args(argv)
    try:
        run = measure(load_rollouts(args.run_dir))
        control = measure(load_rollouts(args.control)) if args.control else None
    except FileNotFoundError as e:
        parser.error(str(e))
    print(format_figures({"run": run, **({"control": control} if control else {})}))
    checks = targets(run, control)
    print()
    for name, (met, figures) in checks.items():
        print(f"{'met ' if met else 'MISS'}  {name}: {figures}")
    return 0 if all(met for met, _ in checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
