"""Each training problem's pass rate under a model: `python -m zero.pass_rate CONFIG [key=value ...]`.

    python -m zero.pass_rate model_name_or_path=Qwen/Qwen2.5-Math-1.5B dataset_name=zero/datafiles/train/math_train.jsonl \\
        template=qwen_math_boxed num_generations=8 output_file=pass_rates/math_qwen2.5_math_1.5b.jsonl

config -> problems (zero.train's, as zero.data reads them) -> k samples each (zero.sampling: vLLM, or HF `generate`)
-> the accuracy reward -> one row per problem: `prompt_id`, `pass_rate` (the share of its k samples graded right),
`k`, `correct`, `problem`. zero.train keeps the problems inside a band with ``pass_rate_file=FILE
dataset_pass_rate=[0.1,0.9]``: open-r1's filter, which drops the problems a model always or never solves, whose
groups would all score alike and teach nothing.

The sampling is zero.generate's (`zero.generate.draw`): every sample is logged to `OUTPUT.samples.jsonl` as it is
graded, a rerun draws only the missing ones, and each sample has its own seed. `--help` lists every key.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from zero.args import PromptArgs, reuse
from zero.args import help_field as _help
from zero.generate import GenerateConfig, Problem, draw, start
from zero.run import cli
from zero.store import JsonlStore


@dataclass
class PassRateConfig(GenerateConfig):
    """zero.generate's knobs (the model, the problems, sampling); the acceptance rule and the trace format are
    unused: a sample passes when the accuracy reward grades it right."""

    template: str = reuse(PromptArgs, "template", default="r1_zero")  # the template zero.train renders with
    num_generations: int = _help("Samples drawn per problem (k); the pass rate is right / k.", default=8)
    temperature: float = _help("Sampling temperature: zero.train's, so the rate is the one training will see.",
                               default=1.0)  # fmt: skip
    top_p: float = _help("Nucleus sampling mass (zero.train's).", default=1.0)
    output_file: str = _help("The pass-rate file (.jsonl); OUTPUT.samples.jsonl logs every sample.",
                             default="pass_rates.jsonl")  # fmt: skip


def pass_rates(problems: list[Problem], samples: list[dict], k: int) -> list[dict]:
    """One row per problem from its first `k` graded samples (right: accuracy 1.0).

    >>> problems = [Problem(0, "a", "1 + 1", "2", ""), Problem(1, "b", "2 + 2", "4", "")]
    >>> samples = [{"problem_index": i, "sample_index": j, "verdict": {"accuracy": float(i == 0 or j == 0)}}
    ...            for i in range(2) for j in range(4)]
    >>> [(r["prompt_id"], r["pass_rate"], r["correct"]) for r in pass_rates(problems, samples, 4)]
    [('a', 1.0, 4), ('b', 0.25, 1)]
    """
    right: dict[int, int] = {}
    seen: dict[int, int] = {}
    for s in samples:
        if s["sample_index"] < k:
            seen[s["problem_index"]] = seen.get(s["problem_index"], 0) + 1
            right[s["problem_index"]] = right.get(s["problem_index"], 0) + (s["verdict"]["accuracy"] == 1.0)
    return [{"prompt_id": p.problem_id, "pass_rate": right.get(p.index, 0) / k, "k": k,
             "correct": right.get(p.index, 0), "problem": p.problem} for p in problems if seen.get(p.index) == k]


@cli.command("zero.pass_rate", __doc__, lambda: (PassRateConfig,))
def main(cfg: PassRateConfig, generator: Any = None) -> int:
    region, tokenizer, problems, output, log, done = start(cfg, "zero.pass_rate")
    draw(cfg, problems, tokenizer, log, done, region, require_format=False, generator=generator,
         desc="zero.pass_rate")
    rows = pass_rates(problems, done, cfg.num_generations)
    JsonlStore(output).rewrite(rows)
    rates = [r["pass_rate"] for r in rows]
    never, always = sum(r == 0.0 for r in rates), sum(r == 1.0 for r in rates)
    print(f"zero.pass_rate: {len(rows)} problems, mean pass rate {sum(rates) / max(len(rates), 1):.3f} "
          f"(k={cfg.num_generations}); never solved {never}, always solved {always}; written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
