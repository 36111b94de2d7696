"""LoRA for zero.train and zero.sft: the `peft_config` TRL's trainers take, the check of its targets against the
model, and the run's final output (merged model + adapter).

The config group is `zero.args.LoraArgs` (TRL's `ModelConfig` names); the `LoraConfig` is built by TRL's own
`get_peft_config`, so a key means what it means in TRL's scripts. The vLLM side (merge, push, unmerge on each sync)
is TRL's, made exact on vLLM's CPU backend by zero.vllm_compat.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zero.args import EMBEDDING_MODULES, TINY, LoraArgs, ModelArgs
from zero.errors import ConfigError

ADAPTER_DIR = "adapter"  # beside the merged model in a LoRA run's output_dir


def peft_config(lora: LoraArgs):
    """The `peft.LoraConfig` of `lora` (TRL's `get_peft_config`), or None without `use_peft`."""
    if not lora.use_peft:
        return None
    from trl import ModelConfig, get_peft_config

    names = ("use_peft", "lora_r", "lora_alpha", "lora_dropout", "lora_target_modules", "lora_modules_to_save")
    # ModelConfig turns a one-item list into its item: peft reads the string "all-linear" as the preset.
    return get_peft_config(ModelConfig(**{n: getattr(lora, n) for n in names}))


def ties_embeddings(model: ModelArgs) -> bool:
    """Whether `model`'s input embedding and output head share one matrix (the config's `tie_word_embeddings`)."""
    if model.model_name_or_path == TINY:
        from zero.tiny.model import TIE_WORD_EMBEDDINGS

        return TIE_WORD_EMBEDDINGS
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model.model_name_or_path)
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    return bool(getattr(text, "tie_word_embeddings", False))


def check_targets(lora: LoraArgs, model: ModelArgs) -> None:
    """ConfigError for adapters zero cannot train or sync exactly; called before the run writes anything.

    An adapter on `lm_head` is never trained (TRL computes log-probs from `lm_head.weight` directly). On a
    tied-embedding model an adapter on `embed_tokens` is merged into the one matrix both ends share, so vLLM's tied
    head changes too while the trainer's does not (issue 22 measured a vLLM-vs-trainer log-prob gap of 64 on the
    tiny model); a `lora_modules_to_save` copy of either end is refused there for the same reason (peft trains a
    copy of one end, vLLM's tied head reads the other) without a measurement of our own.

    >>> check_targets(LoraArgs(use_peft=True, lora_target_modules=["embed_tokens"]), ModelArgs())
    Traceback (most recent call last):
    ...
    zero.errors.ConfigError: lora_target_modules has embed_tokens but builtin:tiny ties it to lm_head (one matrix, the merge would change both): drop it, or untie the model first
    """
    if not lora.use_peft:
        return
    targets = lora.lora_target_modules or []
    if "lm_head" in targets:
        raise ConfigError("lora_target_modules has lm_head, which GRPO never trains (log-probs read lm_head.weight): "
                          "remove it, or train it in full with lora_modules_to_save=lm_head on an untied model")
    if "embed_tokens" in targets and ties_embeddings(model):
        raise ConfigError(f"lora_target_modules has embed_tokens but {model.model_name_or_path} ties it to lm_head "
                          "(one matrix, the merge would change both): drop it, or untie the model first")
    saved = [m for m in lora.lora_modules_to_save or [] if m in EMBEDDING_MODULES]
    if saved and ties_embeddings(model):
        raise ConfigError(f"lora_modules_to_save has {saved[0]} but {model.model_name_or_path} ties embed_tokens to "
                          "lm_head (a trained copy of one end unties them in the trainer only): untie the model first")


def is_peft(model: Any) -> bool:
    """Whether `model` is a peft model (its adapters train, its base weights are frozen)."""
    from accelerate.utils import is_peft_model

    return is_peft_model(model)


def save_adapter_and_merged(trainer: Any) -> Path:
    """The final save of a LoRA run, on every process: the adapter in `output_dir/adapter/` (the trainer's
    `save_model`, which gathers shards), then (main process) the adapter merged into the base weights as a plain
    model in `output_dir` itself, with no trace of peft, so `model_name_or_path=output_dir` works in zero.eval,
    zero.train, vLLM and plain transformers as after full fine-tuning.

    The merge reads the saved adapter into a fresh copy of the base model (`merge_adapter`), never the trainer's own
    weights: under FSDP or DeepSpeed ZeRO-3 each process holds only a shard of those, and a merge in place would
    read shards (or ZeRO-3's empty placeholders) as the whole matrices."""
    output_dir = Path(trainer.args.output_dir)
    trainer.save_model(str(output_dir / ADAPTER_DIR))
    if trainer.args.should_save:
        dtype = (getattr(trainer.args, "model_init_kwargs", None) or {}).get("dtype", "auto")
        merge_adapter(output_dir / ADAPTER_DIR, output_dir, dtype)
    return output_dir


def merge_adapter(adapter_dir: str | Path, output_dir: str | Path, dtype: Any = "auto") -> Path:
    """Load the base model an adapter names (its adapter_config.json's `base_model_name_or_path`) in `dtype`, as the
    trainer loaded it, apply the adapter from `adapter_dir`, merge, and save the plain model to `output_dir`."""
    from peft import AutoPeftModelForCausalLM

    model = AutoPeftModelForCausalLM.from_pretrained(str(adapter_dir), dtype=dtype)
    model.merge_and_unload().save_pretrained(str(output_dir))
    return Path(output_dir)
