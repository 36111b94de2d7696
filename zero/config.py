"""One typed config: our knobs (`ZeroConfig`) beside TRL's `GRPOConfig`, filled from YAML and the command line.

Our knobs come in argument groups (`ModelArgs`, `LoraArgs`, `DataArgs`, `ProblemArgs`, `PromptArgs`, `RewardArgs`,
`TelemetryArgs`, `LoggingArgs`, `RunArgs`, `GenerationArgs`, `ColocateArgs`, `TinyArgs`, `BenchmarkArgs`), as open-r1
hands TRL's parser `ScriptArguments` and `ModelConfig`: each command's config (`ZeroConfig` here, `SFTZeroConfig`,
`GenerateConfig`, `EvalConfig`) is composed of the groups it needs, so a knob has one name, one default and one help
text in every command. Each group checks its fields in `__post_init__`: a bad value fails when the config is built.

A recipe is a YAML mapping; each key belongs to one of the dataclasses given to `parse` (a key two of them
declare, such as `seed`, goes to both). A field that is itself a group (zero.train's `eval`) takes a mapping in
YAML and dotted keys on the command line (`eval.every=50`). Command-line overrides (`key=value`, `--key value`,
`--key=value`, a bare `--flag` for booleans) win over the YAML. An unknown key is an error naming the closest valid
one; a value of the wrong type is an error naming the field and the type.

>>> from trl import GRPOConfig
>>> zero_cfg, args = parse(["learning_rate=2e-6", "--template", "qwen_math_boxed", "bf16=false"],
...                        (ZeroConfig, GRPOConfig))
>>> zero_cfg.template, args.learning_rate
('qwen_math_boxed', 2e-06)
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import re
import types
import typing
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

import rewards
from zero.args import (ColocateArgs, CurriculumArgs, LoggingArgs, LoraArgs, ModelArgs, ProblemArgs, PromptArgs, RewardArgs, RunArgs,
                       TelemetryArgs, TinyArgs, TrainingEvalArgs, _positive, help_field)
from zero.tiny.traces import check_mix
from zero.errors import ConfigError  # also zero.config.ConfigError, the name every command catches

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

_help = help_field  # help_field is zero.args'; `from zero.config import help_field` keeps working


@dataclass
class ZeroConfig(ModelArgs, LoraArgs, ProblemArgs, PromptArgs, RewardArgs, TelemetryArgs, LoggingArgs, TinyArgs,
                 RunArgs, CurriculumArgs, ColocateArgs):
    """zero.train's knobs: the groups above, and its own. Everything about the GRPO algorithm itself is TRL's
    `GRPOConfig`."""

    max_train_samples: int | None = _help("Keep only the first N problems (after shuffling with `seed`).", default=None)
    dataset_levels: list[int] | None = _help(
        "Keep only problems whose `level` column is one of these (MATH's difficulty 1-5, as 3 or \"Level 3\"; "
        "SimpleRL-Zoo and Dr. GRPO train on 3,4,5); None: every problem.",
        default=None,
    )
    reward_funcs: list[str] = _help(
        "Reward functions: a name (accuracy, format, overlong, random: rewards.REWARDS), package.module:function or "
        "path/to/file.py:function; weights are TRL's `reward_weights`, in the same order.",
        default_factory=lambda: ["accuracy", "format"],
    )
    reward_kwargs: dict[str, dict[str, Any]] = _help(
        "Arguments per reward, keyed by its name (the function's name for module:function entries): bound to the "
        "function, or passed to it once when it is a factory. overlong takes max_length and cache_length.",
        default_factory=dict,
    )
    custom_reward_timeout_s: float | None = _help(
        "Hard deadline in seconds for one batch of a user's reward (module:function or file.py:function), which "
        "runs in a worker process that is killed past it (the batch then scores None, counted in "
        "rewards/<name>/timeouts); None: run it in the training process, with no deadline.",
        default=60.0,
    )
    eval: TrainingEvalArgs = _help(
        "Evaluation during training (zero.eval's benchmark settings): eval.every, eval.benchmarks, eval.n, ...",
        default_factory=TrainingEvalArgs,
    )
    # The tiny CPU recipe's cold start (DeepSeek-R1's cold-start SFT, scaled down); its task is `TinyArgs`.
    cold_start_steps: int = _help(
        "SFT steps on R1-format traces before RL (0: none). Used by the tiny recipe; see zero/tiny/.", default=0
    )
    cold_start_learning_rate: float = _help("Peak learning rate of the cold-start SFT (linear decay).", default=1e-3)
    cold_start_mix: list[float] = _help(
        "Shares of the cold-start trace kinds direct / stepwise / reflective (zero.tiny.MODES); they sum to 1.",
        default_factory=lambda: [0.6, 0.25, 0.15],
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive(self, "max_train_samples", allow_none=True)
        try:
            check_mix(self.cold_start_mix)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        if self.custom_reward_timeout_s is not None and not self.custom_reward_timeout_s > 0:
            raise ConfigError(f"custom_reward_timeout_s must be > 0 seconds (or none), got {self.custom_reward_timeout_s}")
        try:  # read when built (a reward registered before parsing counts); a user's module is imported now, so a
            rewards.get_rewards(self.reward_funcs, self.reward_kwargs)  # bad entry exits 2 before anything is written
        except ValueError as e:  # the loader's own message, which names the entry and the fix
            raise ConfigError(str(e)) from None


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
    if dataclasses.is_dataclass(tp):  # a group (zero.train's `eval`): a mapping of its own keys
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping of {tp.__name__} keys ({key}.KEY=VALUE), got {value!r}")
        return build(value, (tp,), prefix=f"{key}.")[0]
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


_KEY_VALUE = re.compile(r"^[A-Za-z_][\w.-]*=")


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


# PyYAML silently keeps the last of a key given twice; a recipe with one is an error instead.
class UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a mapping with the same key twice."""


def _construct_mapping(loader: UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice (lines {seen[key]} and {key_node.start_mark.line + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line + 1
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(path: str | Path | Traversable) -> dict[str, Any]:
    """A recipe (a path or shipped name, see `find_recipe`) as a flat dict; ConfigError when missing or malformed."""
    source = find_recipe(path) if isinstance(path, (str, Path)) else path
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


@functools.cache
def _init_fields(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


def _nest(values: dict[str, Any]) -> dict[str, Any]:
    """Dotted keys (`eval.every`) folded into the mapping of their group, over what the YAML gave it."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        head, dot, rest = key.partition(".")
        if not dot:
            out[key] = {**out[key], **value} if isinstance(out.get(key), dict) and isinstance(value, dict) else value
            continue
        group = out.get(head)
        out[head] = {**(group if isinstance(group, dict) else {}), rest: value}
    return out


def build(values: dict[str, Any], classes: tuple[type, ...], prefix: str = "") -> tuple[Any, ...]:
    """Instances of `classes` from a dict whose every key must belong to one of them. Each instance checks its
    own values (the groups' `__post_init__`); a failure is a ConfigError naming the key (with `prefix`)."""
    values = _nest(values)
    fields = [_init_fields(cls) for cls in classes]
    known = set().union(*fields)
    for key in values:
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
            hint = f" (did you mean {prefix + close[0]!r}?)" if close else "; `--help` lists the valid keys"
            raise ConfigError(f"unknown config key {prefix + key!r}{hint}")
    out = []
    for cls, types_ in zip(classes, fields):
        kwargs = {k: coerce(v, types_[k], prefix + k) for k, v in values.items() if k in types_}
        try:
            out.append(cls(**kwargs))
        except ConfigError as e:
            raise ConfigError(f"{prefix.rstrip('.')}: {e}" if prefix else str(e)) from None
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


def _defining_class(cls: type, name: str) -> type:
    """The first class in `cls`'s bases (a group, or `cls` itself) with a field `name`."""
    return next(c for c in reversed(cls.__mro__) if dataclasses.is_dataclass(c) and name in _init_fields(c))


def _help_lines(cls: type, prefix: str = "") -> list[str]:
    hints = _init_fields(cls)
    lines = []
    for f in dataclasses.fields(cls):
        if not f.init or f.name.startswith("_"):
            continue
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            lines += _help_lines(tp, f"{prefix}{f.name}.")
            continue
        default = f.default if f.default is not dataclasses.MISSING else "<factory>"
        text = " ".join(str(f.metadata.get("help", "")).split())[:160]
        lines.append((_defining_class(cls, f.name).__name__ if not prefix else "",
                      f"  {prefix}{f.name} ({_type_name(tp)}, default {default!r}): {text}"))  # fmt: skip
    return lines


def help_text(classes: tuple[type, ...]) -> str:
    """Every key with its type, default and help, for `--help`, under the group that declares it."""
    out = []
    for cls in classes:
        by_group: dict[str, list[str]] = {}
        for group, line in _help_lines(cls):
            by_group.setdefault(group or cls.__name__, []).append(line)
        order = [c.__name__ for c in cls.__mro__[1:] if c.__name__ in by_group] + [cls.__name__] * (cls.__name__ in by_group)
        for group in order:
            out += [f"\n{group}:", *by_group[group]]
    return "\n".join(out)


# Filled in by GRPOConfig.__post_init__ from steps_per_generation; TRL refuses both set at once.
_DERIVED = {"generation_batch_size"}


def write_resolved(path: str | Path, instances: tuple[Any, ...], kept: dict[str, Any] | None = None) -> dict:
    """Write the resolved config of `instances` (every key, see `resolved`) to the YAML file `path`; return it.
    The one writer of every command's config file (zero_config.yaml, zero_sft_config.yaml, eval_config.yaml, ...).
    `kept`: keys whose earlier value a resumed run keeps whatever the command line says (the optimizer's, restored
    from its checkpoint; zero.run.output_dir.write_config names them)."""
    values = {**resolved(instances), **(kept or {})}
    Path(path).write_text(yaml.safe_dump(values, sort_keys=False))
    return values


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
