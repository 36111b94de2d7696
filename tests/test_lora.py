"""LoRA (zero.args.LoraArgs, zero.lora): the keys are checked when the config is built, the refused adapters exit 2
before anything is written, and a LoRA run leaves a merged model that loads without peft, an adapter, and
checkpoints that resume to the same weights as an uninterrupted run.

Run: python -m pytest tests/test_lora.py -m "not slow"   (seconds; the slow LoRA runs about 4 minutes on 2 CPU cores)
"""

from __future__ import annotations

import importlib.util
import json

import pytest
from helpers import REPO, run_zero_train

from zero.errors import ConfigError

TINY_LORA_RECIPE = REPO / "configs" / "tiny_lora.yaml"
needs_peft = pytest.mark.skipif(importlib.util.find_spec("peft") is None, reason="needs peft (pip install -e .[lora])")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"lora_r": 0}, "lora_r must be >= 1"),
        ({"lora_alpha": 0}, "lora_alpha must be >= 1"),
        ({"lora_dropout": 1.0}, r"lora_dropout must be in \[0, 1\)"),
        ({"lora_target_modules": []}, "lora_target_modules is empty"),
    ],
)
def test_bad_lora_keys_fail_when_the_config_is_built(values, message):
    from zero.args import LoraArgs

    with pytest.raises(ConfigError, match=message):
        LoraArgs(use_peft=True, **values)


def test_use_peft_without_peft_installed_names_the_extra(monkeypatch):
    from zero import args

    real = importlib.util.find_spec
    monkeypatch.setattr(args.importlib.util, "find_spec", lambda name: None if name == "peft" else real(name))
    with pytest.raises(ConfigError, match=r"pip install 'zero-r1\[lora\]'"):
        args.LoraArgs(use_peft=True)
    args.LoraArgs(use_peft=False)  # nothing to install without LoRA


@needs_peft
def test_peft_config_is_trls_with_our_keys():
    from zero.args import LoraArgs
    from zero.lora import peft_config

    assert peft_config(LoraArgs()) is None
    config = peft_config(LoraArgs(use_peft=True, lora_r=4, lora_alpha=8, lora_dropout=0.0,
                                  lora_target_modules=["all-linear"], lora_modules_to_save=["embed_tokens"]))  # fmt: skip
    assert (config.r, config.lora_alpha, config.lora_dropout) == (4, 8, 0.0)
    assert config.target_modules == "all-linear"  # peft's preset is the string, not a module named so
    assert config.modules_to_save == ["embed_tokens"] and config.task_type == "CAUSAL_LM"
    assert peft_config(LoraArgs(use_peft=True, lora_target_modules=["q_proj", "v_proj"])).target_modules == {"q_proj", "v_proj"}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["lora_target_modules=embed_tokens,q_proj"], "ties it to lm_head"),
        (["lora_target_modules=lm_head"], "GRPO never trains"),
        (["lora_modules_to_save=embed_tokens"], "untie the model first"),
    ],
)
def test_refused_adapters_exit_2_before_anything_is_written(tmp_path, capfd, extra, message):
    out = tmp_path / "run"
    assert run_zero_train(str(TINY_LORA_RECIPE), f"output_dir={out}", *extra) == 2
    err = capfd.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("zero.train: error:")]
    assert len(errors) == 1 and message in errors[0] and err[-1] == errors[0], err[-5:]
    assert not out.exists()


@needs_peft
def test_the_final_merge_reads_the_saved_adapter_not_the_trainer_s_weights(tmp_path):
    """Under FSDP or ZeRO-3 each process holds only a shard of the trained weights, so the merged model is built from
    the adapter the trainer saved (gathered) and a fresh copy of the base model: here the trainer's model is gone
    (None) and the merged output still scores exactly like base + adapter."""
    from types import SimpleNamespace

    import torch
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    from zero.args import LoraArgs
    from zero.lora import peft_config, save_adapter_and_merged
    from zero.tiny.model import build_tiny_model

    base = build_tiny_model(tmp_path / "base", seed=0)
    trained = get_peft_model(AutoModelForCausalLM.from_pretrained(base),
                             peft_config(LoraArgs(use_peft=True, lora_target_modules=["all-linear"])))  # fmt: skip
    torch.manual_seed(0)
    for name, param in trained.named_parameters():
        if "lora_B" in name:  # B starts at zero: give the adapter an effect
            param.data.normal_(0.0, 0.05)
    out = tmp_path / "out"
    args = SimpleNamespace(output_dir=str(out), should_save=True, model_init_kwargs={"dtype": "float32"})
    trainer = SimpleNamespace(args=args, model=None, save_model=lambda path: trained.save_pretrained(path))
    save_adapter_and_merged(trainer)

    merged = AutoModelForCausalLM.from_pretrained(out).eval()
    ids = torch.tensor([list(range(3, 40))])
    with torch.no_grad():
        expected, got = trained.eval()(ids).logits, merged(ids).logits
        untrained = AutoModelForCausalLM.from_pretrained(base).eval()(ids).logits
    assert (got - expected).abs().max() < 1e-4
    assert (got - untrained).abs().max() > 1e-3
    assert not (out / "adapter_config.json").exists() and (out / "adapter" / "adapter_config.json").is_file()


@pytest.mark.slow
@needs_peft
def test_lora_run_saves_merged_model_and_adapter_and_resumes_exactly(tmp_path):
    """Four GRPO steps of the tiny LoRA recipe straight through, and the same four stopped after step 2 and
    restarted: the restarted run's adapter equals the uninterrupted one's (seeded sampling, the adapter's optimizer
    state from checkpoint-2). The merged model in output_dir loads with plain transformers and scores like the base
    model with the adapter applied by peft."""
    import torch
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    # A 10-step cold start earns no accuracy reward; the seeded coin flip (rewards/spurious.py) gives every group
    # advantages, so the adapter moves.
    small = ["cold_start_steps=10", "tiny_num_problems=40", "num_generations=4", "per_device_train_batch_size=8",
             "save_steps=2", "report_to=none", "disable_tqdm=true", "reward_funcs=random,format"]  # fmt: skip
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert run_zero_train(str(TINY_LORA_RECIPE), f"output_dir={straight}", *small, "max_steps=4") == 0
    assert run_zero_train(str(TINY_LORA_RECIPE), f"output_dir={resumed}", *small, "max_steps=2") == 0
    assert run_zero_train(str(TINY_LORA_RECIPE), f"output_dir={resumed}", *small, "max_steps=4") == 0

    for out in (straight, resumed):  # checkpoints hold the adapter and its optimizer state, not the full model
        names = {p.name for p in (out / "checkpoint-4").iterdir()}
        assert {"adapter_model.safetensors", "adapter_config.json", "optimizer.pt"} <= names
        assert "model.safetensors" not in names
    a, b = load_file(straight / "adapter" / "adapter_model.safetensors"), load_file(resumed / "adapter" / "adapter_model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert any(k.endswith("lora_B.weight") and a[k].abs().max() > 0 for k in a), "the adapter never trained"
    history = json.loads((resumed / "checkpoint-4" / "trainer_state.json").read_text())["log_history"]
    assert [h["step"] for h in history if "loss" in h] == [1, 2, 3, 4]

    assert not (straight / "adapter_config.json").exists()  # output_dir is a plain model: nothing points to peft
    merged = AutoModelForCausalLM.from_pretrained(straight).eval()
    with_adapter = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(straight / "cold_start"),
                                             straight / "adapter").eval()  # fmt: skip
    cold = AutoModelForCausalLM.from_pretrained(straight / "cold_start").eval()
    ids = torch.tensor([list(range(3, 40))])
    with torch.no_grad():
        m, p, c = merged(ids).logits, with_adapter(ids).logits, cold(ids).logits
    assert (m - p).abs().max() < 1e-4  # the same function, merged
    assert (m - c).abs().max() > 1e-3  # and not the cold start's
