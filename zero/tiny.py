"""The tiny recipe's world, built in code: a ~0.4M-parameter Qwen2 model, its tokenizer, and a verifiable task.

Everything here runs offline on a CPU, so `python -m zero.train configs/tiny.yaml` exercises the same code path as
the GPU recipes (templates, `rewards/`, TRL's GRPOTrainer, vLLM when asked) in minutes.

- Task (`builtin:arithmetic`): "a + b" with a, b in 0..max_operand, every sum equally likely (see
  `arithmetic_problems`); the gold answer is the sum. Scored by the same `rewards.accuracy_reward` /
  `format_reward` as MATH.
- Cold start (`cold_start_traces`): DeepSeek-R1's cold start, scaled down. SFT on R1-format traces
  (`<think> 3 + 4 = 7 </think> <answer> 7 </answer>`) of which only `cold_start_correct_share` (20 %) carry the
  right answer; the rest carry a random one. The cold-started policy therefore writes the format and knows a
  little arithmetic: it samples the right answer about a fifth of the time. That weak prior is what a base model
  brings to R1-Zero; GRPO has to turn it into reliable answers. A quarter of the traces restate a value after
  "wait", which gives the reflection telemetry and the aha finder something to find.
- Model: head_dim 64, because vLLM's CPU attention refuses smaller heads.
- Tokenizer: word-level, built from the task's own text (`build_tokenizer`); the file ships in
  `zero/assets/tiny_tokenizer.json` so every machine gets identical token ids.
"""

from __future__ import annotations

import importlib.resources
import random
from pathlib import Path

ASSET = importlib.resources.files("zero") / "assets" / "tiny_tokenizer.json"
EOS, PAD, UNK = "<|endoftext|>", "<|pad|>", "<|unk|>"
CHAT_ROLES = ("<|system|>", "<|user|>", "<|assistant|>")
# A chat template for the tiny tokenizer, so the `chat` template path (cold-start checkpoints) runs on CPU too.
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def arithmetic_problems(num_problems: int, max_operand: int, seed: int) -> list[dict[str, str]]:
    """`num_problems` rows of {problem, answer, prompt_id}: "a + b" with a, b in 0..max_operand.

    The sum is drawn uniformly first, then a pair with that sum. With uniform operands the commonest sum (4 of
    0..8) covers a fifth of the problems, and GRPO found that shortcut: answer "4" everywhere, copy nothing
    (measured: accuracy stuck at 0.19, the think's copy of the problem fell from 0.97 to 0.16). With every answer
    equally likely, no constant answer beats chance and accuracy has to come from reading the problem.

    >>> arithmetic_problems(2, 9, seed=0)
    [{'problem': '9 + 3', 'answer': '12', 'prompt_id': '9+3'}, {'problem': '4 + 9', 'answer': '13', 'prompt_id': '4+9'}]
    """
    if num_problems < 1 or max_operand < 1:
        raise ValueError("builtin:arithmetic needs tiny_num_problems >= 1 and tiny_max_operand >= 1")
    rng = random.Random(seed)
    rows = []
    for _ in range(num_problems):
        total = rng.randint(0, 2 * max_operand)
        a = rng.randint(max(0, total - max_operand), min(max_operand, total))
        b = total - a
        rows.append({"problem": f"{a} + {b}", "answer": str(total), "prompt_id": f"{a}+{b}"})
    return rows


def cold_start_trace(problem: str, answer: str, max_answer: int, correct_share: float, rng: random.Random) -> str:
    """An R1-format trace for `problem` whose answer is right with probability `correct_share`, else random.

    >>> cold_start_trace("3 + 4", "7", 18, 0.0, random.Random(1))
    '<think> 3 + 4 = 2 </think> <answer> 2 </answer>'
    """
    guess = answer if rng.random() < correct_share else str(rng.randint(0, max_answer))
    if rng.random() < 0.25:  # a second try after "wait"; the first one is a random guess
        return f"<think> {problem} = {rng.randint(0, max_answer)} wait , {problem} = {guess} </think> <answer> {guess} </answer>"
    return f"<think> {problem} = {guess} </think> <answer> {guess} </answer>"


def cold_start_traces(
    problems: list[dict[str, str]], max_operand: int, correct_share: float, seed: int
) -> list[dict[str, str]]:
    """{problem, completion} rows for the cold-start SFT, one per problem."""
    if not 0.0 <= correct_share <= 1.0:
        raise ValueError(f"cold_start_correct_share must be in [0, 1], got {correct_share}")
    rng = random.Random(seed + 1)
    return [
        {"problem": p["problem"], "completion": cold_start_trace(p["problem"], p["answer"], 2 * max_operand, correct_share, rng)}
        for p in problems
    ]


def _corpus(max_operand: int = 20) -> list[str]:
    from zero.templates import BOXED_INSTRUCTION, TEMPLATES, render

    rng = random.Random(0)
    problems = arithmetic_problems(3000, max_operand, seed=0)
    lines = [TEMPLATES["r1_zero"].text, TEMPLATES["qwen_math_boxed"].text, BOXED_INSTRUCTION]
    lines += [render("r1_zero", p["problem"]) for p in problems[:50]]
    lines += [cold_start_trace(p["problem"], p["answer"], 2 * max_operand, 0.0, rng) for p in problems]
    lines += [f"\\boxed{{{n}}} {n}" for n in range(0, 2 * max_operand + 1)]
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
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,  # head_dim 64: the smallest vLLM's CPU attention accepts
        num_key_value_heads=2,
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
