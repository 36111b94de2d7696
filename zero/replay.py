"""Replay a run from its files: reward, accuracy, length and reflection curves, the first aha moment, and
per-prompt learning curves. Reads only the run directory (`completions/*.parquet`, `zero_config.yaml`), never
the trainer, so it keeps working when the trainer changes. `notebooks/replay.ipynb` uses these functions.

    python -m zero.replay RUN_DIR [--out DIR]    # prints a summary table, writes PNG plots (default RUN_DIR/replay)

Per-step numbers come from `zero.telemetry.reasoning.step_metrics`, the function the trainer logs live with, so the
replayed curves and the W&B curves are the same numbers.
"""

from __future__ import annotations

import argparse
import html
import math
import sys
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from zero import emergence
from zero.telemetry import reasoning
from zero.telemetry.rollout_files import (  # re-exported: the notebook and tests read them from zero.replay
    COMPLETIONS_GLOB,
    answer_region,
    load_config,
    load_rollouts,
    prompt_text,
)

PLOT_FILES = ("emergence.png", "curves.png", "prompt_curves.png", "lengths.png")


def _flags(series: pd.Series) -> list[bool | None]:
    return [reasoning.as_flag(v) for v in series]


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """One row per step: `reward`, each reward function's `reward_<name>`, `accuracy`, `format_rate`, `completions`,
    and the `reasoning/...` metrics of `zero.telemetry.reasoning.step_metrics` (where the files hold the columns
    they need)."""
    rows = []
    for step, group in df.groupby("step", sort=True):
        row: dict[str, Any] = {"step": int(step), "completions": len(group)}
        rewards = [c for c in group if c.startswith("reward_")]
        if "reward" in group:
            row["reward"] = group["reward"].mean()
        elif rewards:
            row["reward"] = group[rewards].sum(axis=1, min_count=1).mean()
        for column in rewards:  # each reward function's own mean (built-in or the user's), NaN-scored ones skipped
            row[column] = pd.to_numeric(group[column], errors="coerce").mean()
        if "is_correct" in group:
            graded = [c for c in _flags(group["is_correct"]) if c is not None]
            row["accuracy"] = sum(graded) / len(graded) if graded else math.nan
        if "format_ok" in group:
            row["format_rate"] = sum(bool(f) for f in _flags(group["format_ok"])) / len(group)
        if all(c in group for c in reasoning.STEP_METRIC_INPUTS):
            row.update(reasoning.step_metrics({c: group[c].tolist() for c in group.columns}))
        rows.append(row)
    return pd.DataFrame(rows).set_index("step")


def first_aha(df: pd.DataFrame) -> dict[str, Any] | None:
    """The run's first self-correction: step, prompt, completion and the text around it; None if none yet."""
    if "self_correction" not in df:
        return None
    hits = df[[bool(f) for f in _flags(df["self_correction"])]]
    if hits.empty:
        return None
    row = hits.sort_values("step", kind="stable").iloc[0]
    context = row.get("self_correction_context")
    return {
        "step": int(row["step"]),
        "prompt_id": row["prompt_id"],
        "prompt": row["prompt_text"],
        "completion": row["completion"],
        "context": context if isinstance(context, str) and context else row["completion"],
        "solution": row.get("solution"),
    }


def prompt_curves(df: pd.DataFrame) -> pd.DataFrame:
    """Pass rate of each prompt (rows) at every step it was sampled (columns); NaN where not sampled."""
    if "is_correct" not in df:
        raise ValueError("the rollout files hold neither is_correct nor reward_accuracy: no pass rates to plot")
    records = [
        {"prompt_id": pid, "step": int(step), "pass_rate": rate}
        for step, group in df.groupby("step", sort=True)
        for pid, rate in reasoning.pass_rates(group["prompt_id"].tolist(), group["is_correct"].tolist()).items()
    ]
    if not records:
        return pd.DataFrame()
    return pd.DataFrame(records).pivot(index="prompt_id", columns="step", values="pass_rate")


def completions_at(df: pd.DataFrame, step: int) -> pd.DataFrame:
    """The rollouts logged at `step` (the nearest logged step at or before it)."""
    steps = sorted(df["step"].unique())
    earlier = [s for s in steps if s <= step]
    if not earlier:
        raise ValueError(f"no rollouts at or before step {step}; the run logged steps {steps[0]}..{steps[-1]}")
    return df[df["step"] == earlier[-1]]


def early_vs_late(df: pd.DataFrame, prompt_id: str | None = None) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """One prompt's completions at the first and the last step it was sampled. Without `prompt_id`: the prompt
    sampled at the most steps (ties: the widest span from first to last step, then the largest gain in pass rate)."""
    if prompt_id is None:
        curves = prompt_curves(df)
        if curves.empty:
            raise ValueError("no graded rollouts in this run: cannot pick a prompt")
        sampled = curves.notna().sum(axis=1)
        gain = curves.apply(lambda r: r.dropna().iloc[-1] - r.dropna().iloc[0], axis=1)
        span = curves.apply(lambda r: r.dropna().index[-1] - r.dropna().index[0], axis=1)
        ranked = pd.DataFrame({"n": sampled, "span": span, "gain": gain}).sort_values(["n", "span", "gain"], ascending=False)
        prompt_id = str(ranked.index[0])
    rows = df[df["prompt_id"] == prompt_id]
    if rows.empty:
        raise ValueError(f"prompt_id {prompt_id!r} is not in this run's rollouts")
    return prompt_id, rows[rows["step"] == rows["step"].min()], rows[rows["step"] == rows["step"].max()]


def completions_html(rows: pd.DataFrame, lexicon: list[str] | None = None, max_rows: int = 8) -> str:
    """An HTML table of completions with their reflection words in `<mark>`, for the notebook."""
    wanted = ("step", "prompt_id", "reward", "is_correct", "reflection_count", "self_correction")
    columns = [c for c in wanted if c in rows]
    head = "".join(f"<th>{c}</th>" for c in columns) + "<th>completion</th>"
    body = []
    for _, row in rows.head(max_rows).iterrows():
        cells = "".join(f"<td>{html.escape(str(row[c]))}</td>" for c in columns)
        text = reasoning.highlight_reflections(str(row["completion"]), lexicon)
        body.append(f"<tr>{cells}<td style='text-align:left'><pre style='white-space:pre-wrap'>{text}</pre></td></tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _panel(
    ax: Any,
    summary: pd.DataFrame,
    columns: dict[str, str],
    title: str,
    legend_loc: str = "best",
    color: str | None = None,
) -> None:
    shown = False
    for column, label in columns.items():
        if column in summary and summary[column].notna().any():
            ax.plot(summary.index, summary[column], marker=".", label=label, color=color)
            shown = True
    ax.set_title(title)
    ax.set_xlabel("step")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if shown:
        ax.legend(fontsize="small", loc=legend_loc)
    else:
        ax.text(0.5, 0.5, "not in the rollout files", ha="center", va="center", transform=ax.transAxes)


def plot_curves(summary: pd.DataFrame) -> Figure:
    """Reward, accuracy/format, length, reflection, does-reflection-pay and self-correction curves over steps."""
    fig, axes = plt.subplots(2, 3, figsize=(15, 8), constrained_layout=True)
    r = "reasoning/"
    _panel(axes[0, 0], summary, {"reward": "reward (weighted total)"}, "Reward")
    _panel(axes[0, 1], summary, {"accuracy": "accuracy", "format_rate": "format ok"}, "Accuracy and format")
    _panel(
        axes[0, 2],
        summary,
        {
            f"{r}length/mean": "mean",
            f"{r}length/p90": "p90",
            f"{r}length/correct_mean": "correct",
            f"{r}length/incorrect_mean": "incorrect",
        },
        "Completion length (tokens)",
    )
    _panel(axes[1, 0], summary, {f"{r}reflection/rate_per_1k_tokens": "per 1k tokens (left)"},
           "Reflection words", "upper left")
    _panel(
        axes[1, 0].twinx(),
        summary,
        {f"{r}reflection/share": "share of completions (right)"},
        "Reflection words",
        "lower right",
        color="C1",
    )
    _panel(
        axes[1, 1],
        summary,
        {f"{r}reflection/accuracy_with": "with reflection", f"{r}reflection/accuracy_without": "without"},
        "Accuracy with vs without reflection",
    )
    _panel(axes[1, 2], summary, {f"{r}self_corrections": "self-corrections"}, "Self-corrections per step")
    return fig


def _smooth(series: pd.Series, steps: int) -> pd.Series:
    return series.rolling(max(1, steps // 20), min_periods=1, center=True).mean()


def _short(text: str, width: int = 95) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)) if text else "(none)"


def plot_emergence(df: pd.DataFrame, prompt_id: str | None = None) -> Figure:
    """The run at a glance: accuracy, reflection share and mean length on one set of curves (a rolling mean over
    5 % of the steps; dots: every step), and beneath them one prompt's completion early vs late."""
    summary = summarize(df)
    fig = plt.figure(figsize=(12, 7.5), constrained_layout=True)
    grid = fig.add_gridspec(2, 1, height_ratios=[3, 1.2])
    ax = fig.add_subplot(grid[0])
    n = len(summary)
    share = "reasoning/reflection/share"
    for column, label, color in (("accuracy", "accuracy", "C2"), (share, "share of completions with reflection", "C1")):
        if column in summary:
            ax.plot(summary.index, summary[column], ".", color=color, alpha=0.25, markersize=3)
            ax.plot(summary.index, _smooth(summary[column], n), color=color, label=label, linewidth=2)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("step")
    ax.set_ylabel("share")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    right = ax.twinx()
    length = "reasoning/length/mean"
    if length in summary:
        right.plot(summary.index, summary[length], ".", color="C0", alpha=0.25, markersize=3)
        right.plot(summary.index, _smooth(summary[length], n), color="C0", label="mean length (tokens, right)", linewidth=2)
        right.set_ylim(0, summary[length].max() * 1.1)
    right.set_ylabel("tokens")
    lines = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    ax.legend(lines, [line.get_label() for line in lines], loc="center right", fontsize="small")
    ax.set_title("Accuracy, reflection and length over RL steps")
    text_ax = fig.add_subplot(grid[1])
    text_ax.axis("off")
    try:
        chosen, early, late = early_vs_late(df, prompt_id)
    except ValueError:
        text_ax.text(0, 0.5, "no graded rollouts: no prompt to show early vs late", va="center")
        return fig
    lines = [f"prompt {chosen}"]
    for label, rows in (("early", early), ("late", late)):
        row = rows.iloc[0]
        verdict = {True: "correct", False: "wrong", None: "ungraded"}[reasoning.as_flag(row.get("is_correct"))]
        lines.append(f"{label}, step {int(row['step'])} ({verdict}):\n{_short(str(row['completion']))}")
    text_ax.text(0, 1, "\n\n".join(lines), va="top", family="monospace", fontsize=9, transform=text_ax.transAxes)
    return fig


def plot_prompt_curves(curves: pd.DataFrame, max_prompts: int = 40) -> Figure:
    """Heat map of pass rate per prompt (rows, earliest solved first) and step (columns); grey: not sampled."""
    fig, ax = plt.subplots(figsize=(12, 1.5 + 0.25 * min(max(len(curves), 1), max_prompts)), constrained_layout=True)
    if curves.empty:
        ax.text(0.5, 0.5, "no graded rollouts", ha="center", va="center", transform=ax.transAxes)
        return fig
    kept = curves.loc[curves.notna().sum(axis=1).sort_values(ascending=False).index[:max_prompts]]
    first_solved = kept.apply(lambda r: next((s for s, v in r.items() if v > 0), math.inf), axis=1)
    kept = kept.loc[first_solved.sort_values(kind="stable").index]
    cmap = plt.get_cmap("viridis").with_extremes(bad="lightgrey")
    image = ax.imshow(kept.to_numpy(dtype=float), aspect="auto", cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    ax.set_yticks(range(len(kept)), [str(p)[:24] for p in kept.index], fontsize="small")
    ticks = list(range(0, len(kept.columns), max(1, len(kept.columns) // 12)))
    ax.set_xticks(ticks, [str(kept.columns[i]) for i in ticks])
    ax.set_xlabel("step")
    ax.set_title(f"Pass rate per prompt ({len(kept)} of {len(curves)} prompts, most sampled)")
    fig.colorbar(image, ax=ax, label="pass rate")
    return fig


def plot_lengths(df: pd.DataFrame) -> Figure:
    """Histograms of completion length at the first and the last logged step, correct vs incorrect."""
    import numpy as np

    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharex=True, constrained_layout=True)
    column = "completion_tokens" if "completion_tokens" in df else None
    lengths = df[column] if column else df["completion"].str.split().str.len()
    first, last = int(df["step"].min()), int(df["step"].max())
    edges = np.histogram_bin_edges(lengths[df["step"].isin([first, last])], bins=20)  # same bins in both panels
    for ax, step in zip(axes, (first, last)):
        rows = df["step"] == step
        correct = _flags(df.loc[rows, "is_correct"]) if "is_correct" in df else [None] * int(rows.sum())
        for flag, label, color in ((True, "correct", "C2"), (False, "incorrect", "C3"), (None, "ungraded", "C7")):
            values = [n for n, c in zip(lengths[rows], correct) if c is flag]
            if values:
                ax.hist(values, bins=edges, alpha=0.6, label=label, color=color)
        ax.set_title(f"step {step}")
        ax.set_xlabel("completion tokens" if column else "completion words (no completion_tokens column)")
        ax.legend(fontsize="small")
    return fig


def write_plots(df: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Write `PLOT_FILES` into `out_dir`; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    curves = prompt_curves(df) if "is_correct" in df else pd.DataFrame()
    figures = (plot_emergence(df), plot_curves(summarize(df)), plot_prompt_curves(curves), plot_lengths(df))
    paths = []
    for name, fig in zip(PLOT_FILES, figures):
        fig.savefig(out_dir / name, dpi=100)
        plt.close(fig)
        paths.append(out_dir / name)
    return paths


SUMMARY_COLUMNS = {
    "completions": "n",
    "reward": "reward",
    "accuracy": "acc",
    "format_rate": "format",
    "reasoning/length/mean": "len",
    "reasoning/length/p90": "len_p90",
    "reasoning/truncated_share": "trunc",
    "reasoning/reflection/rate_per_1k_tokens": "refl/1k",
    "reasoning/reflection/share": "refl_share",
    "reasoning/self_corrections": "self_corr",
}


def format_summary(summary: pd.DataFrame, max_rows: int = 25) -> str:
    """The summary as a text table, thinned to at most `max_rows` evenly spaced steps (the last always kept)."""
    labels = {**SUMMARY_COLUMNS, **{c: c for c in summary if c.startswith("reward_")}}
    table = summary[[c for c in labels if c in summary]].rename(columns=labels)
    if len(table) > max_rows:
        stride = math.ceil(len(table) / (max_rows - 1))
        table = pd.concat([table.iloc[::stride], table.iloc[[-1]]])
        table = table[~table.index.duplicated()]
    return table.to_string(float_format=lambda v: f"{v:.3g}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m zero.replay", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", help="a run's output_dir (holds completions/ and zero_config.yaml)")
    parser.add_argument("--out", help="where to write the PNG plots (default: RUN_DIR/replay)")
    args = parser.parse_args(argv)
    plt.switch_backend("Agg")  # files only, no window
    df = load_rollouts(args.run_dir)
    summary = summarize(df)
    print(f"{args.run_dir}: {len(df)} completions over {len(summary)} logged steps\n")
    print(format_summary(summary))
    if {"is_correct", "completion_tokens", "reflection_count", "self_correction"} <= set(df.columns):
        print(f"\nfirst vs last {emergence.EDGE_SHARE:.0%} of steps (python -m zero.emergence {args.run_dir}):")
        print(emergence.format_figures({"run": emergence.measure(df)}))
    aha = first_aha(df)
    lexicon = load_config(args.run_dir).get("reflection_lexicon")
    if aha is None:
        print("\nfirst aha moment: none yet (no self-correction in the rollout files)")
    else:
        context = reasoning.highlight_reflections(aha["context"], lexicon, style="markdown")
        print(f"\nfirst aha moment: step {aha['step']}, prompt {aha['prompt_id']}:\n  ...{context}...")
    for path in write_plots(df, args.out or Path(args.run_dir) / "replay"):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
