#!/usr/bin/env bash
# zero as a new user gets it: build the sdist, build the wheel from the sdist, install the wheel into a fresh venv,
# and from a directory outside the checkout run the default recipe (2 GRPO steps), zero.eval on a shipped benchmark
# and zero.replay on the result. Proves that recipes, benchmarks and the tiny tokenizer ship as package data.
#
#   bash scripts/wheel_smoke.sh [WORK_DIR]     # WORK_DIR: a new temporary directory when not given
#
# torch is pinned to the version in the checkout's .venv (scripts/install.sh put it there: 2.13.0+cpu on a CPU
# machine), so pip takes it from where that came from (a local wheel, pip's cache) and never pulls another build.
# ZERO_SMOKE_TORCH overrides the pin. Most of its time is pip installing the dependencies.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d)}"
mkdir -p "$work"
work="$(cd "$work" && pwd)"
unset PYTHONPATH  # the installed wheel, not the checkout, must answer every import
base_python="${ZERO_SMOKE_PYTHON:-python3}"
torch_pin="${ZERO_SMOKE_TORCH:-$("$repo/.venv/bin/python" -c 'import torch; print(torch.__version__)')}"
started=$SECONDS
step() { echo "wheel_smoke: [$((SECONDS - started)) s] $*"; }

step "copying the tracked tree (no build/ leftovers) to $work/src"
mkdir -p "$work/src"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -c) | tar -x -C "$work/src"

step "fresh venv $work/venv"
"$base_python" -m venv "$work/venv"
py="$work/venv/bin/python"
pip_quiet() { "$py" -m pip "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
pip_quiet install -q "setuptools>=77"  # builds both below (no isolated build environments to set up)

step "sdist, then the wheel built from the sdist"
(cd "$work/src" && "$py" -c "from setuptools import build_meta as b; b.build_sdist('$work/dist')" >"$work/build.log" 2>&1) \
    || { cat "$work/build.log"; exit 1; }
pip_quiet wheel -q --no-deps --no-build-isolation -w "$work/dist" "$work"/dist/zero_r1-*.tar.gz
wheel="$(ls "$work"/dist/zero_r1-*.whl)"

step "pip install $(basename "$wheel") torch==$torch_pin"
pip_quiet install -q "$wheel" "torch==$torch_pin"

mkdir -p "$work/elsewhere"
cd "$work/elsewhere"  # no configs/ here: recipes and benchmarks come from the installed package
"$py" - <<'PY'
import pathlib, sys, zero
where = pathlib.Path(zero.__file__).resolve()
assert "site-packages" in where.parts, f"zero imported from {where}, not from the installed wheel"
print(f"wheel_smoke: zero {zero.__version__} from {where.parent}")
PY

step "python -m zero.train (the default recipe, scaled down: 2 cold-start steps, 2 GRPO steps of 2 prompts x 4)"
"$py" -m zero.train max_steps=2 cold_start_steps=2 num_generations=4 per_device_train_batch_size=8 \
    max_completion_length=16 report_to=none disable_tqdm=true output_dir=runs/tiny
test -f runs/tiny/zero_config.yaml && ls runs/tiny/completions/completions_00002.parquet >/dev/null

step "python -m zero.eval on the shipped gsm8k (2 problems)"
"$py" -m zero.eval model_name_or_path=runs/tiny benchmarks=gsm8k limit=2 n=1 max_tokens=16 template=r1_zero \
    output_dir=runs/tiny_eval
test -f runs/tiny_eval/results.json

step "python -m zero.replay on the run"
"$py" -m zero.replay runs/tiny >"$work/replay.txt"
test -f runs/tiny/replay/curves.png
step "passed: wheel $(basename "$wheel") installs and runs outside the checkout"
