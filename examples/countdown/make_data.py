"""TinyZero's Countdown task as a data file: make `target` from `nums` with + - * / (each number used once).

    python examples/countdown/make_data.py --num-problems 2000 --seed 0 --out examples/countdown/countdown.jsonl

Each row: `problem` (the question the template renders), `nums` (3 or 4 numbers in 1..99), `target`, and
`solution` (one equation that makes it, as TinyZero's generator guarantees a solution exists; shown in replay,
read by no reward). The same seed writes the same file.
"""

from __future__ import annotations

import argparse
import json
import random
from fractions import Fraction
from pathlib import Path

OPS = "+-*/"


def make_problem(rng: random.Random, max_target: int = 100) -> dict | None:
    """One solvable problem: an equation built from random numbers and operations, kept when its value is a whole
    number in 1..max_target; None otherwise (the caller draws again)."""
    nums = [rng.randint(1, 99) for _ in range(rng.choice((3, 4)))]
    order = nums[:]
    rng.shuffle(order)
    value, text = Fraction(order[0]), str(order[0])
    for n in order[1:]:
        op = rng.choice(OPS)
        if op == "/" and n == 0:
            return None
        value = {"+": value + n, "-": value - n, "*": value * n, "/": value / n}[op]
        text = f"({text} {op} {n})" if op in "+-" else f"{text} {op} {n}"
    if value.denominator != 1 or not 1 <= value <= max_target:
        return None
    target = int(value)
    problem = (f"Using the numbers {nums}, create an equation that equals {target}. You can use basic arithmetic "
               "operations (+, -, *, /) and each number exactly once. Show your work in <think> </think> tags and "
               "return the final equation in <answer> </answer> tags, for example <answer> (1 + 2) / 3 </answer>")
    return {"problem": problem, "nums": nums, "target": target, "solution": text}


def make_problems(num_problems: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows: list[dict] = []
    while len(rows) < num_problems:
        row = make_problem(rng)
        if row is not None:
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-problems", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("countdown.jsonl"))
    args = parser.parse_args(argv)
    if args.num_problems < 1:
        parser.error(f"--num-problems must be >= 1, got {args.num_problems}")
    rows = make_problems(args.num_problems, args.seed)
    args.out.write_text("".join(json.dumps(row) + "\n" for row in rows))
    print(f"wrote {len(rows)} problems to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
