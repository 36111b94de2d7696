"""The tiny recipe's world, built in code: a ~0.8M-parameter Qwen2 model, its tokenizer, and a verifiable task.

Everything here runs offline on a CPU, so `python -m zero.train configs/tiny.yaml` exercises the same code path as
the GPU recipes (templates, `rewards/`, TRL's GRPOTrainer, vLLM when asked) in minutes.

- Task (`builtin:arithmetic`, `arithmetic_problems`): a chain on a ten-hour clock. A start digit and four distinct
  operations, each "+d" (d in 1..max_operand) or "*d" (d in 2..max_operand), applied left to right mod 10:
  "3 + 2 * 4 + 1 * 3" is ((3 + 2) * 4 + 1) * 3 mod 10 = 3. The gold answer (one digit) is drawn uniformly first,
  so no constant answer beats 0.1. The space (10 starts x 3024 ordered choices of 4 of 9 operations at
  max_operand 5) is far too large for the model to memorise, and the 2-layer model cannot compose four lookups in
  one forward pass, but it can do one lookup per step: written as running partial results
  ("3 + 2 = 5 * 4 = 0 + 1 = 1 * 3 = 3") every step reads the previous result, one operation and one operand at
  fixed offsets. Thinking longer is the only way to be right more often than chance.
- Cold start (`cold_start_traces`): pretraining, scaled down, planting behaviours that RL can select (as
  Understand-R1-Zero, Liu et al. 2025, found reflection already present in base models). Three kinds of trace
  (`MODES`, mixed by `cold_start_mix`, by default 60 / 25 / 15 %):
  - direct: the problem and a one-shot answer. The model can only guess these (about chance);
  - stepwise: the running partial results written in a hurry: a fixed share of the single-step facts
    (`MISREMEMBERED`) is always written with the same wrong digit, carried on to the end, so about 0.4 of
    them end right. The errors are confident and repeatable, like a base model's wrong recall: sampling the same
    habit again does not fix them, which is what leaves checking something to win;
  - reflective: a one-shot guess, right `GUESS_RIGHT` of the time, then "wait , let me check :", the careful
    running partial results, and ", not 7" when the guess was wrong (a real error that the check catches) or
    ", yes" when it was right. The check works every fact out correctly.
  RL's reward only checks the final answer and the tags, so longer, reflective completions win only because
  they are right more often; the random-reward control (configs/tiny_random.yaml) shows what happens without that.
- Model: head_dim 64, because vLLM's CPU attention refuses smaller heads.
- Tokenizer: word-level, built from the task's own text (`build_tokenizer`); the file ships in
  `zero/assets/tiny_tokenizer.json` so every machine gets identical token ids.
"""

from __future__ import annotations

import importlib.resources
import random
import re
from collections.abc import Callable
from pathlib import Path

from zero.args import MODES, check_mix  # the cold start's kinds of trace, in `cold_start_mix` order

ASSET = importlib.resources.files("zero") / "assets" / "tiny_tokenizer.json"
EOS, PAD, UNK = "<|endoftext|>", "<|pad|>", "<|unk|>"
CHAT_ROLES = ("<|system|>", "<|user|>", "<|assistant|>")
# A chat template for the tiny tokenizer, so the `chat` template path (cold-start checkpoints) runs on CPU too.
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
MODULUS = 10  # a ten-hour clock: every value, and so every answer, is one digit
CHAIN_LENGTH = 4  # operations per problem
MISREMEMBERED = 0.3  # share of the (value, operation) facts that stepwise traces always get wrong
GUESS_RIGHT = 0.3  # share of reflective traces whose one-shot guess is already right


def operations(max_operand: int) -> list[str]:
    """The operations a chain draws from: "+1".."+N", then "*2".."*N".

    >>> operations(3)
    ['+1', '+2', '+3', '*2', '*3']
    """
    ops = [f"+{d}" for d in range(1, max_operand + 1)] + [f"*{d}" for d in range(2, max_operand + 1)]
    if len(ops) < CHAIN_LENGTH:
        raise ValueError(f"builtin:arithmetic needs tiny_max_operand >= 3 (it draws {CHAIN_LENGTH} distinct "
                         f"operations), got {max_operand}")
    return ops


def apply(value: int, op: str) -> int:
    """One step on the clock: `value` then `op` ("+d" or "*d"), mod 10."""
    d = int(op[1:])
    return (value + d if op[0] == "+" else value * d) % MODULUS


def partial_results(start: int, ops: list[str], step: Callable[[int, str], int] = apply) -> list[int]:
    """The running results of a chain, one per operation, each from the one before by `step`; the last is its value."""
    values, value = [], start
    for op in ops:
        value = step(value, op)
        values.append(value)
    return values


def _text(start: int, ops: list[str]) -> str:
    return " ".join([str(start), *(f"{op[0]} {op[1:]}" for op in ops)])


def _parse(problem: str) -> tuple[int, list[str]]:
    words = problem.split()
    if len(words) < 3 or len(words) % 2 == 0 or any(w not in "+*" for w in words[1::2]):
        raise ValueError(f"not a builtin:arithmetic problem: {problem!r}")
    return int(words[0]), [a + b for a, b in zip(words[1::2], words[2::2])]


def arithmetic_problems(num_problems: int, max_operand: int, seed: int) -> list[dict[str, str]]:
    """`num_problems` rows of {problem, answer, prompt_id}: a start digit and four distinct operations on a
    ten-hour clock, applied left to right (see the module docstring).

    The answer is drawn uniformly from 0..9 first, then a chain with that value (rejection sampling): "*2", "*4"
    and "*5" make even answers and 0 commoner among uniform chains, and a policy would learn that skew instead of
    the arithmetic.

    >>> [(p["problem"], p["answer"]) for p in arithmetic_problems(3, 5, seed=0)]
    [('5 * 3 + 1 * 4 + 2', '6'), ('7 + 3 + 4 * 3 + 1', '3'), ('9 + 3 + 5 + 4 * 2', '2')]
    """
    if num_problems < 1:
        raise ValueError("builtin:arithmetic needs tiny_num_problems >= 1")
    ops = operations(max_operand)
    rng = random.Random(seed)
    rows = []
    for _ in range(num_problems):
        answer = rng.randrange(MODULUS)
        while True:
            start, chain = rng.randrange(MODULUS), rng.sample(ops, CHAIN_LENGTH)
            if partial_results(start, chain)[-1] == answer:
                break
        problem = _text(start, chain)
        rows.append({"problem": problem, "answer": str(answer), "prompt_id": problem.replace(" ", "")})
    return rows


def _steps(start: int, ops: list[str], values: list[int]) -> str:
    """Running partial results: "3 + 2 = 5 * 4 = 0 + 1 = 1 * 3 = 3"."""
    return " ".join([str(start), *(f"{op[0]} {op[1:]} = {v}" for op, v in zip(ops, values))])


def misremembered(value: int, op: str) -> int:
    """The result of `value` then `op` as a stepwise trace writes it: right, except for a fixed `MISREMEMBERED`
    share of the facts, each always given the same wrong digit.

    >>> apply(5, "*4"), misremembered(5, "*4"), misremembered(5, "*4"), misremembered(3, "+2")
    (0, 4, 4, 5)
    """
    fact = random.Random(f"{value}{op}")  # a str seed is hashed with SHA-512: the same on every machine
    right = apply(value, op)
    return _other_digit(right, fact) if fact.random() < MISREMEMBERED else right


def _other_digit(value: int, rng: random.Random) -> int:
    return rng.choice([d for d in range(MODULUS) if d != value])


def cold_start_trace(problem: str, mode: str, rng: random.Random) -> str:
    """An R1-format trace of `problem` of kind `mode` (`MODES`; see the module docstring).

    >>> rng = random.Random(0)
    >>> cold_start_trace("3 + 2 * 4 + 1 * 3", "direct", rng)
    '<think> 3 + 2 * 4 + 1 * 3 = 3 </think> <answer> 3 </answer>'
    >>> cold_start_trace("3 + 2 * 4 + 1 * 3", "stepwise", rng)  # 5 * 4 misremembered, carried to the end
    '<think> 3 + 2 = 5 * 4 = 4 + 1 = 5 * 3 = 5 </think> <answer> 5 </answer>'
    >>> cold_start_trace("3 + 2 * 4 + 1 * 3", "reflective", rng)  # a wrong guess, caught by the check
    '<think> 3 + 2 * 4 + 1 * 3 = 7 wait , let me check : 3 + 2 = 5 * 4 = 0 + 1 = 1 * 3 = 3 , not 7 </think> <answer> 3 </answer>'
    """
    start, ops = _parse(problem)
    values = partial_results(start, ops)
    answer = values[-1]
    if mode == "direct":  # a one-shot answer: right, but the model cannot compute it in one pass
        think = f"{problem} = {answer}"
    elif mode == "stepwise":
        values = partial_results(start, ops, misremembered)  # a wrong fact, and the rest follows from it
        answer = values[-1]
        think = _steps(start, ops, values)
    elif mode == "reflective":
        guess = answer if rng.random() < GUESS_RIGHT else _other_digit(answer, rng)
        verdict = ", yes" if guess == answer else f", not {guess}"
        think = f"{problem} = {guess} wait , let me check : {_steps(start, ops, values)} {verdict}"
    else:
        raise ValueError(f"unknown cold-start trace mode {mode!r}: choose one of {', '.join(MODES)}")
    return f"<think> {think} </think> <answer> {answer} </answer>"


def cold_start_traces(problems: list[dict[str, str]], mix: list[float], seed: int) -> list[dict[str, str]]:
    """{problem, completion, mode} rows for the cold-start SFT, one per problem, kinds drawn by `mix`."""
    weights = check_mix(mix)
    rng = random.Random(seed + 1)
    rows = []
    for p in problems:
        mode = rng.choices(MODES, weights)[0]
        rows.append({"problem": p["problem"], "completion": cold_start_trace(p["problem"], mode, rng), "mode": mode})
    return rows


def trace_kind(completion: str) -> str:
    """Which of `MODES` a completion follows, read from its shape: a check ("wait") is reflective, running partial
    results ("= 5 * 4") stepwise, anything else direct.

    >>> [trace_kind(cold_start_trace("3 + 2 * 4 + 1 * 3", m, random.Random(0))) for m in MODES] == list(MODES)
    True
    """
    if "wait" in completion:
        return "reflective"
    return "stepwise" if re.search(r"= \d+ [+*]", completion) else "direct"


def kinds_by_step(df, windows: int = 10):
    """Per window of steps (the first step alone, then `windows` equal spans, one a step when the run has fewer
    steps than that): each kind's share of the rollouts and its accuracy, the window's accuracy and mean length.
    `df` is `zero.rollout_files.load_rollouts`' frame."""
    import pandas as pd

    steps = df["step"].max()
    windows = min(windows, steps)  # no empty span
    bounds = [(1, 1)] + [(1 + steps * i // windows, steps * (i + 1) // windows) for i in range(windows)]
    kind = df["completion"].map(trace_kind)
    rows = []
    for lo, hi in bounds:
        inside = df["step"].between(lo, hi)
        row = {"steps": f"{lo}-{hi}"}
        for k in MODES:
            of_kind = inside & (kind == k)
            row[f"{k} share"] = of_kind.sum() / max(inside.sum(), 1)
            row[f"{k} acc"] = df.loc[of_kind, "is_correct"].mean() if of_kind.any() else float("nan")
        row["acc"] = df.loc[inside, "is_correct"].mean()
        row["length"] = df.loc[inside, "completion_tokens"].mean()
        rows.append(row)
    return pd.DataFrame(rows).set_index("steps")


def main(argv: list[str] | None = None) -> int:
    """python -m zero.tiny RUN_DIR: which planted kind of trace the run's policy writes, step by step."""
    import argparse

    from zero.rollout_files import load_rollouts

    parser = argparse.ArgumentParser(prog="python -m zero.tiny", description=main.__doc__)
    parser.add_argument("run_dir", help="a tiny run's output_dir (configs/tiny.yaml or tiny_random.yaml)")
    parser.add_argument("--windows", type=int, default=10, help="spans of steps after the first (default 10)")
    args = parser.parse_args(argv)
    if args.windows < 1:
        parser.error(f"--windows must be >= 1, got {args.windows}")
    try:
        df = load_rollouts(args.run_dir)
    except FileNotFoundError as e:
        parser.error(str(e))
    print(kinds_by_step(df, args.windows).to_string(float_format=lambda x: f"{x:.2f}"))
    return 0


def _corpus(max_operand: int = 9) -> list[str]:
    from zero.templates import BOXED_INSTRUCTION, TEMPLATES, render

    problems = arithmetic_problems(3000, max_operand, seed=0)
    lines = [TEMPLATES["r1_zero"].text, TEMPLATES["qwen_math_boxed"].text, BOXED_INSTRUCTION]
    lines += [render("r1_zero", p["problem"]) for p in problems[:50]]
    lines += [r["completion"] for r in cold_start_traces(problems, [0.4, 0.3, 0.3], seed=0)]
    lines += [f"<think> {a} + {b} = {a + b} </think> <answer> {a + b} </answer>" for a in range(10) for b in range(10)]
    lines += [f"\\boxed{{{n}}} {n}" for n in range(0, 200)]
    lines += ["Let me check again . Hmm , let's verify : recheck the sum . However , alternatively retry"] * 20
    return lines



# Whole words, whole numbers, tags and single punctuation marks are tokens; whitespace is not. A completion is
# then a short sentence of meaningful tokens ("<think> 3 + 4 = 7 </think> <answer> 7 </answer>" is 10), which a
# 0.4M-parameter model learns to write reliably; the byte-level BPE we tried first let it spell one space five ways.
_SPLIT = r"</?think>|</?answer>|<\|[a-z_]+\|>|\\[a-z]+\{?|\d+|[^\w\s]"  # \boxed{ is one token


def _pre_tokenizer():
    from tokenizers import Regex, pre_tokenizers

    return pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(Regex(_SPLIT), behavior="isolated")]
    )


def build_tokenizer(max_number: int = 199):
    """Build the tiny word-level tokenizer from the task's own text. Run once to (re)make the shipped asset:
    `python -c "from zero.tiny import build_tokenizer; build_tokenizer().save_pretrained('/tmp/t')"` and copy
    /tmp/t/tokenizer.json to zero/assets/tiny_tokenizer.json."""
    from collections import Counter

    from tokenizers import Tokenizer, decoders, models

    pre = _pre_tokenizer()
    counts = Counter(w for line in _corpus() for w, _ in pre.pre_tokenize_str(line))
    words = [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if not w.isdigit()]
    vocab = [EOS, PAD, UNK, *CHAT_ROLES, *(str(n) for n in range(max_number + 1)), *words]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(dict.fromkeys(vocab))}, unk_token=UNK))
    tok.pre_tokenizer = pre
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=False)  # joins tokens with one space
    tok.add_special_tokens([EOS, PAD, UNK, *CHAT_ROLES])
    return _wrap(tok)


def _wrap(tok):
    from transformers import PreTrainedTokenizerFast

    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, pad_token=PAD, unk_token=UNK)
    fast.chat_template = CHAT_TEMPLATE
    return fast


def load_tokenizer():
    """The shipped tiny tokenizer (identical ids on every machine)."""
    from tokenizers import Tokenizer

    return _wrap(Tokenizer.from_file(str(ASSET)))


def build_tiny_model(output_dir: str | Path, seed: int = 0) -> Path:
    """Save a randomly initialised tiny Qwen2 model and the tiny tokenizer to `output_dir`; return the path.

    The directory loads with `AutoModelForCausalLM.from_pretrained` and with vLLM, like any checkpoint.
    """
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    tokenizer = load_tokenizer()
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=192,
        intermediate_size=384,
        num_hidden_layers=2,
        num_attention_heads=3,  # head_dim 64: the smallest vLLM's CPU attention accepts
        num_key_value_heads=3,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        dtype="float32",
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    output_dir = Path(output_dir)
    model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    return output_dir


if __name__ == "__main__":
    raise SystemExit(main())
