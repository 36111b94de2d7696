"""How a `reward_funcs` entry becomes a reward function: a registered name, ``package.module:function`` or
``path/to/file.py:function``, as open-r1's registry, TRL's `reward_funcs` (any callable) and veRL's
`custom_reward_function.path` all take the user's own function.

A reward is called as TRL calls it, with keywords only: ``completions``, ``prompts``, ``completion_ids``,
``trainer_state``, ``log_extra``, ``log_metric`` and every dataset column (``solution``, ``prompt_id``, a task's own
columns such as Countdown's ``nums`` and ``target``). It returns one float (or None: cannot be scored) per
completion.

Arguments for an entry come from the recipe's `reward_kwargs` mapping, keyed by the entry's name (the registered
name, or the function's name after the colon). If the object named takes ``completions``, ``completion_ids``,
``prompts`` or ``**kwargs`` it is the reward, and its arguments are bound to it; otherwise it is a *factory*
(``trl.rewards:get_soft_overlong_punishment``, a class), called once with them, and what it returns is the reward.

>>> reward = load_reward("rewards.format:format_reward")
>>> reward.name, reward.func(completions=["<think> 1 </think> <answer> 1 </answer>"])
('format_reward', [1.0])
>>> load_reward("rewards.format:nothing_here").name
Traceback (most recent call last):
...
ValueError: reward 'rewards.format:nothing_here': module rewards.format has no 'nothing_here': check the name after the colon
>>> load_reward("accuracy", {"answer_region": "boxed"}).func.keywords
{'answer_region': 'boxed'}
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import inspect
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# What TRL 1.16 passes every reward function (trl/trainer/grpo_trainer.py, `_calculate_rewards`) besides the dataset's
# columns; `environments` only when the trainer has environments.
TRL_KWARGS = ("prompts", "completions", "completion_ids", "trainer_state", "log_extra", "log_metric", "environments")
# Parameters that mark a callable as the reward itself rather than a factory of one.
_REWARD_MARKS = ("completions", "completion_ids", "prompts")
_NAME = re.compile(r"^[A-Za-z_]\w*$")


class RewardError(RuntimeError):
    """A reward function broke its contract at run time (raised, returned the wrong length or a non-number): one
    line naming the reward; zero's commands print it and exit 1."""


@dataclass(frozen=True)
class Reward:
    """A resolved `reward_funcs` entry: `name` (its `reward_<name>` column and metric), the callable, and whether
    it is one of zero's own (`rewards.REWARDS`) or the user's."""

    entry: str
    name: str
    func: Callable[..., Sequence[float | None]]
    builtin: bool


def entry_name(entry: str) -> str:
    """The name an entry's column, metric and `reward_kwargs` key use: the registered name, or the function's.

    >>> entry_name("accuracy"), entry_name("my_pkg.rewards:length_bonus"), entry_name("examples/x/reward.py:score")
    ('accuracy', 'length_bonus', 'score')
    """
    return entry.rsplit(":", 1)[1] if ":" in entry else entry


def _import_target(entry: str) -> Any:
    """The object an entry names, or a ValueError naming the entry and the fix."""
    where, _, attr = entry.rpartition(":")
    if not where or not _NAME.match(attr):
        raise ValueError(f"reward {entry!r}: write package.module:function or path/to/file.py:function")
    if where.endswith(".py"):
        path = Path(where)
        if not path.is_file():
            raise ValueError(f"reward {entry!r}: file {where} does not exist (a path relative to the working directory)")
        module_name = "zero_user_reward_" + hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
        module = sys.modules.get(module_name)
        if module is None:
            spec = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module  # dataclasses and pickling look the module up by name
            try:
                spec.loader.exec_module(module)
            except Exception as e:
                del sys.modules[module_name]
                raise ValueError(f"reward {entry!r}: importing {where} failed: {type(e).__name__}: {e}") from None
        source = where
    else:
        try:
            module = importlib.import_module(where)
        except ImportError as e:
            raise ValueError(
                f"reward {entry!r}: cannot import module {where} ({e}); install it or put it on PYTHONPATH"
            ) from None
        source = f"module {where}"
    if not hasattr(module, attr):
        raise ValueError(f"reward {entry!r}: {source} has no {attr!r}: check the name after the colon")
    return getattr(module, attr)


def _parameters(func: Callable) -> dict[str, inspect.Parameter] | None:
    try:
        return dict(inspect.signature(func).parameters)
    except (TypeError, ValueError):  # some builtins have no signature: nothing to check
        return None


def _required(func: Callable) -> list[str]:
    params = _parameters(func) or {}
    return [n for n, p in params.items() if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _is_reward(func: Callable) -> bool:
    params = _parameters(func)
    if params is None:
        return True
    return any(p in params for p in _REWARD_MARKS) or any(p.kind is p.VAR_KEYWORD for p in params.values())


def check_signature(entry: str, func: Callable, columns: Sequence[str] | None = None) -> None:
    """A ValueError naming the entry unless TRL's keyword call can reach `func`: it takes ``completions``,
    ``completion_ids`` or ``**kwargs``, no positional-only parameter, and each required parameter is one TRL passes
    or (when `columns` is given) a dataset column.

    >>> check_signature("mine.py:f", lambda completions, nums, **kw: [], columns=["prompt", "nums"])
    >>> check_signature("mine.py:f", lambda text: [])
    Traceback (most recent call last):
    ...
    ValueError: reward 'mine.py:f': it takes (text), but a reward is called with keywords: def f(completions, **kwargs) -> list[float | None]
    """
    params = _parameters(func)
    if params is None:
        return
    shown = ", ".join(str(p) for p in params.values())
    usage = "def f(completions, **kwargs) -> list[float | None]"
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    if not takes_any and not any(p in params for p in ("completions", "completion_ids")):
        raise ValueError(f"reward {entry!r}: it takes ({shown}), but a reward is called with keywords: {usage}")
    positional_only = [n for n, p in params.items() if p.kind is p.POSITIONAL_ONLY]
    if positional_only:
        raise ValueError(f"reward {entry!r}: parameter(s) {', '.join(positional_only)} are positional-only; {usage}")
    if columns is not None:
        known = set(TRL_KWARGS) | set(columns)
        required = [n for n, p in params.items() if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD,
                                                                                          p.KEYWORD_ONLY)]
        missing = [n for n in required if n not in known]
        if missing:
            raise ValueError(
                f"reward {entry!r} needs {', '.join(missing)}, which is neither one of TRL's arguments nor a dataset "
                f"column (the dataset has {', '.join(columns)}): add the column or give it a default or reward_kwargs"
            )


def load_reward(entry: str, kwargs: Mapping[str, Any] | None = None, registry: Mapping[str, Callable] | None = None
                ) -> Reward:
    """The `Reward` an entry names, with `kwargs` (its `reward_kwargs`) bound to it or passed to its factory;
    a ValueError naming the entry and the fix otherwise."""
    if registry is None:
        from rewards.registry import REWARDS as registry
    kwargs = dict(kwargs or {})
    name = entry_name(entry)
    builtin = ":" not in entry
    if builtin:
        if entry not in registry:
            raise ValueError(
                f"unknown reward {entry!r}: choose from {', '.join(sorted(registry))}, "
                "or name your own as package.module:function or path/to/file.py:function"
            )
        target = registry[entry]
    else:
        target = _import_target(entry)
    if not callable(target):
        raise ValueError(f"reward {entry!r} is a {type(target).__name__}, not a function: name a function")
    if _is_reward(target) and not inspect.isclass(target):
        func = functools.partial(target, **kwargs) if kwargs else target
        if kwargs:
            _check_bound(entry, target, kwargs)
    elif not kwargs and _required(target):
        shown = ", ".join(_required(target))
        raise ValueError(f"reward {entry!r} takes ({shown}): a reward is called with keywords, "
                         "def f(completions, **kwargs) -> list[float | None]; a factory of one needs its arguments: "
                         f"set its arguments in reward_kwargs.{name}")
    else:
        try:
            func = target(**kwargs)
        except TypeError as e:
            raise ValueError(f"reward {entry!r} is a factory and {e}: set its arguments in reward_kwargs.{name}") from None
        if not callable(func):
            raise ValueError(f"reward {entry!r}: the factory returned a {type(func).__name__}, not a reward function")
    check_signature(entry, func)
    return Reward(entry=entry, name=name, func=func, builtin=builtin)


def _check_bound(entry: str, func: Callable, kwargs: Mapping[str, Any]) -> None:
    params = _parameters(func) or {}
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    unknown = [k for k in kwargs if k not in params]
    if unknown:
        raise ValueError(f"reward_kwargs.{entry_name(entry)}: {entry!r} takes no {', '.join(unknown)}; "
                         f"it takes {', '.join(params)}")


def load_rewards(entries: Sequence[str], reward_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
                 registry: Mapping[str, Callable] | None = None) -> list[Reward]:
    """Every entry of a recipe's `reward_funcs`, in order, each with its `reward_kwargs`; a ValueError on an empty
    list, two entries with one name (their columns would collide), a `reward_kwargs` key naming no entry, or a bad
    entry.

    >>> [r.name for r in load_rewards(["accuracy", "rewards.format:format_reward"])]
    ['accuracy', 'format_reward']
    >>> load_rewards(["accuracy"], {"acuracy": {}})
    Traceback (most recent call last):
    ...
    ValueError: reward_kwargs names 'acuracy', which is not in reward_funcs (accuracy): key it by the reward's name
    """
    if registry is None:
        from rewards.registry import REWARDS as registry
    if not entries:
        raise ValueError(f"reward_funcs is empty: name at least one of {', '.join(sorted(registry))}")
    reward_kwargs = dict(reward_kwargs or {})
    names = [entry_name(e) for e in entries]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"reward_funcs names {', '.join(duplicates)} twice: each reward's column needs its own name")
    stray = [k for k in reward_kwargs if k not in names]
    if stray:
        raise ValueError(f"reward_kwargs names {stray[0]!r}, which is not in reward_funcs ({', '.join(names)}): "
                         "key it by the reward's name")
    bad = [k for k, v in reward_kwargs.items() if not isinstance(v, Mapping)]
    if bad:
        raise ValueError(f"reward_kwargs.{bad[0]} must be a mapping of argument names to values")
    return [load_reward(e, reward_kwargs.get(n), registry) for e, n in zip(entries, names)]


def call_arguments(func: Callable, **kwargs: Any) -> dict[str, Any]:
    """The keyword arguments `func` can take: all of them when it takes ``**kwargs``, else those it names (TRL
    passes every dataset column, and a reward such as ``def f(completions, nums, target)`` names only its own).

    >>> call_arguments(lambda completions, target: None, completions=["a"], target=[3], prompts=["p"])
    {'completions': ['a'], 'target': [3]}
    """
    params = _parameters(func)
    if params is None or any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return kwargs
    return {k: v for k, v in kwargs.items() if k in params}


def checked_scores(entry: str, scores: Any, expected: int) -> list[float | None]:
    """`scores` as floats (None kept: cannot score), or a `RewardError` naming the reward when it is not one number
    or None per completion.

    >>> checked_scores("mine.py:f", [1, 0.5, None], 3)
    [1.0, 0.5, None]
    >>> checked_scores("mine.py:f", [1.0, "yes"], 2)
    Traceback (most recent call last):
    ...
    rewards.loader.RewardError: reward 'mine.py:f' returned 'yes' (a str) for completion 1: return a number or None per completion
    """
    try:
        scores = list(scores)
    except TypeError:
        raise RewardError(f"reward {entry!r} returned a {type(scores).__name__}: return a list with one number or None "
                          "per completion") from None
    if len(scores) != expected:
        raise RewardError(f"reward {entry!r} returned {len(scores)} scores for {expected} completions: return one "
                          "per completion")
    out: list[float | None] = []
    for i, s in enumerate(scores):
        if s is None:
            out.append(None)
            continue
        try:
            if isinstance(s, (str, bytes)):
                raise TypeError
            out.append(float(s))
        except (TypeError, ValueError):
            raise RewardError(f"reward {entry!r} returned {s!r} (a {type(s).__name__}) for completion {i}: return a "
                              "number or None per completion") from None
    return out
