"""R1-Zero-style GRPO: `python -m zero.train [CONFIG.yaml] [key=value | --key value ...]`.

config -> data -> model -> rewards -> trainer -> train -> save. With no CONFIG, the tiny CPU recipe
(configs/tiny.yaml) runs. `--help` lists every key. Bad input exits with code 2 and a one-line error before
`output_dir` is touched.
"""

from __future__ import annotations

import sys
from pathlib import Path

from zero.run import cli, lifecycle, preflight
from zero.config import ZeroConfig, shipped_recipes
from zero.run.output_dir import check_rollout_logging, finish, plan_output_dir, prepare, write_config

DEFAULT_RECIPE = shipped_recipes() / "tiny.yaml"


def _classes() -> tuple[type, ...]:
    from trl import GRPOConfig

    return ZeroConfig, GRPOConfig


@lifecycle.guarded("zero.train")  # SIGTERM/SIGINT, divergence and disk errors: one line and an exit code
@cli.command("zero.train", __doc__, _classes, default_config=DEFAULT_RECIPE)  # --help; a ConfigError exits 2
def main(cfg: ZeroConfig, args, stops: lifecycle.Stops | None = None) -> int:
    from trl import GRPOTrainer

    import rewards
    from zero import data, models
    from zero.run import guards, launch
    from zero.telemetry import tracking
    from zero.telemetry.reward_suite import RewardSuite
    from zero.templates import get_template

    # Every check below reads only; the first write to output_dir is its lock.
    launch.check(args)
    preflight.check_environment(args)  # GRPOConfig is TRL's: its packages are checked here, not when it is built
    check_rollout_logging(args)
    answer_region = cfg.answer_region or get_template(cfg.template).answer_region
    eval_cfg = eval_config(cfg, args, answer_region) if cfg.eval.every else None
    plan = plan_output_dir(Path(args.output_dir), cfg.resume, args.max_steps)
    tokenizer = models.load_tokenizer(cfg)
    dataset = training_set(cfg, args.seed)
    limit = preflight.context_limit(cfg, args)
    dataset = preflight.drop_long_prompts(dataset, tokenizer, limit, args.max_completion_length, cfg.dataset_name)
    suite = RewardSuite(
        cfg.reward_funcs,
        args.reward_weights,
        answer_region,
        [tokenizer.eos_token_id, tokenizer.pad_token_id],
        cfg.reflection_lexicon,
        timeout_s=cfg.reward_timeout_s,
        seed=args.seed,
    )
    rewards.pool.configure(cfg.reward_workers)
    if launch.is_main():  # one run per output_dir: its main process holds the lock for life
        lifecycle.hold_run_dir(args.output_dir)
        plan = plan_output_dir(Path(args.output_dir), cfg.resume, args.max_steps)  # again: no other run changes it now
    if plan.finished:
        if launch.is_main():
            finish(plan)
        return 0

    # Nothing above wrote to output_dir but its lock; from here on the run exists. Every process has read it (above)
    # before the main one, the only writer of zero's own files, writes to it (zero/run/launch.py).
    launch.barrier()
    checkpoint = plan.checkpoint
    if launch.is_main():
        prepare(plan)
        output_dir = write_config(cfg, args, resuming=checkpoint is not None)
    else:
        output_dir = Path(args.output_dir)
    callbacks = []
    if "wandb" in args.report_to:
        from zero.telemetry.tables import ReasoningTablesCallback

        if launch.is_main():  # the Trainer logs to W&B from the main process only
            tracking.setup_wandb(output_dir, cfg.wandb_project)
        callbacks.append(ReasoningTablesCallback(output_dir, cfg.wandb_table_every, lexicon=cfg.reflection_lexicon))
    if eval_cfg is not None:
        from zero.eval_callback import EvalCallback

        callbacks.append(EvalCallback(eval_cfg, cfg.eval.every, output_dir))
    model_path = cfg.model_name_or_path
    if model_path == models.TINY:  # built in code (zero/tiny/model.py), cold-started by SFT (zero/tiny/cold_start.py)
        from zero.tiny import cold_start
        from zero.templates import render

        model_path = cold_start.prepare_policy(
            output_dir,
            lambda problem: render(cfg.template, problem, cfg.system_prompt),
            max_operand=cfg.tiny_max_operand,
            cold_start_steps=cfg.cold_start_steps,
            cold_start_learning_rate=cfg.cold_start_learning_rate,
            cold_start_mix=cfg.cold_start_mix,
            seed=args.seed,
            resuming=checkpoint is not None,
        )
    args.model_init_kwargs = {**models.model_init_kwargs(cfg), **(args.model_init_kwargs or {})}
    if args.use_vllm:
        from zero import vllm_compat

        vllm_compat.prepare(args)

    trainer = GRPOTrainer(
        model=model_path,
        args=args,
        reward_funcs=suite.reward_funcs,
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=[guards.StopCallback(stops), *callbacks],
    )
    trainer.callback_handler.callbacks.insert(0, guards.DivergenceGuard(output_dir))  # before the reporters
    if not args.disable_tqdm:  # the bar shows reward/accuracy/length instead of printing every step's metrics dict
        from transformers.trainer_callback import ProgressCallback

        from zero.telemetry.progress import CompactProgressCallback

        trainer.remove_callback(ProgressCallback)
        trainer.add_callback(CompactProgressCallback(every=10))
    stopped = lifecycle.train(trainer, checkpoint, stops)
    if stopped is not None:
        return stopped
    trainer.save_model(str(output_dir))  # every process: FSDP gathers the shards
    if not launch.is_main():
        return 0
    tokenizer.save_pretrained(str(output_dir))
    print(f"zero: done; model, rollouts and logs in {output_dir} (python -m zero.replay {output_dir})")
    return 0


def training_set(cfg: ZeroConfig, seed: int):
    """zero.train's problems, rendered into prompts (zero.data): columns `prompt`, `solution`, `prompt_id`."""
    from zero import data

    return data.load_prompts(cfg, seed, template=cfg.template, system_prompt=cfg.system_prompt,
                             limit=cfg.max_train_samples, levels=cfg.dataset_levels,
                             tiny_num_problems=cfg.tiny_num_problems, tiny_max_operand=cfg.tiny_max_operand)  # fmt: skip


def eval_config(cfg: ZeroConfig, args, answer_region: str):
    """The zero.eval config for evaluating the policy during training: the `eval` group's benchmark settings with
    this run's template, grading and seed. Built (so checked: benchmark names, answer region) right after the
    command line is read, so a bad `eval.*` value exits 2 before output_dir is touched."""
    import dataclasses

    from zero.args import BenchmarkArgs
    from zero.eval import EvalConfig

    benchmark = {f.name: getattr(cfg.eval, f.name) for f in dataclasses.fields(BenchmarkArgs)}
    return EvalConfig(
        model_name_or_path="policy",  # a label: the live policy generates (zero.eval_callback), nothing is loaded
        **benchmark,
        batch_size=cfg.eval.batch_size,
        template=cfg.template,
        system_prompt=cfg.system_prompt,
        answer_region=answer_region,
        reward_timeout_s=cfg.reward_timeout_s,
        reflection_lexicon=cfg.reflection_lexicon,
        seed=args.seed,
        output_dir=str(Path(args.output_dir) / "eval"),
    )


if __name__ == "__main__":
    sys.exit(main())
