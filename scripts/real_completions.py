"""Real completions of SmolLM2-135M-Instruct on shipped GSM8K problems, kept as test data for the reward.

    python scripts/smollm2.py /tmp/smollm2                        # the real checkpoint (scripts/smollm2.py)
    OMP_NUM_THREADS=1 python scripts/real_completions.py /tmp/smollm2 tests/data/smollm2_completions.jsonl

Writes one JSON line per completion: ``id`` (``<template>-<problem index>-<sample>``), ``problem_index`` (its line in
zero/datafiles/train/gsm8k_train.jsonl, counted from 0), ``gold`` (that line's ``answer``), ``template`` and
``answer_region`` (where zero reads the answer for that prompt) and ``completion`` (the decoded new tokens, special
tokens dropped, after the prefill if any). Four prompts (``PROMPTS``):

- ``r1_zero``: the plain-text R1-Zero template (zero.templates), as a base model sees it; answer_tag;
- ``chat``: the tokenizer's chat template, the R1-Zero instructions as the system turn; answer_tag;
- ``r1_distill``: zero's r1_distill template (chat, "put your final answer within \\boxed{}"); boxed;
- ``chat_prefill``: ``chat`` with the assistant turn prefilled with ``<answer>``: the 135M model almost never
  writes the tags itself (0 of 9 in a first try), so this is how its own answer strings reach the answer_tag
  region. It rarely closes the tag within 32 tokens either, so the script closes it: the completion is the
  prefill, the model's text up to its own ``</answer>`` or its first line break, and ``</answer>`` (added by this
  script when the model did not write it). What is inside the tags is the model's.

HF ``generate`` samples at temperature 0.8 (top_k off, top_p 1, torch seed 0), 2 samples per problem, up to 128 new
tokens (32 after the ``<answer>`` prefill); with the defaults (the first 30 problems, 120 for ``chat_prefill``) that
is 420 completions, in 916 s on one CPU thread beside other work (seeded: the same torch build and thread count
write the same file). Of them, 178 hold an answer zero reads: 177 of the 240 ``chat_prefill`` (the rest wrote a
second ``<answer>`` or nothing), 1 of the 60 ``chat``, none of ``r1_zero`` (no tags) or ``r1_distill`` (no box).
tests/data/smollm2_completions.jsonl is this output plus two rows added by hand, ``"source": "issue 22"``: the two
answers issue 22 quotes from a SmolLM2 completion, whose full text was not kept. tests/test_rewards_real.py grades
them; it needs neither this script nor the model.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = ROOT / "zero" / "datafiles" / "train" / "gsm8k_train.jsonl"
# The R1-Zero instructions without the "User: ... Assistant:" frame, for the chat template's system turn.
R1_SYSTEM = (
    "The user asks a question, and the Assistant solves it. The assistant first thinks about the reasoning process "
    "in the mind and then provides the user with the answer. The reasoning process and answer are enclosed within "
    "<think> </think> and <answer> </answer> tags, respectively, i.e., <think> reasoning process here </think> "
    "<answer> answer here </answer>."
)


PREFILL = "<answer>"
# name -> (answer_region, problems, max_new_tokens, prefill)
PROMPTS = {
    "r1_zero": ("answer_tag", 30, 128, ""),
    "chat": ("answer_tag", 30, 128, ""),
    "r1_distill": ("boxed", 30, 128, ""),
    "chat_prefill": ("answer_tag", 120, 32, PREFILL),
}


def closed(text: str) -> str:
    """The model's text after the ``<answer>`` prefill, cut at its own ``</answer>`` or its first line break, closed.

    >>> closed(" 18 dollars\\nSo ..."), closed(" 7 </answer> more")
    (' 18 dollars</answer>', ' 7 </answer>')
    """
    end = text.find("</answer>")
    if end >= 0:
        return text[: end + len("</answer>")]
    return text.split("\n", 1)[0] + "</answer>"


def prompt(tokenizer, name: str, problem: str) -> str:
    from zero.templates import render

    if name == "r1_zero":
        return render("r1_zero", problem)
    if name == "r1_distill":
        messages = render("r1_distill", problem)
    else:
        messages = render("chat", problem, system_prompt=R1_SYSTEM)
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return text + PROMPTS[name][3]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir")
    parser.add_argument("output")
    parser.add_argument("--samples", type=int, default=2, help="completions per problem and prompt")
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--prompts", default=",".join(PROMPTS), help="which of PROMPTS, comma-separated")
    parser.add_argument("--scale", type=float, default=1.0, help="a fraction of each prompt's problems (a quick try)")
    args = parser.parse_args(argv)

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(args.model_dir, dtype=torch.float32).eval()
    rows = [json.loads(line) for line in PROBLEMS.read_text().splitlines()]
    start, done = time.perf_counter(), 0
    with open(args.output, "w") as out:
        for name in args.prompts.split(","):
            if name not in PROMPTS:
                sys.exit(f"unknown prompt {name!r}: choose from {', '.join(PROMPTS)}")
            region, n, max_new_tokens, prefill = PROMPTS[name]
            jobs = [(i, s) for i in range(max(1, round(n * args.scale))) for s in range(args.samples)]
            for b in range(0, len(jobs), args.batch):
                batch = jobs[b : b + args.batch]
                texts = [prompt(tokenizer, name, rows[i]["problem"]) for i, _ in batch]
                enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
                with torch.no_grad():
                    generated = model.generate(
                        **enc, do_sample=True, temperature=args.temperature, top_p=1.0, top_k=0,
                        max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                    )
                new = tokenizer.batch_decode(generated[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
                for (i, s), text in zip(batch, new):
                    if prefill:
                        text = closed(text)
                    row = {"id": f"{name}-{i}-{s}", "problem_index": i, "gold": rows[i]["answer"], "template": name,
                           "answer_region": region, "completion": prefill + text}
                    out.write(json.dumps(row) + "\n")
                out.flush()
                done += len(batch)
                print(f"{name}: {done} completions, {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
