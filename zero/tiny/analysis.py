"""`python -m zero.tiny RUN_DIR`: which planted kind of trace a tiny run's policy writes, window by window of steps.

Reads only the run's rollout files (zero.telemetry.rollout_files), never the trainer.
"""

from __future__ import annotations

import argparse

from zero.telemetry.rollout_files import load_rollouts
from zero.tiny.traces import MODES, trace_kind


def kinds_by_step(df, windows: int = 10):
    """Per window of steps (the first step alone, then `windows` equal spans, one a step when the run has fewer
    steps than that): each kind's share of the rollouts and its accuracy, the window's accuracy and mean length.
    `df` is `zero.telemetry.rollout_files.load_rollouts`' frame."""
    import pandas as pd

    steps = df["step"].max()
    windows = min(windows, steps)  # no empty span
    bounds = [(1, 1)] + [(1 + steps * i // windows, steps * (i + 1) // windows) for i in range(windows)]
    kind = df["completion"].map(trace_kind)
    rows = []
    for lo, hi in bounds:
        inside = df["step"].between(lo, hi)
        row = {"steps": f"{lo}-{hi}"}
        for k in MODES:
            of_kind = inside & (kind == k)
            row[f"{k} share"] = of_kind.sum() / max(inside.sum(), 1)
            row[f"{k} acc"] = df.loc[of_kind, "is_correct"].mean() if of_kind.any() else float("nan")
        row["acc"] = df.loc[inside, "is_correct"].mean()
        row["length"] = df.loc[inside, "completion_tokens"].mean()
        rows.append(row)
    return pd.DataFrame(rows).set_index("steps")


def main(argv: list[str] | None = None) -> int:
    """python -m zero.tiny RUN_DIR: which planted kind of trace the run's policy writes, step by step."""
    parser = argparse.ArgumentParser(prog="python -m zero.tiny", description=main.__doc__)
    parser.add_argument("run_dir", help="a tiny run's output_dir (configs/tiny.yaml or tiny_random.yaml)")
    parser.add_argument("--windows", type=int, default=10, help="spans of steps after the first (default 10)")
    args = parser.parse_args(argv)
    if args.windows < 1:
        parser.error(f"--windows must be >= 1, got {args.windows}")
    try:
        df = load_rollouts(args.run_dir)
    except FileNotFoundError as e:
        parser.error(str(e))
    print(kinds_by_step(df, args.windows).to_string(float_format=lambda x: f"{x:.2f}"))
    return 0
