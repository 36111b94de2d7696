"""The tiny world's model and tokenizer: a ~0.8M-parameter Qwen2 built in code, and a word-level tokenizer.

- Model: head_dim 64, because vLLM's CPU attention refuses smaller heads; `MAX_POSITIONS` is its context, which
  zero.run.preflight reads to bound prompt + completion.
- Tokenizer: word-level, built from the task's own text (`build_tokenizer`); the file ships in
  `zero/assets/tiny_tokenizer.json` so every machine gets identical token ids.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from zero.templates import BOXED_INSTRUCTION, TEMPLATES, render
from zero.tiny.task import arithmetic_problems
from zero.tiny.traces import cold_start_traces

ASSET = importlib.resources.files("zero") / "assets" / "tiny_tokenizer.json"
MAX_POSITIONS = 512  # the model's context (prompt + completion), in tokens
EOS, PAD, UNK = "<|endoftext|>", "<|pad|>", "<|unk|>"
CHAT_ROLES = ("<|system|>", "<|user|>", "<|assistant|>")
# A chat template for the tiny tokenizer, so the `chat` template path (cold-start checkpoints) runs on CPU too.
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def _corpus(max_operand: int = 9) -> list[str]:
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
# 0.4M-parameter model learns to write reliably; a byte-level BPE lets it spell one space five ways.
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


TIE_WORD_EMBEDDINGS = True  # one matrix for embed_tokens and lm_head (zero.lora refuses adapters on either)


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
        max_position_embeddings=MAX_POSITIONS,
        tie_word_embeddings=TIE_WORD_EMBEDDINGS,
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

