"""Rollout throughput: vLLM (the engine TRL colocates) vs HF `generate`, same prompts, same sampling, one run.

    PYTHONPATH=. python bench/rollouts.py                      # zero.tiny model, 16 prompts x 8 generations x 64 tokens
    PYTHONPATH=. python bench/rollouts.py --model small        # a 4-layer, hidden-512 Qwen2 (11.5M params)
    PYTHONPATH=. python bench/rollouts.py --model /path/to/hf_checkpoint
    PYTHONPATH=. python bench/rollouts.py --model /tmp/smollm2 --num-prompts 4 --num-generations 4 --max-new-tokens 32

Both sides sample at temperature 1 with no top-k/top-p and are forced to write exactly `--max-new-tokens` tokens
(vLLM `ignore_eos`, HF `min_new_tokens`), so they do the same work and tokens/s compare directly. The engine is
built with the arguments TRL 1.16's colocate mode passes (`trl/generation/vllm_generation.py`, `_init_vllm`) and the
dtype zero adds (`--vllm-dtype`, zero's `vllm_dtype`: match, the default, computes in HF's float32 as a zero.train run
does; auto is TRL alone, where vLLM downcasts the float32 checkpoint to bfloat16). Each round times prefill alone
(1 new token) and the full rollout, so the report splits the time into prefill and per-token decode. Engine start-up
is reported separately and not counted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def build_small_model(output_dir: Path, seed: int = 0) -> Path:
    """A Qwen2 ~30x zero.tiny's size (hidden 512, 4 layers, 11.5M params), tiny tokenizer, random weights."""
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    from zero.tiny.model import load_tokenizer

    tokenizer = load_tokenizer()
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=512, intermediate_size=1408, num_hidden_layers=4,
        num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=512, tie_word_embeddings=True,
        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, dtype="float32",
    )  # fmt: skip
    torch.manual_seed(seed)
    AutoModelForCausalLM.from_config(config).save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    return output_dir


def make_prompts(num_prompts: int) -> list[str]:
    """The tiny task's problems in the R1-Zero template (~100 tokens each)."""
    from zero.templates import render
    from zero.tiny.task import arithmetic_problems

    return [render("r1_zero", p["problem"]) for p in arithmetic_problems(num_prompts, 20, seed=0)]


def start_vllm(model_path: str, max_num_seqs: int, max_model_len: int, dtype: str = "auto"):
    """An engine built like TRL's colocate mode (in-process, `external_launcher`), 1 GiB of KV cache."""
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    for key, value in {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1"}.items():
        os.environ.setdefault(key, value)
    from trl.trainer.utils import ensure_master_addr_port
    from vllm import LLM

    ensure_master_addr_port()
    return LLM(
        model=model_path, gpu_memory_utilization=0.2, max_model_len=max_model_len, max_num_seqs=max_num_seqs,
        distributed_executor_backend="external_launcher", seed=0, max_num_batched_tokens=4096,
        logprobs_mode="processed_logprobs", dtype=dtype,
    )  # fmt: skip


def vllm_rollout(llm, prompt_ids: list[list[int]], num_generations: int, new_tokens: int) -> int:
    """Sample like TRL's colocate mode (token ids in, each prompt repeated, n=1); returns completion tokens written."""
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

    params = SamplingParams(n=1, temperature=1.0, top_p=1.0, top_k=-1, max_tokens=new_tokens, ignore_eos=True)
    repeated = [TokensPrompt(prompt_token_ids=ids) for ids in prompt_ids for _ in range(num_generations)]
    outputs = llm.generate(repeated, params, use_tqdm=False)
    return sum(len(o.outputs[0].token_ids) for o in outputs)


def hf_rollout(model, tokenizer, prompts: list[str], num_generations: int, new_tokens: int) -> int:
    """The same sampling with `model.generate`, all sequences in one left-padded batch; returns tokens written."""
    import torch

    batch = tokenizer(prompts, return_tensors="pt", padding=True)
    with torch.no_grad():
        out = model.generate(
            **batch, do_sample=True, temperature=1.0, top_p=1.0, top_k=0, max_new_tokens=new_tokens,
            min_new_tokens=new_tokens, num_return_sequences=num_generations, pad_token_id=tokenizer.pad_token_id,
        )  # fmt: skip
    completions = out[:, batch["input_ids"].shape[1] :]  # [num_prompts * num_generations, new_tokens]
    return completions.numel()  # min_new_tokens == max_new_tokens: no sequence stops early


def timed(fn, *args) -> tuple[float, int]:
    start = time.perf_counter()
    tokens = fn(*args)
    return time.perf_counter() - start, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny", help="'tiny' (zero.tiny), 'small', or a checkpoint directory")
    parser.add_argument("--num-prompts", type=int, default=16)
    parser.add_argument("--num-generations", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per side, interleaved")
    parser.add_argument("--vllm-dtype", default="match", help="zero's vllm_dtype: match (HF's float32), auto (TRL's)")
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForCausalLM

    from zero.models import tokenizer_from_pretrained
    from zero.vllm_compat import engine_dtype

    from zero.tiny.model import build_tiny_model

    tmp = tempfile.TemporaryDirectory()
    builders = {"tiny": build_tiny_model, "small": build_small_model}
    path = str(builders[args.model](Path(tmp.name) / args.model) if args.model in builders else args.model)
    prompts = make_prompts(args.num_prompts)
    n, new = args.num_generations, args.max_new_tokens

    tokenizer = tokenizer_from_pretrained(path)  # as saved (AutoTokenizer rebuilds qwen2 tokenizers)
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    prompt_ids = tokenizer(prompts)["input_ids"]  # vLLM gets ids, as from TRL: its own tokenizer is AutoTokenizer's
    prompt_len = max(len(ids) for ids in prompt_ids)
    start = time.perf_counter()
    dtype = engine_dtype(args.vllm_dtype, model.dtype)
    llm = start_vllm(path, max_num_seqs=len(prompts) * n, max_model_len=prompt_len + new + 8, dtype=dtype)
    startup = time.perf_counter() - start
    engine = str(llm.llm_engine.model_config.dtype).removeprefix("torch.")
    print(f"model {args.model}: {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M params; "
          f"{len(prompts)} prompts x {n} generations x {new} tokens, prompt <= {prompt_len} tokens; "
          f"torch threads {torch.get_num_threads()}; vLLM engine start-up {startup:.1f}s, {engine} "
          f"(vllm_dtype={args.vllm_dtype})")  # fmt: skip

    vllm_rollout(llm, prompt_ids[:2], 2, 4)  # warm-up: first-call allocations on both sides
    hf_rollout(model, tokenizer, prompts[:2], 2, 4)
    rows: dict[str, dict[str, list[float]]] = {"vllm": {"prefill": [], "full": []}, "hf": {"prefill": [], "full": []}}
    tokens = {}
    for _ in range(args.rounds):  # interleaved, so both sides see the same machine load
        for side, run in (("vllm", lambda k: vllm_rollout(llm, prompt_ids, n, k)),
                          ("hf", lambda k: hf_rollout(model, tokenizer, prompts, n, k))):  # fmt: skip
            rows[side]["prefill"].append(timed(run, 1)[0])
            seconds, tokens[side] = timed(run, new)
            rows[side]["full"].append(seconds)

    # Best round = the machine's capability; median = what a shared machine gave. Both are printed because other
    # processes on the same cores slow vLLM's core-bound OpenMP threads far more than HF's (rounds list shows it).
    ratio = {}
    for stat in (min, statistics.median):
        rate = {}
        for side, times in rows.items():
            full, prefill = stat(times["full"]), stat(times["prefill"])
            rate[side] = tokens[side] / full
            decode_ms = 1000 * (full - prefill) / max(new - 1, 1)
            print(f"{stat.__name__:>6} {side:>4}: {tokens[side]} tokens in {full:.2f}s = {rate[side]:.0f} tok/s "
                  f"(prefill {prefill:.2f}s, decode {decode_ms:.1f} ms/step, {len(prompts) * n} sequences)")  # fmt: skip
        ratio[stat.__name__] = rate["vllm"] / rate["hf"]
    for side, times in rows.items():
        print(f"{side:>4} rounds (s): {[round(t, 2) for t in times['full']]}")
    print(f"vLLM / HF throughput: {ratio['min']:.2f}x best round, {ratio['median']:.2f}x median round")
    del llm
    tmp.cleanup()


if __name__ == "__main__":  # vLLM may spawn worker processes, which re-import this file
    main()
