"""A run's life, the same for every long command (zero.train, zero.sft):

- `zero.run.cli`: the prologue (--help, the environment check, bad input exits 2 with one line);
- `zero.run.preflight`: checks of input and environment that read only, before anything is written;
- `zero.run.output_dir`: what a run writes, and how an existing output_dir is resumed, restarted or refused;
- `zero.run.lifecycle`: one process per output_dir (the lock), SIGTERM/SIGINT, disk errors, divergence, as one
  line and an exit code;
- `zero.run.guards`: the trainer callbacks of that life (a stop at the end of a step, divergence caught);
- `zero.run.launch`: several processes as one run (ranks, barriers, gathering columns);
- `zero.run.environment`: the one broken install zero names itself.
"""
