"""What zero costs on top of TRL: the tiny recipe through `zero.train` vs a bare TRL `GRPOTrainer`.

Same model (one tiny base model, no cold start), same prompts, same reward functions, same GRPOConfig, same seed;
zero adds its rollout columns and reasoning telemetry. Runs alternate (bare, zero, bare, zero, ...) so machine
noise hits both alike; the ratio of medians is printed. Target: <= 1.05.

    python bench/overhead.py [--steps 30] [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "configs" / "tiny.yaml"


def common_overrides(model_dir: Path, steps: int, out: Path) -> list[str]:
    return [
        f"model_name_or_path={model_dir}",
        "cold_start_steps=0",
        f"max_steps={steps}",
        "report_to=none",
        "save_strategy=no",
        "disable_tqdm=true",
        f"output_dir={out}",
    ]


def run_zero(model_dir: Path, steps: int, out: Path) -> float:
    from zero.train import main

    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        code = main([str(RECIPE), *common_overrides(model_dir, steps, out)])
    assert code == 0, f"zero.train exited {code}"
    return time.perf_counter() - start


def run_bare(model_dir: Path, steps: int, out: Path) -> float:
    from transformers import PreTrainedTokenizerFast
    from trl import GRPOConfig, GRPOTrainer

    import rewards
    from zero.config import ZeroConfig, parse
    from zero.train import training_set

    start = time.perf_counter()
    cfg, args = parse([str(RECIPE), *common_overrides(model_dir, steps, out)], (ZeroConfig, GRPOConfig))
    funcs = []
    for name in cfg.reward_funcs:
        func = partial(rewards.get_reward(name), answer_region="answer_tag")
        func.__name__ = name
        funcs.append(func)
    trainer = GRPOTrainer(
        model=str(model_dir),
        args=args,
        reward_funcs=funcs,
        train_dataset=training_set(cfg, args.seed),
        # the tokenizer exactly as saved: AutoTokenizer would rebuild this qwen2 checkpoint's tokenizer as a
        # Qwen2Tokenizer (see zero.models.tokenizer_from_pretrained) and the two runs would see different tokens
        processing_class=PreTrainedTokenizerFast.from_pretrained(model_dir),
    )
    with contextlib.redirect_stdout(io.StringIO()):
        trainer.train()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    opts = parser.parse_args()

    from zero.tiny.model import build_tiny_model

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model_dir = build_tiny_model(tmp / "model", seed=0)
        times: dict[str, list[float]] = {"bare TRL": [], "zero": []}
        for i in range(opts.repeats):
            times["bare TRL"].append(run_bare(model_dir, opts.steps, tmp / f"bare{i}"))
            times["zero"].append(run_zero(model_dir, opts.steps, tmp / f"zero{i}"))
            print(f"repeat {i + 1}: bare {times['bare TRL'][-1]:.2f} s, zero {times['zero'][-1]:.2f} s", flush=True)
    medians = {k: statistics.median(v) for k, v in times.items()}
    ratio = medians["zero"] / medians["bare TRL"]
    print(f"{opts.steps} GRPO steps of the tiny recipe, median of {opts.repeats}:")
    for name, value in medians.items():
        print(f"  {name:9s} {value:7.2f} s")
    print(f"ratio zero / bare TRL: {ratio:.3f}  (target <= 1.05)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
