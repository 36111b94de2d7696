"""R1-Zero-style GRPO: `python -m zero.train [CONFIG.yaml] [key=value | --key value ...]`.

config -> checks -> data -> rewards -> output_dir -> model -> trainer -> train -> save. With no CONFIG, the tiny
CPU recipe (configs/tiny.yaml) runs. `--help` lists every key. Bad input exits with code 2 and a one-line error
before `output_dir` is touched.
"""

from __future__ import annotations

import sys
from pathlib import Path

from zero import templates
from zero.run import cli, lifecycle, preflight
from zero.config import ZeroConfig, shipped_recipes
from zero.run.output_dir import Plan, check_rollout_logging, finish, plan_output_dir, prepare
from zero.run.output_dir import write_config

DEFAULT_RECIPE = shipped_recipes() / "tiny.yaml"


def _classes() -> tuple[type, ...]:
    from trl import GRPOConfig

    return ZeroConfig, GRPOConfig


@lifecycle.guarded("zero.train")  # SIGTERM/SIGINT, divergence and disk errors: one line and an exit code
@cli.command("zero.train", __doc__, _classes, default_config=DEFAULT_RECIPE)  # --help; a ConfigError exits 2
def main(cfg: ZeroConfig, args, stops: lifecycle.Stops | None = None) -> int:
    from zero import lora, models
    from zero.curriculum import trainer_class
    from zero.run import launch

    # Every check below reads only; the first write to output_dir is its lock.
    launch.check(args)
    preflight.check_environment(args)  # GRPOConfig is TRL's: its packages are checked here, not when it is built
    check_rollout_logging(args)
    lora.check_targets(cfg, cfg)  # adapters that would not train, or not sync exactly into vLLM
    answer_region = templates.answer_region(cfg.template, cfg.answer_region)
    eval_cfg = eval_config(cfg, args, answer_region) if cfg.eval.every else None
    plan = plan_output_dir(Path(args.output_dir), cfg.resume, args.max_steps, checkpoints=args.save_strategy != "no")
    tokenizer = models.load_tokenizer(cfg)
    dataset = fitting_prompts(cfg, args, tokenizer)
    curriculum = online_curriculum(cfg, dataset)  # None unless curriculum_solved/failed_groups are set
    suite = reward_suite(cfg, args, answer_region, tokenizer, dataset.column_names, curriculum)
    plan = lifecycle.claim(plan, cfg.resume, args.max_steps)
    if plan.finished:
        if launch.is_main():
            finish(plan)
        return 0

    output_dir = open_run(plan, cfg, args)  # from here on the run exists
    if curriculum is not None and plan.checkpoint is not None:
        curriculum.load(plan.checkpoint)  # retirements and the sampler's place, as the checkpoint left them
    trainer = trainer_class(curriculum)(  # GRPOTrainer; its subclass with the curriculum's sampler when on
        model=policy(cfg, args, output_dir, resuming=plan.checkpoint is not None),
        args=args,
        reward_funcs=suite.reward_funcs,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=lora.peft_config(cfg),  # None without use_peft
    )
    add_callbacks(trainer, cfg, args, output_dir, stops, eval_cfg, curriculum)
    return lifecycle.train_to_the_end(trainer, plan.checkpoint, stops, tokenizer,
                                      done=f"done; model, rollouts and logs in {output_dir} "
                                           f"(python -m zero.replay {output_dir})")  # fmt: skip


def fitting_prompts(cfg: ZeroConfig, args, tokenizer):
    """The training set (`training_set`) without the prompts that leave no room for a completion in the model's
    context (zero.run.preflight says how many it dropped)."""
    limit = preflight.context_limit(cfg, args)
    return preflight.drop_long_prompts(
        training_set(cfg, args.seed), tokenizer, limit, args.max_completion_length, cfg.dataset_name
    )


def training_set(cfg: ZeroConfig, seed: int):
    """zero.train's problems, rendered into prompts (zero.data): columns `prompt`, `solution`, `prompt_id` and the
    task's own (every reward receives them), inside `dataset_pass_rate` when it is set."""
    from zero import data

    band = (cfg.pass_rate_file, cfg.dataset_pass_rate) if cfg.dataset_pass_rate is not None else None
    return data.load_prompts(cfg, seed, template=cfg.template, system_prompt=cfg.system_prompt,
                             limit=cfg.max_train_samples, levels=cfg.dataset_levels,
                             tiny_num_problems=cfg.tiny_num_problems, tiny_max_operand=cfg.tiny_max_operand,
                             keep_columns=True, pass_rates=band)  # fmt: skip


def online_curriculum(cfg: ZeroConfig, dataset):
    """The online pass-rate curriculum over `dataset`'s prompts (zero.curriculum), or None when it is off."""
    if not cfg.curriculum_on:
        return None
    from zero.curriculum import Curriculum

    return Curriculum(dataset["prompt_id"], cfg.curriculum_solved_groups, cfg.curriculum_failed_groups,
                      cfg.curriculum_retire_steps)


def reward_suite(cfg: ZeroConfig, args, answer_region: str, tokenizer, columns: list[str], curriculum):
    """The reward functions handed to GRPOTrainer and their telemetry (zero.telemetry.reward_suite), with the
    math-verify pool sized (rewards.pool). A reward may ask for any of the dataset's `columns`; `curriculum` is
    told each step's groups."""
    import rewards
    from zero.telemetry.reward_suite import RewardSuite

    suite = RewardSuite(
        cfg.reward_funcs,
        args.reward_weights,
        answer_region,
        [tokenizer.eos_token_id, tokenizer.pad_token_id],
        cfg.reflection_lexicon,
        timeout_s=cfg.reward_timeout_s,
        seed=args.seed,
        reward_kwargs=cfg.reward_kwargs,
        custom_timeout_s=cfg.custom_reward_timeout_s,
        columns=columns,
        curriculum=curriculum,
    )
    rewards.pool.configure(cfg.reward_workers)
    return suite


def open_run(plan: Plan, cfg: ZeroConfig, args) -> Path:
    """Make output_dir match the plan, write the resolved config and start W&B (main process); return output_dir.

    Nothing before this wrote to output_dir but its lock. Every process has read it before the main one, the only
    writer of zero's own files, writes to it: hence the barrier (zero/run/launch.py).
    """
    from zero.run import launch
    from zero.telemetry import tracking

    launch.barrier()
    if not launch.is_main():
        return Path(args.output_dir)
    prepare(plan)
    output_dir = write_config(cfg, args, resuming=plan.checkpoint is not None)
    if "wandb" in args.report_to:  # the Trainer logs to W&B from the main process only
        tracking.setup_wandb(output_dir, cfg.wandb_project)
    return output_dir


def policy(cfg: ZeroConfig, args, output_dir: Path, resuming: bool) -> str:
    """The model GRPOTrainer loads: a path or hub id. The tiny model is built in code (zero/tiny/model.py) and
    cold-started by SFT into output_dir (zero/tiny/cold_start.py). Sets TRL's `model_init_kwargs` (dtype,
    attention) and, with vLLM, the engine settings (zero.vllm_compat)."""
    from zero import models

    model_path = cfg.model_name_or_path
    if model_path == models.TINY:
        from zero.templates import render
        from zero.tiny import cold_start

        model_path = cold_start.prepare_policy(
            output_dir,
            lambda problem: render(cfg.template, problem, cfg.system_prompt),
            max_operand=cfg.tiny_max_operand,
            cold_start_steps=cfg.cold_start_steps,
            cold_start_learning_rate=cfg.cold_start_learning_rate,
            cold_start_mix=cfg.cold_start_mix,
            seed=args.seed,
            resuming=resuming,
        )
    args.model_init_kwargs = {**models.model_init_kwargs(cfg), **(args.model_init_kwargs or {})}
    if args.use_vllm:
        from zero import vllm_compat

        vllm_compat.prepare(args, cfg.vllm_dtype)
    return model_path


def add_callbacks(trainer, cfg: ZeroConfig, args, output_dir: Path, stops: lifecycle.Stops, eval_cfg,
                  curriculum=None) -> None:
    """zero's callbacks, each where TRL 1.16's order needs it (tests/test_trl_contract.py asserts that order).

    The trainer calls its callbacks in list order; TRL's come first: DefaultFlowCallback, one reporter per
    `report_to` (WandbCallback ...), then ProgressCallback.
    - The run's guards (`DivergenceGuard` first, `StopCallback` appended): zero.run.guards.install says why there.
    - `ReasoningTablesCallback` (W&B) and `EvalCallback` are appended: they call `wandb.log` themselves against
      `train/global_step`, so they depend on no reporter; the tables read the rollout files, which TRL writes
      after `on_log` (zero/telemetry/tables.py).
    - `CompactProgressCallback` replaces ProgressCallback (last, as the one it replaces): the bar shows reward,
      accuracy and length instead of printing each step's ~50-key metrics dict.
    - The curriculum's checkpoint callback is appended: its `on_save` writes into the checkpoint directory the
      trainer has just written (zero/curriculum.py).
    """
    from zero.run import guards

    guards.install(trainer, output_dir, stops)
    if "wandb" in args.report_to:
        from zero.telemetry.tables import ReasoningTablesCallback

        tables = ReasoningTablesCallback(output_dir, cfg.wandb_table_every, lexicon=cfg.reflection_lexicon)
        trainer.add_callback(tables)
    if eval_cfg is not None:
        from zero.eval_callback import EvalCallback

        trainer.add_callback(EvalCallback(eval_cfg, cfg.eval.every, output_dir))
    if curriculum is not None:
        from zero.curriculum import checkpoint_callback
        from zero.run import launch

        trainer.add_callback(checkpoint_callback(curriculum, output_dir, launch.is_main()))
    if not args.disable_tqdm:
        from transformers.trainer_callback import ProgressCallback

        from zero.telemetry.progress import CompactProgressCallback

        trainer.remove_callback(ProgressCallback)
        trainer.add_callback(CompactProgressCallback(every=10))


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
