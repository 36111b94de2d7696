"""Rejection-sampled reasoning traces from a teacher: `python -m zero.generate CONFIG [key=value ...]`.

config -> problems -> teacher (vLLM, or HF `generate`; zero.sampling) -> k samples per problem -> verifier
(`rewards`: accuracy and, with `require_format`, format) -> trace file. The trace file (zero.traces) holds one row
per accepted sample: the problem, the prompt the teacher saw, the response, and its provenance (problem id, gold
answer, sample index, teacher, template, sampling parameters, verdict). `python -m zero.sft` trains on it.

Resumable: every sample, accepted or not, is appended to `OUTPUT.samples.jsonl` as soon as it is graded; a rerun
skips the samples already there (each sample has its own seed, so the result does not depend on where a run
stopped), and the trace file is rewritten from that log at the end. `--help` lists every key.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import rewards
from zero import data, models
from zero.args import (BenchmarkArgs, GenerationArgs, ModelArgs, ProblemArgs, PromptArgs, RewardArgs, RunArgs, TinyArgs,
                       _choice, _positive, reuse)
from zero.args import help_field as _help
from zero.config import ConfigError, write_resolved
from zero.run import cli
from zero.sampling import Request, Sampling, make_generator, request_seed
from zero.store import JsonlStore
from zero.templates import answer_region, render
from zero.traces import prompt_renderer

if TYPE_CHECKING:
    from collections.abc import Callable


@dataclass
class GenerateConfig(ModelArgs, ProblemArgs, PromptArgs, RewardArgs, GenerationArgs, TinyArgs, RunArgs):
    """zero.generate's knobs: the groups above (the teacher is `model_name_or_path`), and its own: sampling, the
    acceptance rule, the output."""

    model_name_or_path: str = reuse(ModelArgs, "model_name_or_path", default="")  # the teacher: no default fits
    template: str = reuse(PromptArgs, "template", default="r1_distill")  # the teacher's own template
    max_problems: int | None = _help("Use only the first N problems (after shuffling with `seed`).", default=None)
    num_generations: int = _help("Samples drawn per problem (k).", default=4)
    temperature: float = reuse(BenchmarkArgs, "temperature")
    top_p: float = reuse(BenchmarkArgs, "top_p")
    max_completion_length: int = _help("Most tokens per sample; a sample cut there is rejected.", default=4096)
    require_format: bool = _help("Accept only samples that also pass rewards.format_reward (well-formed).", default=True)
    max_kept_per_problem: int | None = _help("Keep at most N accepted samples per problem; None: all.", default=None)
    row_format: str = _help("prompt_response: problem/prompt/response rows; messages: chat messages rows.",
                            default="prompt_response")  # fmt: skip
    output_file: str = _help("The trace file (.jsonl) to write; OUTPUT.samples.jsonl logs every sample.",
                             default="traces.jsonl")  # fmt: skip
    seed: int = _help("Seeds the problem shuffle and every sample (per-sample seeds; see zero.sampling).", default=0)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.model_name_or_path or self.model_name_or_path.startswith("builtin:"):
            raise ConfigError("model_name_or_path (the teacher) is not set: pass a checkpoint directory or a hub id")
        _choice(self, "row_format", ("prompt_response", "messages"))
        _positive(self, "num_generations", "max_completion_length")
        _positive(self, "max_problems", "max_kept_per_problem", allow_none=True)
        if not self.output_file.endswith(".jsonl"):
            raise ConfigError(f"output_file={self.output_file!r} must end in .jsonl")


@dataclass(frozen=True)
class Problem:
    index: int
    problem_id: str
    problem: str
    answer: str
    prompt: Any  # the rendered prompt: text, or chat messages


def load_problems(source: ProblemArgs, prompt: PromptArgs, tiny: TinyArgs, seed: int,
                  limit: int | None) -> list[Problem]:
    """The problems to sample (zero.data's problem set; the first `limit` after shuffling with `seed`), each with
    its prompt for the teacher."""
    ds = data.load_problems(source, seed, limit=limit, tiny_num_problems=tiny.tiny_num_problems,
                            tiny_max_operand=tiny.tiny_max_operand)  # fmt: skip
    return [Problem(i, row["prompt_id"], row["problem"], row["solution"],
                    render(prompt.template, row["problem"], prompt.system_prompt)) for i, row in enumerate(ds)]  # fmt: skip


def verdicts(texts: list[str], truncated: list[bool], golds: list[str], region: str, *, timeout_s: float,
             require_format: bool) -> list[dict]:
    """The verifier's verdict on each sample: accuracy, format, truncated, and whether the sample is accepted
    (right, not cut, and well-formed when `require_format`). `timeout_s` is the grading deadline per answer.

    >>> [v["accepted"] for v in verdicts(["<think> 2 </think> <answer> 2 </answer>", "<answer> 2 </answer>",
    ...  "<think> 2 </think> <answer> 3 </answer>"], [False] * 3, ["2"] * 3, "answer_tag", timeout_s=2.0,
    ...  require_format=True)]
    [True, False, False]
    """
    accuracy = rewards.accuracy_reward(texts, golds, answer_region=region, timeout_s=timeout_s)
    fmt = rewards.format_reward(texts, answer_region=region)
    out = []
    for acc, form, cut in zip(accuracy, fmt, truncated):
        ok = acc == 1.0 and not cut and (form == 1.0 or not require_format)
        out.append({"accuracy": acc, "format": form, "truncated": cut, "accepted": ok})
    return out


def think_prefill(prompt_text: str) -> str:
    """The opening of the think block when the prompt already holds it (R1-Distill's chat template ends with
    "<think>\\n"), else "". It is put back in front of each response, so a trace holds its whole think block.

    >>> think_prefill("<｜Assistant｜><think>\\n"), think_prefill("Assistant:")
    ('<think>\\n', '')
    """
    head, tag, tail = prompt_text.rpartition("<think>")
    return tag + tail if tag and not tail.strip() else ""


def trace_row(problem: Problem, sample: dict, cfg: GenerateConfig) -> dict:
    """One trace-file row: the training example and its provenance (zero.traces.PROVENANCE)."""
    provenance = {
        "problem_id": problem.problem_id,
        "answer": problem.answer,
        "sample_index": sample["sample_index"],
        "teacher": cfg.model_name_or_path,
        "template": cfg.template,
        "sampling": {"temperature": cfg.temperature, "top_p": cfg.top_p,
                     "max_completion_length": cfg.max_completion_length, "seed": sample["seed"]},  # fmt: skip
        "verdict": sample["verdict"],
    }
    if cfg.row_format == "messages":
        prompt = problem.prompt if isinstance(problem.prompt, list) else [{"role": "user", "content": problem.problem}]
        messages = prompt + [{"role": "assistant", "content": sample["response"]}]
        return {"problem": problem.problem, "messages": messages, **provenance}
    return {"problem": problem.problem, "prompt": problem.prompt, "response": sample["response"], **provenance}


def select(problems: list[Problem], samples: list[dict], num_generations: int, max_kept_per_problem: int | None,
           row: Callable[[Problem, dict], dict]) -> list[dict]:
    """Accepted samples as trace rows (`row(problem, sample)`, e.g. `trace_row`), in problem then sample order, of
    the first `num_generations` samples of each problem, at most `max_kept_per_problem` each."""
    by_key = {(s["problem_index"], s["sample_index"]): s for s in samples}
    rows = []
    for p in problems:
        kept = [by_key[(p.index, j)] for j in range(num_generations) if (p.index, j) in by_key]
        kept = [s for s in kept if s["verdict"]["accepted"]][:max_kept_per_problem]
        rows += [row(p, s) for s in kept]
    return rows


def read_log(log: JsonlStore, problems: list[Problem], teacher: str, resume: str) -> list[dict]:
    """The samples already drawn, from the log of an interrupted run (a cut last line is drawn again); ConfigError
    when it belongs to another run (other problems or another `teacher`), or exists at all when `resume` is never."""
    if not log.exists():
        return []
    if resume == "never":
        raise ConfigError(f"{log.path} exists (an earlier run): resume=auto continues it, or delete it")
    samples = log.read()
    path = log.path
    ids = {p.index: p.problem_id for p in problems}
    for s in samples:
        if ids.get(s["problem_index"]) != s["problem_id"] or s["teacher"] != teacher:
            raise ConfigError(f"{path} was written for other problems or another teacher: delete it or change output_file")
    return samples


def draw(cfg: GenerateConfig, problems: list[Problem], tokenizer: Any, log: JsonlStore, done: list[dict], region: str,
         *, require_format: bool, generator: Any = None, desc: str = "zero.generate") -> int:
    """Draw the `num_generations` samples of each problem still missing from `done` (the log read back), grade each
    (`verdicts`), append them to `log` and to `done` as they finish; the number accepted over all of `done`.
    `generator` is zero.sampling's engine (built from `cfg` when None). zero.generate and zero.pass_rate draw here."""
    from tqdm.auto import tqdm

    to_text = prompt_renderer(None, tokenizer)
    have = {(s["problem_index"], s["sample_index"]) for s in done}
    requests = []
    prefills = {}
    for p in problems:
        text = to_text(p.prompt)
        prefills[p.index] = think_prefill(text)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        for j in range(cfg.num_generations):
            if (p.index, j) not in have:
                requests.append(Request((p.index, j), ids, request_seed(cfg.seed, p.problem_id, j)))
    sampling = Sampling(cfg.temperature, cfg.top_p, cfg.max_completion_length)
    total = len(problems) * cfg.num_generations
    bar = tqdm(total=total, initial=total - len(requests), desc=desc, unit="sample")
    accepted = [sum(s["verdict"]["accepted"] for s in done)]

    def on_done(batch) -> None:
        golds = [problems[s.key[0]].answer for s in batch]
        texts = [prefills[s.key[0]] + s.text for s in batch]
        judged = verdicts(texts, [s.truncated for s in batch], golds, region, timeout_s=cfg.reward_timeout_s,
                          require_format=require_format)  # fmt: skip
        entries = []
        for s, text, verdict in zip(batch, texts, judged):
            p = problems[s.key[0]]
            entries.append({"problem_index": p.index, "problem_id": p.problem_id, "sample_index": s.key[1],
                            "teacher": cfg.model_name_or_path, "seed": request_seed(cfg.seed, p.problem_id, s.key[1]),
                            "response": text, "completion_tokens": len(s.completion_ids), "verdict": verdict})  # fmt: skip
            accepted[0] += verdict["accepted"]
        log.append(entries)
        done.extend(entries)
        bar.update(len(batch))
        bar.set_postfix(accepted=f"{accepted[0]}/{bar.n}")

    if requests:
        (generator or make_generator(cfg, cfg, tokenizer, cfg.seed)).generate(requests, sampling, on_done)
    bar.close()
    return accepted[0]


class Drawing(NamedTuple):
    """What a sampling command holds before it draws (`start`)."""

    region: str  # the answer region graded
    tokenizer: Any
    problems: list[Problem]
    output: Path  # the command's result file
    log: JsonlStore  # OUTPUT.samples.jsonl: every graded sample
    done: list[dict]  # the samples the log already holds (a rerun draws only the rest)


def start(cfg: GenerateConfig, prog: str) -> Drawing:
    """The part zero.generate and zero.pass_rate share before they draw: the answer region, the tokenizer, the
    problems, the sample log and what it already holds, the grading pool sized (`reward_workers`), and the resolved
    config written beside the output (OUTPUT.config.yaml)."""
    region = answer_region(cfg.template, cfg.answer_region)
    tokenizer = models.load_tokenizer(cfg)
    problems = load_problems(cfg, cfg, cfg, cfg.seed, cfg.max_problems)
    output = Path(cfg.output_file)
    log = JsonlStore(output.with_name(output.name[: -len(".jsonl")] + ".samples.jsonl"), prog)
    done = read_log(log, problems, cfg.model_name_or_path, cfg.resume)
    rewards.pool.configure(cfg.reward_workers)
    output.parent.mkdir(parents=True, exist_ok=True)
    write_resolved(output.with_name(output.name + ".config.yaml"), (cfg,))
    return Drawing(region, tokenizer, problems, output, log, done)


@cli.command("zero.generate", __doc__, lambda: (GenerateConfig,))
def main(cfg: GenerateConfig) -> int:
    region, tokenizer, problems, output, log, done = start(cfg, "zero.generate")
    accepted = draw(cfg, problems, tokenizer, log, done, region, require_format=cfg.require_format)

    rows = select(problems, done, cfg.num_generations, cfg.max_kept_per_problem,
                  lambda problem, sample: trace_row(problem, sample, cfg))
    JsonlStore(output).rewrite(rows)
    solved = len({r["problem_id"] for r in rows})
    print(
        f"zero.generate: {accepted} of {len(done)} samples accepted ({accepted / max(len(done), 1):.1%}); "
        f"{len(rows)} rows from {solved} of {len(problems)} problems in {output} (samples: {log.path})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
