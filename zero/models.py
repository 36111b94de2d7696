"""The policy to start from: a hub id, a local checkpoint (e.g. a zero.sft output), or the built-in tiny model
(built, and cold-started, by `zero.tiny.cold_start.prepare_policy`; this module only loads).

A name that cannot be a model fails when the config is built (`ModelArgs.check_model`); a hub id that cannot be
reached fails in `load_tokenizer`, before the run writes anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zero.args import TINY, ModelArgs
from zero.config import ConfigError
from zero.tiny import model as tiny_model


# Tokenizer classes that mean "tokenizer.json as it is". transformers 5 ignores them for model types it lists as
# having wrong hub tokenizer classes (qwen2 among them) and rebuilds a Qwen2Tokenizer from the vocabulary, which
# silently re-tokenizes any custom tokenizer (the tiny model's: "<think>" became "i"). We trust the checkpoint.
_AS_SAVED = {"TokenizersBackend", "PreTrainedTokenizerFast"}


def tokenizer_from_pretrained(name_or_path: str | Path):
    """`AutoTokenizer.from_pretrained`, except that a checkpoint whose tokenizer_config.json names the generic fast
    class loads exactly its tokenizer.json. Every zero command loads tokenizers through this."""
    import json

    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    config = Path(name_or_path) / "tokenizer_config.json"
    if config.is_file() and json.loads(config.read_text()).get("tokenizer_class") in _AS_SAVED:
        return PreTrainedTokenizerFast.from_pretrained(name_or_path)
    return AutoTokenizer.from_pretrained(name_or_path)


def load_tokenizer(model: ModelArgs):
    """The tokenizer of `model.model_name_or_path`, with a pad token; ConfigError when the model cannot be found
    (`ModelArgs.check_model` already refused a name that cannot be one)."""
    name = model.model_name_or_path
    if name == TINY:
        return tiny_model.load_tokenizer()
    try:
        tokenizer = tokenizer_from_pretrained(name)
    except (OSError, ValueError) as e:
        where = "directory" if Path(name).exists() else "hub id"
        raise ConfigError(
            f"cannot load a tokenizer from {where} {name!r} ({str(e).splitlines()[0][:200]}): "
            "check the name, your network (or HF_HUB_OFFLINE and the local cache)"
        ) from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def attention(requested: str | None) -> str | None:
    """The attention kernel to load the model with: `requested`, except flash_attention_2 where flash-attn cannot run
    (not installed, or no CUDA), which becomes sdpa with one line saying so. No extra of zero installs flash-attn (it
    builds against the local CUDA toolkit), so the GPU recipes must also run without it.

    >>> attention("sdpa"), attention(None)
    ('sdpa', None)
    """
    if requested != "flash_attention_2":
        return requested
    from transformers.utils import is_flash_attn_2_available

    if is_flash_attn_2_available():
        return requested
    print(
        "zero: attn_implementation=flash_attention_2 but flash-attn is not usable here (not installed, or no CUDA); "
        "using sdpa. For the faster kernel: pip install flash-attn --no-build-isolation"
    )
    return "sdpa"


def model_init_kwargs(model: ModelArgs) -> dict[str, Any]:
    """What GRPOTrainer and SFTTrainer pass to `from_pretrained`."""
    kwargs: dict[str, Any] = {"dtype": model.dtype}
    if model.attn_implementation:
        kwargs["attn_implementation"] = attention(model.attn_implementation)
    return kwargs
