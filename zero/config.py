"""One typed config: our knobs (`ZeroConfig`) beside TRL's `GRPOConfig`, filled from YAML and the command line.

A recipe is a flat YAML mapping; each key belongs to exactly one of the dataclasses given to `parse`. Command-line
overrides (`key=value`, `--key value`, `--key=value`, a bare `--flag` for booleans) win over the YAML. An unknown key
is an error naming the closest valid one; a value of the wrong type is an error naming the field and the type.

>>> from trl import GRPOConfig
>>> zero_cfg, args = parse(["learning_rate=2e-6", "--template", "qwen_math_boxed", "bf16=false"],
...                        (ZeroConfig, GRPOConfig))
>>> zero_cfg.template, args.learning_rate
('qwen_math_boxed', 2e-06)
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
import types
import typing
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable


class ConfigError(ValueError):
    """A bad config: the message names the problem and the fix. `zero` commands exit with code 2 on it."""


def help_field(text: str, **kw) -> Any:
    """A dataclass field whose help text `--help` shows (every zero command's config uses it)."""
    return field(metadata={"help": text}, **kw)


_help = help_field


@dataclass
class ZeroConfig:
    """zero's own knobs. Everything about the GRPO algorithm itself is TRL's `GRPOConfig`."""

    model_name_or_path: str = _help(
        "Hub id (Qwen/Qwen2.5-1.5B), a local checkpoint directory (a zero.sft output), or builtin:tiny "
        "(a ~1M-parameter Qwen2 model and tokenizer built in code, for CPU runs).",
        default="builtin:tiny",
    )
    torch_dtype: str = _help("Weights dtype: auto, bfloat16, float16 or float32.", default="auto")
    attn_implementation: str | None = _help("sdpa, eager, flash_attention_2; None lets transformers pick.", default=None)
    dataset_name: str = _help(
        "Hub dataset id, a local .jsonl/.json/.parquet file (zero/datafiles/... also names the files zero ships), or "
        "builtin:arithmetic (generated, for CPU runs).",
        default="builtin:arithmetic",
    )
    dataset_config: str | None = _help("Hub dataset config name (subset).", default=None)
    dataset_split: str = _help("Split to train on.", default="train")
    problem_field: str | None = _help("Column holding the problem; None: first of problem, question, prompt.", default=None)
    solution_field: str | None = _help(
        "Column holding the gold answer; None: first of answer, solution, final_answer, gold.", default=None
    )
    max_train_samples: int | None = _help("Keep only the first N problems (after shuffling with `seed`).", default=None)
    dataset_levels: list[int] | None = _help(
        "Keep only problems whose `level` column is one of these (MATH's difficulty 1-5, as 3 or \"Level 3\"; "
        "SimpleRL-Zoo and Dr. GRPO train on 3,4,5); None: every problem.",
        default=None,
    )
    template: str = _help(
        "Prompt template (zero/templates.py): r1_zero, qwen_math_boxed, simplerl_abel, simplerl_qwen_boxed, chat, "
        "r1_distill.",
        default="r1_zero",
    )
    system_prompt: str | None = _help("System message for the chat templates.", default=None)
    answer_region: str | None = _help(
        "Where the final answer is read: answer_tag or boxed; None: the template's own.", default=None
    )
    reward_funcs: list[str] = _help(
        "Reward functions by name (rewards.REWARDS); weights are TRL's `reward_weights`, in the same order.",
        default_factory=lambda: ["accuracy", "format"],
    )
    reward_timeout_s: float = _help(
        "Hard deadline per answer for math-verify; an answer past it scores 0 and counts in rewards/timeouts.",
        default=2.0,
    )
    reward_workers: int | None = _help(
        "Processes grading answers with math-verify, per training process; None: the node's cores divided among "
        "its training processes.",
        default=None,
    )
    reflection_lexicon: list[str] | None = _help(
        "Reflection words/phrases counted per completion; None: zero.reasoning.DEFAULT_REFLECTION_LEXICON.", default=None
    )
    wandb_project: str = _help("W&B project (report_to must include wandb).", default="zero")
    wandb_table_every: int = _help("Log a W&B table of completions every N steps (>= 1).", default=10)
    resume: str = _help(
        "auto: resume from output_dir's last checkpoint when it holds one; never: refuse an output_dir that already "
        "holds a run.",
        default="auto",
    )
    # Evaluation during training (zero.eval on the live policy, HF generation), logged under eval/...
    eval_every: int = _help("Evaluate every N steps and at the last step (0: never).", default=0)
    eval_benchmarks: list[str] = _help("Benchmarks by name (zero.benchmarks.BENCHMARKS).", default_factory=lambda: ["gsm8k"])
    eval_limit: int | None = _help("Problems per benchmark (None: all).", default=50)
    eval_n: int = _help("Samples per problem (pass@1 is their mean).", default=4)
    eval_max_tokens: int = _help("Longest completion during evaluation.", default=1024)
    eval_temperature: float = _help("Sampling temperature during evaluation (DeepSeek: 0.6).", default=0.6)
    eval_batch_size: int = _help("Sequences per HF generate call during evaluation.", default=16)
    # The tiny CPU recipe: its task and its cold start (DeepSeek-R1's cold-start SFT, scaled down).
    tiny_num_problems: int = _help("builtin:arithmetic: number of generated problems.", default=2000)
    tiny_max_operand: int = _help("builtin:arithmetic: operands are drawn from 0..N.", default=9)
    cold_start_steps: int = _help(
        "SFT steps on R1-format traces before RL (0: none). Used by the tiny recipe; see zero/tiny.py.", default=0
    )
    cold_start_learning_rate: float = _help("Peak learning rate of the cold-start SFT (linear decay).", default=1e-3)
    cold_start_correct_share: float = _help(
        "Share of cold-start traces whose answer is right (the rest are random): a weak prior for RL to sharpen.",
        default=0.2,
    )


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_NONE = {"none", "null", "~", ""}


def coerce(value: Any, tp: Any, key: str) -> Any:
    """`value` (from YAML, or a command-line string) as type `tp`, or a ConfigError naming `key`.

    >>> coerce("1e-6", float, "lr"), coerce("true", bool, "x"), coerce("a,b", list[str], "r")
    (1e-06, True, ['a', 'b'])
    >>> coerce("none", int | None, "n") is None
    True
    """
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        # "none" stays a string where the field takes strings (report_to: none); null always means None.
        nones = _NONE - {"none", ""} if str in args else _NONE
        if (value is None or (isinstance(value, str) and value.strip().lower() in nones)) and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return coerce(value, options[0], key)
        for arg in options:
            try:
                return coerce(value, arg, key)
            except ConfigError:
                continue
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r}")
    if tp is Any:
        return value
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{key}: expected one of {', '.join(map(str, args))}, got {value!r}")
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        try:
            return int(str(value).strip())
        except ValueError:
            raise ConfigError(f"{key}: expected an integer, got {value!r}") from None
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}: expected a number, got {value!r}") from None
    if tp is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return str(value)
    if origin in (list, tuple) or tp in (list, tuple):
        item = args[0] if args else Any
        if isinstance(value, str):
            text = value.strip()
            value = yaml.safe_load(text) if text.startswith("[") else [v.strip() for v in text.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            value = [value]
        return [coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict or tp is dict:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                value = yaml.safe_load(value)
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return value
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    if isinstance(tp, type) and issubclass(tp, str):  # str-valued enums (IntervalStrategy, ...)
        try:
            return tp(value)
        except ValueError:
            raise ConfigError(f"{key}: expected one of {', '.join(m.value for m in tp)}, got {value!r}") from None
    return value


_KEY_VALUE = re.compile(r"^[A-Za-z_][\w-]*=")


def parse_overrides(tokens: list[str]) -> dict[str, str]:
    """`key=value`, `--key value`, `--key=value` and bare `--flag` (true) into a dict of strings.

    >>> parse_overrides(["a=1", "--b", "2", "--c=3", "--use_vllm", "--d", "x", "--bf16", "e=4"])
    {'a': '1', 'b': '2', 'c': '3', 'use_vllm': 'true', 'd': 'x', 'bf16': 'true', 'e': '4'}
    """
    out: dict[str, str] = {}
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.startswith("--"):
            key, eq, value = tok[2:].partition("=")
            if not eq:
                nxt = tokens[i + 1] if i + 1 < len(tokens) else None
                if nxt is None or nxt.startswith("--") or _KEY_VALUE.match(nxt):
                    value = "true"
                else:
                    value, i = nxt, i + 1
        elif "=" in tok:
            key, _, value = tok.partition("=")
        else:
            raise ConfigError(f"cannot read {tok!r}: write overrides as key=value or --key value")
        out[key.replace("-", "_")] = value
        i += 1
    return out


def shipped_recipes() -> Traversable:
    """The recipes that ship with zero: configs/ of the checkout, package data (zero/configs) of the wheel."""
    return files("zero") / "configs"


def find_recipe(path: str | Path) -> Path | Traversable:
    """The recipe file `path` names: that file when it exists, else the shipped recipe of that name.

    A shipped recipe is named as in the checkout, with or without `configs/` and `.yaml`, so `python -m zero.train
    configs/tiny.yaml` runs from any directory once zero is installed:

    >>> [find_recipe(name).name for name in ("tiny", "configs/tiny.yaml", "sft/tiny_distill")]
    ['tiny.yaml', 'tiny.yaml', 'tiny_distill.yaml']
    """
    given = Path(path)
    if given.is_file():
        return given
    rel = given.as_posix().removeprefix("configs/")
    if not given.is_absolute() and ".." not in given.parts:
        for name in (rel, f"{rel}.yaml"):
            candidate = shipped_recipes()
            for part in name.split("/"):
                candidate = candidate / part
            if candidate.is_file():
                return candidate
    shipped = ", ".join(sorted(e.name.removesuffix(".yaml") for e in shipped_recipes().iterdir() if e.is_file()))
    raise ConfigError(
        f"config file {str(path)!r} not found, nor a shipped recipe of that name: pass the path of a recipe, or one "
        f"of {shipped} (sft/NAME and eval/NAME for configs/sft and configs/eval)"
    )


def load_yaml(path: str | Path | Traversable) -> dict[str, Any]:
    """A recipe (a path or shipped name, see `find_recipe`) as a flat dict; ConfigError when missing or malformed."""
    source = find_recipe(path) if isinstance(path, (str, Path)) else path
    from zero.preflight import UniqueKeyLoader

    try:
        data = yaml.load(source.read_text(), Loader=UniqueKeyLoader)  # a key given twice is an error
    except yaml.YAMLError as e:
        mark, problem = getattr(e, "problem_mark", None), getattr(e, "problem", "") or ""
        if "appears twice" in problem:
            raise ConfigError(f"config file {str(path)!r}: {problem}: keep one") from None
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"config file {str(path)!r} is not valid YAML{where}: fix the syntax there") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(path)!r} must be a mapping of key: value, not a {type(data).__name__}")
    return data


def _init_fields(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


def build(values: dict[str, Any], classes: tuple[type, ...]) -> tuple[Any, ...]:
    """Instances of `classes` from a flat dict whose every key must belong to one of them."""
    fields = [_init_fields(cls) for cls in classes]
    known = set().union(*fields)
    for key in values:
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else "; `--help` lists the valid keys"
            raise ConfigError(f"unknown config key {key!r}{hint}")
    out = []
    for cls, types_ in zip(classes, fields):
        kwargs = {k: coerce(v, types_[k], k) for k, v in values.items() if k in types_}
        try:
            out.append(cls(**kwargs))
        except (ValueError, TypeError) as e:
            raise ConfigError(f"invalid {cls.__name__}: {e}") from None
    return tuple(out)


def parse(
    argv: list[str], classes: tuple[type, ...], default_config: str | Path | Traversable | None = None
) -> tuple[Any, ...]:
    """`[CONFIG.yaml] [overrides...]` into instances of `classes`. With no YAML given, `default_config` is read."""
    argv = list(argv)
    path = argv.pop(0) if argv and not argv[0].startswith("-") and "=" not in argv[0] else default_config
    values = load_yaml(path) if path is not None else {}
    values.update(parse_overrides(argv))
    return build(values, classes)


def help_text(classes: tuple[type, ...]) -> str:
    """Every key with its type, default and help, for `--help`."""
    lines = []
    for cls in classes:
        lines.append(f"\n{cls.__name__}:")
        hints = _init_fields(cls)
        for f in dataclasses.fields(cls):
            if not f.init or f.name.startswith("_"):
                continue
            default = f.default if f.default is not dataclasses.MISSING else "<factory>"
            text = " ".join(str(f.metadata.get("help", "")).split())[:160]
            lines.append(f"  {f.name} ({_type_name(hints[f.name])}, default {default!r}): {text}")
    return "\n".join(lines)


# Filled in by GRPOConfig.__post_init__ from steps_per_generation; TRL refuses both set at once.
_DERIVED = {"generation_batch_size"}


def resolved(instances: tuple[Any, ...]) -> dict[str, Any]:
    """Every key of every instance, YAML-safe: the config a run actually trained with.

    Feeding it back to `parse` reproduces the run (tested in tests/test_config.py).
    """
    out: dict[str, Any] = {}
    for obj in instances:
        # TrainingArguments.to_dict turns enums and nested configs into plain values and hides tokens.
        values = obj.to_dict() if hasattr(obj, "to_dict") else dataclasses.asdict(obj)
        for name in _init_fields(type(obj)):
            if name in _DERIVED or name.endswith("_token"):  # tokens are secrets: never written to disk
                continue
            value = values.get(name)
            try:
                yaml.safe_dump(value)
            except yaml.YAMLError:
                value = str(value)
            out[name] = value
    return out
