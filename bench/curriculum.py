"""The online curriculum's effect, two runs side by side from their rollout files: per window of steps, the share of
groups whose rewards all tie (TRL's `frac_reward_zero_std`: such a group has no advantage and teaches nothing),
the share of all-right and all-wrong groups, accuracy, and how many distinct problems each run sampled.

    PYTHONPATH=. python bench/curriculum.py RUN_WITHOUT RUN_WITH [--windows 6]

The two runs should differ only in the curriculum_* keys (same seed, steps and cold start); only the steps both
have logged are compared. A group is the completions of one problem at one step; "ties" uses the weighted
`reward` column, as TRL's metric does.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np


def step_groups(run_dir: str | Path):
    """One row per (step, prompt_id) group: whether its rewards tie, whether it is all right or all wrong."""
    import pandas as pd

    from zero.telemetry.rollout_files import load_rollouts

    df = load_rollouts(run_dir)
    rows = []
    for (step, pid), g in df.groupby(["step", "prompt_id"], sort=True):
        rewards = g["reward"].astype(float).to_numpy()
        correct = [bool(c) for c in g["is_correct"] if c is not None and not (isinstance(c, float) and math.isnan(c))]
        rows.append({"step": int(step), "prompt_id": pid, "ties": bool(np.allclose(rewards, rewards[0])),
                     "all_right": bool(correct) and all(correct), "all_wrong": bool(correct) and not any(correct),
                     "accuracy": sum(correct) / len(correct) if correct else math.nan, "n": len(correct)})
    return pd.DataFrame(rows)


def windows(groups, count: int):
    """Per window of steps: share of tied, all-right and all-wrong groups, completion accuracy, distinct problems."""
    steps = sorted(groups["step"].unique())
    size = math.ceil(len(steps) / count)
    out = []
    for i in range(0, len(steps), size):
        span = steps[i : i + size]
        g = groups[groups["step"].isin(span)]
        out.append({"steps": f"{span[0]}-{span[-1]}", "zero_std": g["ties"].mean(), "all_right": g["all_right"].mean(),
                    "all_wrong": g["all_wrong"].mean(), "accuracy": (g["accuracy"] * g["n"]).sum() / g["n"].sum(),
                    "problems": g["prompt_id"].nunique()})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("without", help="the run without the curriculum")
    parser.add_argument("with_", metavar="with", help="the same run with it")
    parser.add_argument("--windows", type=int, default=6)
    args = parser.parse_args(argv)
    arms = {"without": step_groups(args.without), "with": step_groups(args.with_)}
    last = min(int(g["step"].max()) for g in arms.values())  # compare the steps both runs have reached
    arms = {name: g[g["step"] <= last] for name, g in arms.items()}
    rows = {name: windows(g, args.windows) for name, g in arms.items()}
    print(f"{'steps':>8} | {'zero-std groups':>17} | {'all right':>15} | {'all wrong':>15} | {'accuracy':>15} "
          f"| {'problems':>11}")
    print(f"{'':>8} | {'without   with':>17} | {'without  with':>15} | {'without  with':>15} | {'without  with':>15} "
          f"| {'without with':>11}")
    for a, b in zip(rows["without"], rows["with"]):
        print(f"{a['steps']:>8} | {a['zero_std']:>8.3f} {b['zero_std']:>8.3f} | {a['all_right']:>7.3f} "
              f"{b['all_right']:>7.3f} | {a['all_wrong']:>7.3f} {b['all_wrong']:>7.3f} | {a['accuracy']:>7.3f} "
              f"{b['accuracy']:>7.3f} | {a['problems']:>5} {b['problems']:>5}")
    for name, g in arms.items():
        print(f"{name}: {len(g)} groups over {g['step'].nunique()} steps, zero-std share {g['ties'].mean():.3f}, "
              f"accuracy {(g['accuracy'] * g['n']).sum() / g['n'].sum():.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
