"""Supervised fine-tuning on reasoning traces (cold start, distillation): `python -m zero.sft CONFIG [key=value ...]`.

DeepSeek-R1 is R1-Zero plus a cold start: a few thousand long reasoning traces fine-tuned in before RL. The
R1-Distill models are the same mechanism at scale: a teacher's verified traces fine-tuned into a small model.
Both read a trace file (zero.traces; written by `python -m zero.generate`) or a hub dataset of traces.

config -> tokenizer -> traces (checked row by row) -> SFTTrainer -> save. The prompt of each row is rendered
with `template` exactly as `zero.train` and `zero.eval` render it (a chat template is applied with
`add_generation_prompt`), and the response is appended as text, so `<think>...</think>` stays in the loss even
where a chat template strips reasoning from assistant turns, and the EOS the RL rollouts stop on is learned.
The loss is on the response only (TRL's `completion_only_loss`). The output directory is a checkpoint
`zero.train` starts from (`model_name_or_path=OUTPUT template=<the same template>`) and `zero.eval` scores.

`sft_trainer` is the one place zero builds SFTTrainer; `run_sft` (the tiny recipe's cold start,
zero/tiny/cold_start.py) and the command use it. `--help` lists every key. Bad input exits with code 2 and a
one-line error before output_dir is touched.

The command's output_dir lives as zero.train's does (zero.run): one process per directory (zero.lock), the same
rule to resume, restart or finish it (zero.run.output_dir), SIGTERM/SIGINT save a checkpoint at the end of the
step and exit 143/130, a non-finite loss or a full disk is one line. A rerun of the same command goes on.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zero.args import DataArgs, LoraArgs, ModelArgs, ProblemArgs, PromptArgs, RunArgs, reuse
from zero.args import help_field as _help
from zero.config import ConfigError
from zero.run import cli, lifecycle
from zero.run.output_dir import finish, model_complete, plan_output_dir, prepare, save_final, write_config

PROG = "zero.sft"
CONFIG_FILE = "zero_sft_config.yaml"
REPORT_FILE = "trace_report.json"


@dataclass
class SFTZeroConfig(ModelArgs, LoraArgs, DataArgs, PromptArgs, RunArgs):
    """zero.sft's knobs: the groups above (the student is `model_name_or_path`, the traces `dataset_name`), and its
    own. Everything about the optimisation itself is TRL's `SFTConfig`."""

    # The template the student learns under: the one zero.train and zero.eval will use with this checkpoint.
    template: str | None = reuse(PromptArgs, "template", default="chat")
    dataset_name: str = reuse(DataArgs, "dataset_name", default="")  # the traces: no default makes sense
    problem_field: str = reuse(ProblemArgs, "problem_field", default="problem")
    response_field: str = _help("Column holding the response (the trace) in prompt/response rows.", default="response")
    messages_field: str = _help("Column holding chat messages, in rows without a response column.", default="messages")
    max_train_samples: int | None = _help("Keep only the first N good rows (after shuffling with `seed`).", default=None)

    def __post_init__(self) -> None:
        if self.template in ("none", "null", ""):  # the config parser keeps "none" a string for str-typed fields
            self.template = None
        if not self.dataset_name or self.dataset_name.startswith("builtin:"):
            raise ConfigError("dataset_name is not set: pass a trace file (zero.generate's output) or a hub dataset id")
        super().__post_init__()


def sft_trainer(model_path: str | Path, rows: list[dict[str, Any]], args, tokenizer, lora: LoraArgs | None = None):
    """TRL's SFTTrainer on `rows` ({prompt, completion}): the one place zero builds it. With `lora.use_peft` it
    trains LoRA adapters (zero.lora)."""
    import datasets
    from trl import SFTTrainer

    from zero.lora import peft_config

    return SFTTrainer(
        model=str(model_path),
        args=args,
        train_dataset=datasets.Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=peft_config(lora) if lora is not None else None,
    )


def run_sft(model_path: str | Path, rows: list[dict[str, Any]], output_dir: str | Path, **sft_args: Any) -> Path:
    """Fine-tune `model_path` on `rows` ({prompt, completion}) and save model + tokenizer to `output_dir`.

    `sft_args` are TRL `SFTConfig` fields (max_steps, learning_rate, per_device_train_batch_size, ...).
    """
    from trl import SFTConfig

    from zero.models import tokenizer_from_pretrained

    defaults = dict(
        output_dir=str(output_dir),
        completion_only_loss=True,
        save_strategy="no",
        report_to="none",
        logging_steps=25,
        disable_tqdm=False,
    )
    args = SFTConfig(**{**defaults, **sft_args})
    tokenizer = tokenizer_from_pretrained(model_path)
    trainer = sft_trainer(model_path, rows, args, tokenizer)
    trainer.train()
    save_final(trainer, tokenizer)
    return Path(args.output_dir)


def load_trace_rows(source: DataArgs) -> tuple[list[Any], list[int], list, str]:
    """(rows, their numbers, rows that could not be parsed, source name) of a trace file or hub dataset."""
    from zero.traces import read_jsonl

    name = source.dataset_name
    path = Path(name)
    if path.suffix == ".jsonl" or path.exists():
        numbered, issues = read_jsonl(path)
        return [r for _, r in numbered], [n for n, _ in numbered], issues, str(path)
    from zero.data import load_hub_dataset

    rows = load_hub_dataset(name, source.dataset_config, source.dataset_split, "a local .jsonl trace file").to_list()
    return rows, list(range(1, len(rows) + 1)), [], f"{name}[{source.dataset_split}]"


def prepare_traces(source: DataArgs, prompt: PromptArgs, fields: dict[str, str], tokenizer, *, max_length: int,
                   limit: int | None, seed: int):
    """The {prompt, completion} rows to train on and the TraceReport; prints the report, raises if none is left.

    `fields` names the columns (problem_field, response_field, messages_field); rows over `max_length` tokens are
    skipped; `limit` keeps the first N good rows after shuffling with `seed`."""
    from zero.traces import check_rows, prompt_renderer, require_rows

    rows, numbers, parse_issues, name = load_trace_rows(source)
    kept, report = check_rows(
        rows,
        prompt_renderer(prompt.template, tokenizer, prompt.system_prompt),
        prompt.template,
        count_tokens=lambda s: len(tokenizer(s, add_special_tokens=False)["input_ids"]),
        max_length=max_length,
        numbers=numbers,
        source=name,
        fields=fields,
    )
    report.total += len(parse_issues)
    report.issues = sorted(parse_issues + report.issues, key=lambda i: i.row)
    for line in report.lines():
        print(f"zero.sft: {line}")
    require_rows(report)
    if limit is not None and limit < len(kept):
        import random

        random.Random(seed).shuffle(kept)
        kept = kept[:limit]
    return kept, report


def check_sft_args(args) -> None:
    """ConfigError for TRL SFTConfig settings zero.sft refuses (SFTConfig is TRL's: no check of ours runs when it
    is built, so the command calls this right after parsing)."""
    if args.max_length is None:
        raise ConfigError("max_length=None would train on unbounded sequences: set max_length (tokens)")
    if args.completion_only_loss is False:
        raise ConfigError("completion_only_loss=false would train on the prompts: zero.sft needs it true or unset")


def _classes() -> tuple[type, ...]:
    from trl import SFTConfig

    return SFTZeroConfig, SFTConfig


@lifecycle.guarded(PROG)  # SIGTERM/SIGINT, divergence and disk errors: one line and an exit code
@cli.command(PROG, __doc__, _classes, usage="python -m zero.sft configs/sft/tiny_distill.yaml [key=value ...]")
def main(opts: SFTZeroConfig, args, stops: lifecycle.Stops | None = None) -> int:
    from zero import lora, models
    from zero.run import guards, launch

    # Every check below reads only; the first write to output_dir is its lock.
    launch.check(args)
    check_sft_args(args)
    lora.check_targets(opts, opts)
    output_dir = Path(args.output_dir)
    plan = plan_output_dir(output_dir, opts.resume, args.max_steps, CONFIG_FILE, args.save_strategy != "no")
    tokenizer = models.load_tokenizer(opts)
    fields = {"problem_field": opts.problem_field, "response_field": opts.response_field,
              "messages_field": opts.messages_field}  # fmt: skip
    rows, report = prepare_traces(opts, opts, fields, tokenizer, max_length=args.max_length,
                                  limit=opts.max_train_samples, seed=args.seed)  # fmt: skip
    plan = lifecycle.claim(plan, opts.resume, args.max_steps, PROG)  # one run per output_dir
    if plan.finished:
        if launch.is_main():
            finish(plan, PROG, then="RL from it: " + rl_command(output_dir, opts.template))
        return 0

    open_run(plan, opts, args, report)  # from here on the run exists
    model_path = starting_model(opts.model_name_or_path, output_dir, args.seed)
    args.model_init_kwargs = {**models.model_init_kwargs(opts), **(args.model_init_kwargs or {})}
    if launch.is_main():
        print(f"{PROG}: training {model_path} on {len(rows)} traces (template={opts.template})")
    trainer = sft_trainer(model_path, rows, args, tokenizer, lora=opts)
    guards.install(trainer, output_dir, stops)
    return lifecycle.train_to_the_end(trainer, plan.checkpoint, stops, tokenizer, prog=PROG,
                                      done=f"done; checkpoint in {output_dir}. RL from it: "
                                           f"{rl_command(output_dir, opts.template)}")  # fmt: skip


def open_run(plan, opts: SFTZeroConfig, args, report) -> None:
    """Make output_dir match the plan, write the resolved config and the trace report (main process).

    Nothing before this wrote to output_dir but its lock. Every process has read it before the main one, the only
    writer of zero's own files, writes to it: hence the barrier (zero/run/launch.py)."""
    from zero.run import launch

    launch.barrier()
    if launch.is_main():
        prepare(plan, PROG)
        output_dir = write_config(opts, args, resuming=plan.checkpoint is not None, config_file=CONFIG_FILE, prog=PROG)
        (output_dir / REPORT_FILE).write_text(json.dumps(report.to_dict(), indent=1))


def starting_model(model_name_or_path: str, output_dir: Path, seed: int) -> str:
    """The model to fine-tune: `model_name_or_path`, or for builtin:tiny the tiny model built from `seed` into
    output_dir/base_model by the main process (a whole one is reused; `prepare` removed a partial one)."""
    from zero import models
    from zero.run import launch

    if model_name_or_path != models.TINY:
        return model_name_or_path
    from zero.tiny.model import build_tiny_model

    base = output_dir / "base_model"
    if launch.is_main() and not model_complete(base):
        build_tiny_model(base, seed=seed)
    launch.barrier()
    return str(base)


def rl_command(output_dir: Path, template: str | None) -> str:
    return (f"python -m zero.train CONFIG model_name_or_path={output_dir} template={template or 'chat'} "
            "cold_start_steps=0")


if __name__ == "__main__":
    sys.exit(main())
