"""Benchmark a checkpoint: `python -m zero.eval [CONFIG.yaml] [key=value | --key value ...]`.

    python -m zero.eval model_name_or_path=PATH benchmarks=math500,aime24 n=16 limit=100 max_tokens=32768 output_dir=DIR

DeepSeek's reading of R1 models is the default: the `r1_distill` template (chat template, "Please reason step by
step, and put your final answer within \\boxed{}"), the response forced to start with "<think>\\n", temperature
0.6, top-p 0.95, pass@1 averaged over n samples. For an R1-Zero checkpoint pass its training template
(template=r1_zero). configs/eval/ holds one recipe per published model, with the numbers to expect.

Written to output_dir:
- `samples_<benchmark>.jsonl`, one line per sample, appended as samples finish: benchmark, prompt_id, sample
  (0..n-1), problem, gold, prompt (the rendered prompt, without the forced prefix), completion (the forced prefix,
  e.g. "<think>\\n", then the generated text: `prompt + completion` is exactly what the model saw and wrote, and
  it is what was scored), extracted_answer, is_correct (None: the gold itself cannot be parsed; counted as
  wrong), format_ok, completion_tokens, truncated, reflection_count, reflection_words. A restarted run reads these
  and generates only the (problem, sample) pairs still missing; raising n or limit later adds samples the same way.
- `results.json` (`{"config": ..., "benchmarks": {name: metrics}}`) and `results.md` (a table). Metrics: pass@1,
  pass@k (unbiased, Chen et al. 2021) for k in `ks`, maj@k (majority vote over the first k samples), format_rate,
  gold_unparseable, and `zero.telemetry.reasoning.step_metrics`' length, truncation and reflection figures.
- `eval_config.yaml`, the resolved config; a restart with different sampling settings is refused.

Answers are extracted and graded by `rewards` (extract_answer, accuracy_reward, format_reward), the functions
that reward training. `--help` lists every key. Bad input exits with code 2 before anything is written.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rewards import accuracy_reward, extract_answer, format_reward, pool
from zero import passk
from zero.args import (BenchmarkArgs, GenerationArgs, ModelArgs, PromptArgs, RewardArgs, RunArgs, TelemetryArgs,
                       reuse)
from zero.args import help_field as _help
from zero.benchmarks import Problem, benchmark_label, check_names, load_benchmark
from zero.config import ConfigError, resolved, write_resolved
from zero.models import load_tokenizer
from zero.run import cli
from zero.sampling import Request, Sample, Sampling, make_generator, model_max_length, request_seed
from zero.store import JsonlStore
from zero.telemetry.reasoning import annotate
from zero.templates import answer_region, get_template, render

THINK_PREFIX = "<think>\n"
# Settings that decide which samples are drawn and how they are scored: a resumed run must not change them.
SAMPLE_KEYS = ("model_name_or_path", "template", "system_prompt", "answer_region", "think_prefix", "temperature",
               "top_p", "max_tokens", "seed", "dtype")


# The fields of a samples file, in order (the module docstring says what each holds).
SAMPLE_FIELDS = ("benchmark", "prompt_id", "sample", "problem", "gold", "prompt", "completion", "extracted_answer",
                 "is_correct", "format_ok", "completion_tokens", "truncated", "reflection_count", "reflection_words")


@dataclass
class EvalConfig(ModelArgs, PromptArgs, RewardArgs, TelemetryArgs, BenchmarkArgs, GenerationArgs, RunArgs):
    """Knobs of `python -m zero.eval`: the groups above (zero.train's `eval` group is `BenchmarkArgs` too), and
    its own."""

    template: str = reuse(PromptArgs, "template", default="r1_distill")  # DeepSeek's reading of R1 models
    seed: int = _help("Seed; each sample gets its own seed from it, so a resumed run draws the same samples.",
                      default=0)  # fmt: skip
    output_dir: str | None = _help("Where results and samples go; None: eval_results/<model name>.", default=None)

    def check_model(self) -> None:
        """Not checked when built: zero.train's in-training eval names the live policy here with a label
        (zero.eval_callback). `evaluate` checks it when it loads the model itself (`check_weights`)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_names(self.benchmarks)  # (answer_region: RewardArgs checks it, and every template names one)


def think_prefix(cfg: EvalConfig) -> str:
    """The text forced at the start of every response."""
    if cfg.think_prefix is not None:
        return cfg.think_prefix
    return THINK_PREFIX if cfg.template == "r1_distill" else ""


def check(cfg: EvalConfig) -> EvalConfig:
    """`cfg` with output_dir filled in. Every value was checked when `cfg` was built (`EvalConfig.__post_init__`)."""
    out = cfg.output_dir or str(Path("eval_results") / Path(cfg.model_name_or_path.rstrip("/")).name)
    return dataclasses.replace(cfg, output_dir=out)


def check_weights(cfg: EvalConfig) -> None:
    """ConfigError unless `cfg.model_name_or_path` names weights to load (a path that exists, or a hub id)."""
    if not cfg.model_name_or_path or cfg.model_name_or_path.startswith("builtin:"):
        raise ConfigError("zero.eval needs trained weights: model_name_or_path=CHECKPOINT_DIR or a hub id")
    ModelArgs.check_model(cfg)


def prompt_text(cfg: EvalConfig, tokenizer: Any, problem: str) -> tuple[str, str]:
    """(the rendered prompt, the text fed to the model): the latter ends with the think prefix."""
    rendered = render(cfg.template, problem, cfg.system_prompt)
    if not isinstance(rendered, str):
        if not getattr(tokenizer, "chat_template", None):
            raise ConfigError(f"template {cfg.template!r} needs a chat template, and this tokenizer has none: "
                              "use template=r1_zero or qwen_math_boxed")
        rendered = tokenizer.apply_chat_template(rendered, tokenize=False, add_generation_prompt=True)
    prefix = think_prefix(cfg)
    # R1-Distill's and QwQ's newer chat templates end the generation prompt with "<think>\n" themselves.
    if prefix and rendered.rstrip().endswith(prefix.strip()):
        return rendered[: len(rendered.rstrip()) - len(prefix.strip())], rendered
    return rendered, rendered + prefix


def check_output_dir(cfg: EvalConfig) -> None:
    """Refuse an output_dir whose samples were drawn with other settings (or any samples, with resume=never)."""
    out = Path(cfg.output_dir)
    saved = out / "eval_config.yaml"
    if not saved.exists():
        return
    if cfg.resume == "never" and any(out.glob("samples_*.jsonl")):
        raise ConfigError(f"{out} already holds samples and resume=never: pick a new output_dir")
    old = yaml.safe_load(saved.read_text()) or {}
    new = resolved((cfg,))
    changed = [k for k in SAMPLE_KEYS if k in old and old[k] != new[k]]
    if changed:
        diff = ", ".join(f"{k}: {old[k]!r} -> {new[k]!r}" for k in changed)
        raise ConfigError(f"{out} holds samples drawn with other settings ({diff}): use a new output_dir")


def read_samples(path: Path) -> list[dict]:
    """The sample rows of a samples file (a zero.store: a last line cut short by an interrupted write is dropped,
    any other malformed line is an error)."""
    rows = JsonlStore(path, "zero.eval").read()
    keys = [(r["prompt_id"], r["sample"]) for r in rows]
    if len(set(keys)) != len(keys):
        raise ConfigError(f"{path} holds the same (prompt_id, sample) twice: was it written by two runs at once?")
    return rows


def score(samples: list[Sample], items: dict[Any, tuple[Problem, int, str, str]], cfg: EvalConfig) -> list[dict]:
    """Sample rows for finished samples; the grading is `rewards`' (the training reward's) own."""
    region, prefix = answer_region(cfg.template, cfg.answer_region), think_prefix(cfg)
    problems = [items[s.key] for s in samples]
    texts = [prefix + s.text for s in samples]  # the completion as the model wrote it, after the forced prefix
    correct = accuracy_reward(texts, [p.gold for p, *_ in problems], answer_region=region,
                              timeout_s=cfg.reward_timeout_s)
    fmt = format_reward(texts, answer_region=region)
    tokens = [len(s.completion_ids) for s in samples]
    notes = annotate(texts, [None if c is None else c == 1.0 for c in correct], [f == 1.0 for f in fmt], tokens,
                     region, cfg.reflection_lexicon)
    rows = []
    for i, (sample, (problem, index, prompt, _)) in enumerate(zip(samples, problems)):
        rows.append({
            "benchmark": problem.benchmark, "prompt_id": problem.prompt_id, "sample": index,
            "problem": problem.problem, "gold": problem.gold, "prompt": prompt, "completion": texts[i],
            "extracted_answer": extract_answer(texts[i], region), "is_correct": notes["is_correct"][i],
            "format_ok": notes["format_ok"][i], "completion_tokens": tokens[i], "truncated": sample.truncated,
            "reflection_count": notes["reflection_count"][i], "reflection_words": notes["reflection_words"][i],
        })
    return rows


def evaluate(cfg: EvalConfig, *, generator: Any = None, tokenizer: Any = None, on_write: Any = None) -> dict:
    """Run (or resume) the evaluation `cfg` describes and write its files; return results.json's content.

    `generator` (a `zero.sampling.HFGenerator` or `VLLMGenerator`) and `tokenizer` default to the ones `cfg` names; the
    training callback passes the live policy. `on_write(rows_written)` is called after each flush.
    """
    from tqdm import tqdm

    cfg = check(cfg)
    if generator is None:  # evaluate loads the model by its name
        check_weights(cfg)
    if tokenizer is None:
        tokenizer = load_tokenizer(cfg)
    problems = {benchmark_label(b): load_benchmark(b, cfg.limit) for b in cfg.benchmarks}
    check_output_dir(cfg)
    out = Path(cfg.output_dir)
    items: dict[tuple[str, str, int], tuple[Problem, int, str, str]] = {}
    requests: list[Request] = []
    done: dict[str, list[dict]] = {}
    longest, conversational = 0, get_template(cfg.template).conversational
    for label, plist in problems.items():
        rows = read_samples(out / f"samples_{label}.jsonl")
        have = {(r["prompt_id"], r["sample"]) for r in rows}
        done[label] = rows
        for problem in plist:
            prompt, model_input = prompt_text(cfg, tokenizer, problem.problem)
            # a chat template writes its own special tokens (BOS); a plain prompt gets what the tokenizer adds
            ids = tokenizer(model_input, add_special_tokens=not conversational)["input_ids"]
            longest = max(longest, len(ids))
            for index in range(cfg.n):
                if (problem.prompt_id, index) not in have:
                    key = (label, problem.prompt_id, index)
                    items[key] = (problem, index, prompt, model_input)
                    requests.append(Request(key, ids, request_seed(cfg.seed, label, problem.prompt_id, index)))
    limit = cfg.vllm_max_model_length or model_max_length(cfg.model_name_or_path)
    if requests and limit is not None and longest + cfg.max_tokens > limit:
        raise ConfigError(f"the longest prompt ({longest} tokens) + max_tokens={cfg.max_tokens} exceeds the context "
                          f"length {limit}: lower max_tokens")
    out.mkdir(parents=True, exist_ok=True)
    write_resolved(out / "eval_config.yaml", (cfg,))
    total = sum(len(p) for p in problems.values()) * cfg.n
    own_generator = generator is None and bool(requests)
    if own_generator:
        max_model_len = cfg.vllm_max_model_length or longest + cfg.max_tokens
        generator = make_generator(cfg, cfg, tokenizer, cfg.seed, max_model_len=max_model_len)
    start = time.perf_counter()  # generation and grading, not the model load
    if requests:
        bar = tqdm(total=total, initial=total - len(requests), desc="zero.eval", unit="sample", dynamic_ncols=True)

        def write(samples: list[Sample]) -> None:
            rows = score(samples, items, cfg)
            for label in {r["benchmark"] for r in rows}:
                mine = [r for r in rows if r["benchmark"] == label]
                JsonlStore(out / f"samples_{label}.jsonl").append(mine)
                done[label].extend(mine)
            bar.update(len(rows))
            if on_write is not None:
                on_write(bar.n)

        try:
            generator.generate(requests, Sampling(cfg.temperature, cfg.top_p, cfg.max_tokens), write)
        finally:
            bar.close()
            if own_generator and hasattr(generator, "close"):
                generator.close()
    wanted = {label: {(p.prompt_id, i) for p in plist for i in range(cfg.n)} for label, plist in problems.items()}
    results = {
        "config": resolved((cfg,)),
        "backend": getattr(generator, "name", None),
        "generation_seconds": round(time.perf_counter() - start, 3),
        "benchmarks": {
            label: passk.benchmark_metrics(
                [r for r in done[label] if (r["prompt_id"], r["sample"]) in wanted[label]], cfg.n, cfg.ks)
            for label in problems
        },
    }
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "results.md").write_text(passk.markdown_table(results["benchmarks"], cfg.n) + "\n")
    return results


@cli.command("zero.eval", __doc__, lambda: (EvalConfig,))
def main(cfg: EvalConfig) -> int:
    try:
        pool.configure(cfg.reward_workers)
        results = evaluate(cfg)
    finally:
        pool.shutdown()
    print(passk.markdown_table(results["benchmarks"], cfg.n))
    print(f"zero.eval: results in {results['config']['output_dir']}/results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
