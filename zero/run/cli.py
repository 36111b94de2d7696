"""The prologue every config-driven command shares (zero.train, zero.sft, zero.eval, zero.generate).

    @cli.command("zero.eval", __doc__, lambda: (EvalConfig,))
    def main(cfg: EvalConfig) -> int: ...

turns the body into `main(argv=None) -> int`, which, in this order:
1. exits 2 with one line when torchvision cannot load (zero.run.environment), before TRL or transformers is imported;
2. reads `sys.argv[1:]` when `argv` is None;
3. prints the command's docstring and every key (`help_text`) for `-h`/`--help`, and returns 0;
4. parses `[CONFIG.yaml] [overrides...]` into the command's config classes, each checking itself when built;
5. calls the body with those configs, and turns a ConfigError raised anywhere in it into one line on stderr,
   `<prog>: error: <message>`, and exit code 2.

`classes` is a function so that a command whose config includes TRL's (`GRPOConfig`, `SFTConfig`) imports TRL
after step 1. zero.replay and zero.emergence take a run directory, not a config: they use argparse, whose
`--help` and exit code 2 on a bad argument are the same contract.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zero.config import help_text, parse
from zero.errors import ConfigError
from zero.run import environment

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

EXIT_BAD_INPUT = 2


def error(prog: str, message: Any) -> int:
    """Print `prog: error: message` on stderr (one line) and return the exit code for bad input.

    >>> error("zero.x", "bad") == EXIT_BAD_INPUT
    True
    """
    print(f"{prog}: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def command(
    prog: str,
    doc: str,
    classes: Callable[[], tuple[type, ...]],
    *,
    default_config: str | Path | Traversable | None = None,
    usage: str | None = None,
) -> Callable:
    """Decorate `body(*configs, **kw) -> int` into the command's `main(argv=None, **kw) -> int` (see the module
    docstring). `default_config` is read when the command line names no recipe; with `usage` instead, no recipe is
    an error that shows it."""

    def wrap(body: Callable[..., int]) -> Callable[..., int]:
        @functools.wraps(body)
        def main(argv: list[str] | None = None, **kw: Any) -> int:
            if problem := environment.torchvision_problem():  # before TRL or transformers is imported
                return error(prog, problem)
            argv = sys.argv[1:] if argv is None else list(argv)
            if {"-h", "--help"} & set(argv):
                print(doc + help_text(classes()))
                return 0
            try:
                if usage is not None and not argv:
                    raise ConfigError(f"no recipe given: {usage}")
                configs = parse(argv, classes(), default_config=default_config)
                return body(*configs, **kw)
            except ConfigError as e:
                return error(prog, e)

        return main

    return wrap
