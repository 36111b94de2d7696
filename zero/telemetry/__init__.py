"""What a run shows of itself, read from its rollouts:

- `zero.telemetry.reasoning`: pure measures of completions (length, reflection words, self-corrections, aha);
- `zero.telemetry.reward_suite`: the reward functions handed to TRL, and the per-completion rollout columns;
- `zero.telemetry.rollout_files`: the rollout files, the one place that names, finds and reads them;
- `zero.telemetry.tracking`: Weights & Biases, offline whenever online cannot work;
- `zero.telemetry.tables`: W&B tables and histograms of the rollout files;
- `zero.telemetry.progress`: the console's progress bar and summary lines.
"""
