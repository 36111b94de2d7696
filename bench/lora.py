"""LoRA against full fine-tuning: optimizer step time, peak memory and optimizer state, side by side in one run.

    PYTHONPATH=. python bench/lora.py                          # the tiny recipe's model and LoRA settings
    PYTHONPATH=. python bench/lora.py --model /tmp/smollm2     # a real checkpoint (python scripts/smollm2.py /tmp/smollm2)

Each variant runs in its own process (so its peak resident memory is its own): the model in float32, AdamW, and
`--steps` optimizer steps of forward + backward + step on a fixed batch of `--batch` sequences of `--length` tokens,
the shape of a GRPO update (generation is not timed: vLLM generates from merged weights either way). LoRA uses the
configs/tiny_lora.yaml adapter (rank 16, alpha 32, every linear layer) through zero.lora.peft_config, as
zero.train does. Reported: median step time, peak RSS of the process, optimizer state bytes, trainable parameters,
and LoRA / full ratios.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def measure(model_path: str, peft: bool, steps: int, batch: int, length: int) -> dict:
    import torch
    from transformers import AutoModelForCausalLM

    from zero.args import LoraArgs
    from zero.lora import peft_config

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
    if peft:
        from peft import get_peft_model

        lora = LoraArgs(use_peft=True, lora_r=16, lora_alpha=32, lora_dropout=0.0, lora_target_modules=["all-linear"])
        model = get_peft_model(model, peft_config(lora))
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    ids = torch.randint(3, model.config.vocab_size, (batch, length))
    times = []
    for _ in range(steps + 1):  # the first step allocates the optimizer state: not timed
        start = time.perf_counter()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
    state = sum(t.numel() * t.element_size() for s in optimizer.state.values() for t in s.values() if torch.is_tensor(t))
    return {
        "step_s": statistics.median(times[1:]),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "optimizer_state_mb": state / 2**20,
        "trainable": sum(p.numel() for p in params),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny", help="tiny (zero.tiny's model) or a checkpoint directory")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--child", choices=["full", "lora"], help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.child:
        print(json.dumps(measure(opts.model, opts.child == "lora", opts.steps, opts.batch, opts.length)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        model = opts.model
        if model == "tiny":
            from zero.tiny.model import build_tiny_model

            model = str(build_tiny_model(Path(tmp) / "tiny", seed=0))
        results = {}
        for variant in ("full", "lora"):
            argv = [sys.executable, __file__, "--model", model, "--child", variant, "--steps", str(opts.steps),
                    "--batch", str(opts.batch), "--length", str(opts.length)]  # fmt: skip
            out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
            results[variant] = json.loads(out.strip().splitlines()[-1])
    full, lora = results["full"], results["lora"]
    print(f"model {opts.model}: {opts.steps} steps of {opts.batch} x {opts.length} tokens, float32, AdamW")
    for key, label in (("step_s", "step time (s)"), ("peak_rss_mb", "peak RSS (MB)"),
                       ("optimizer_state_mb", "optimizer state (MB)"), ("trainable", "trainable parameters")):  # fmt: skip
        print(f"  {label:<24} full {full[key]:>12,.3f}   LoRA {lora[key]:>12,.3f}   LoRA / full {lora[key] / full[key]:.3f}")


if __name__ == "__main__":
    main()
