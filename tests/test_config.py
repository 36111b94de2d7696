"""Config parsing: YAML, command-line overrides, unknown keys, types, the resolved file.

Run: python -m pytest tests/test_config.py
"""

from importlib.resources import files
from pathlib import Path

import pytest
import yaml
from trl import GRPOConfig

from zero.config import ConfigError, ZeroConfig, coerce, parse, parse_overrides, resolved

CLASSES = (ZeroConfig, GRPOConfig)


def write(tmp_path, text):
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return str(path)


def test_yaml_values_reach_both_dataclasses(tmp_path):
    path = write(tmp_path, "template: qwen_math_boxed\nlearning_rate: 2.0e-6\nnum_generations: 4\nbf16: false\n")
    cfg, args = parse([path], CLASSES)
    assert (cfg.template, args.learning_rate, args.num_generations) == ("qwen_math_boxed", 2e-6, 4)


@pytest.mark.parametrize(
    "overrides",
    [["learning_rate=3e-6", "num_generations=2"], ["--learning_rate", "3e-6", "--num_generations", "2"],
     ["--learning_rate=3e-6", "--num-generations=2"]],
)
def test_command_line_wins_over_yaml_in_every_spelling(tmp_path, overrides):
    path = write(tmp_path, "learning_rate: 1.0e-6\nnum_generations: 8\nbf16: false\n")
    _, args = parse([path, *overrides], CLASSES)
    assert (args.learning_rate, args.num_generations) == (3e-6, 2)


def test_bare_flag_is_true_and_lists_split_on_commas(tmp_path):
    path = write(tmp_path, "bf16: false\n")
    cfg, args = parse([path, "--use_vllm", "reward_funcs=accuracy,format"], CLASSES)
    assert args.use_vllm is True and cfg.reward_funcs == ["accuracy", "format"]


def test_unknown_key_names_the_closest_valid_one(tmp_path):
    path = write(tmp_path, "lerning_rate: 1.0e-6\n")
    with pytest.raises(ConfigError, match=r"unknown config key 'lerning_rate' \(did you mean 'learning_rate'\?\)"):
        parse([path], CLASSES)
    with pytest.raises(ConfigError, match="did you mean 'num_generations'"):
        parse(["num_generation=4"], CLASSES)


@pytest.mark.parametrize(
    "text, message",
    [("learning_rate: fast\n", "learning_rate: expected a number, got 'fast'"),
     ("num_generations: 2.5\n", "num_generations: expected an integer"),
     ("use_vllm: maybe\n", "use_vllm: expected true or false"),
     ("- a\n- b\n", "must be a mapping"),
     ("a: [1, 2\n", "not valid YAML at line")],
)
def test_bad_values_and_files_are_one_line_errors(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        parse([write(tmp_path, text)], CLASSES)


def test_missing_config_file_names_the_fix():
    with pytest.raises(ConfigError, match="not found, nor a shipped recipe of that name: pass the path of a recipe"):
        parse(["/nonexistent/recipe.yaml"], CLASSES)


@pytest.mark.parametrize("name", ["configs/tiny.yaml", "tiny.yaml", "tiny"])
def test_shipped_recipe_is_found_from_any_directory(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)  # no configs/ here: the recipe comes from the package data
    cfg, args = parse([name, "bf16=false"], CLASSES)
    shipped = yaml.safe_load((files("zero") / "configs" / "tiny.yaml").read_text())
    assert (cfg.cold_start_steps, args.num_generations) == (shipped["cold_start_steps"], shipped["num_generations"])


def test_a_recipe_file_in_the_working_directory_wins_over_the_shipped_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "tiny.yaml").write_text("template: chat\n")
    cfg, _ = parse(["configs/tiny.yaml", "bf16=false"], CLASSES)
    assert cfg.template == "chat"
    with pytest.raises(ConfigError, match="nor a shipped recipe"):
        parse(["configs/../configs/tiny.yaml.bak"], CLASSES)


def test_default_recipe_is_package_data():
    import zero
    from zero.train import DEFAULT_RECIPE

    assert DEFAULT_RECIPE.is_file()
    assert Path(str(DEFAULT_RECIPE)).parent.parent == Path(zero.__file__).parent  # zero/configs/tiny.yaml


def test_null_and_none():
    assert coerce("null", int | None, "k") is None and coerce("none", int | None, "k") is None
    assert coerce("none", str | list[str] | None, "report_to") == "none"  # a real value of report_to


def test_override_needs_a_key():
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["oops"])


def test_resolved_config_reproduces_the_run(tmp_path):
    path = write(tmp_path, "learning_rate: 2.0e-6\nsteps_per_generation: 2\nbf16: false\nreport_to: none\n")
    first = parse([path, "output_dir=" + str(tmp_path / "out")], CLASSES)
    dumped = write(tmp_path, yaml.safe_dump(resolved(first)))
    second = parse([dumped], CLASSES)
    assert resolved(first) == resolved(second)
    assert "hub_token" not in resolved(first)  # secrets never reach the file


def test_the_resume_rules_name_real_keys(tmp_path):
    """A key in output_dir's resume lists that no config has would let a changed value pass unnamed."""
    from zero.run.output_dir import FROM_CHECKPOINT, FROM_START

    keys = resolved(parse([write(tmp_path, "bf16: false\nreport_to: none\n")], CLASSES))
    assert set(FROM_CHECKPOINT + FROM_START) <= set(keys), set(FROM_CHECKPOINT + FROM_START) - set(keys)


def test_every_shipped_recipe_parses():
    from pathlib import Path

    recipes = sorted(Path(__file__).parents[1].glob("configs/*.yaml"))
    assert recipes, "no recipes found"
    for recipe in recipes:
        # GPU recipes ask for bf16, which this CPU refuses; everything else must parse as written.
        parse([str(recipe), "bf16=false"], CLASSES)


def test_every_training_recipe_writes_out_the_vllm_engine_dtype():
    """The colocated engine's dtype moves the importance-sampling ratio (README, "A real checkpoint on a CPU"), so each
    recipe states it rather than inheriting a default that may move."""
    recipes = {p.name: yaml.safe_load(p.read_text()) for p in sorted(Path(__file__).parents[1].glob("configs/*.yaml"))}
    training = [name for name, keys in recipes.items() if "vllm_mode" in keys]
    assert len(training) >= 10 and [name for name in training if "vllm_dtype" not in recipes[name]] == []
    assert ZeroConfig().vllm_dtype == "match"


# --- argument groups: one name, default and help per knob; each group checks itself when built ---


def test_a_knob_has_one_name_default_and_help_in_every_command():
    import dataclasses

    from rewards.grade import DEFAULT_TIMEOUT_S
    from zero.eval import EvalConfig
    from zero.generate import GenerateConfig
    from zero.sft import SFTZeroConfig

    def field(cls, name):
        return next(f for f in dataclasses.fields(cls) if f.name == name)

    commands = (ZeroConfig, SFTZeroConfig, GenerateConfig, EvalConfig)
    for name in ("model_name_or_path", "dtype", "attn_implementation", "template", "system_prompt", "resume"):
        helps = {field(cls, name).metadata["help"] for cls in commands}
        assert len(helps) == 1, name
    for name in ("answer_region", "reward_timeout_s", "reward_workers"):
        assert len({(field(c, name).default, field(c, name).metadata["help"]) for c in (ZeroConfig, GenerateConfig,
                                                                                         EvalConfig)}) == 1  # fmt: skip
    teacher = GenerateConfig(model_name_or_path="org/teacher")  # zero.generate has no default teacher
    assert ZeroConfig().reward_timeout_s == teacher.reward_timeout_s == EvalConfig().reward_timeout_s
    assert EvalConfig().reward_timeout_s == DEFAULT_TIMEOUT_S  # written once, in rewards.grade
    # zero.train's in-training eval is zero.eval's own benchmark group, not a copy of its fields
    from zero.args import BenchmarkArgs

    assert isinstance(ZeroConfig().eval, BenchmarkArgs) and issubclass(EvalConfig, BenchmarkArgs)


@pytest.mark.parametrize(
    "key, value, message",
    [("reward_timeout_s", "0", "reward_timeout_s must be > 0"),
     ("reward_workers", "0", "reward_workers must be >= 1"),
     ("dtype", "fp8", "dtype='fp8': choose one of auto"),
     ("vllm_dtype", "fp16", "vllm_dtype='fp16': choose one of match, auto, bfloat16, float16, float32"),
     ("resume", "maybe", "resume='maybe': choose one of auto, never"),
     ("template", "r2", "unknown template 'r2'"),
     ("answer_region", "box", "answer_region='box'"),
     ("wandb_table_every", "0", "wandb_table_every must be >= 1"),
     ("max_train_samples", "0", "max_train_samples must be >= 1"),
     ("reward_funcs", "accuracy,speed", "unknown reward 'speed': choose from accuracy, format"),
     ("tiny_max_operand", "2", "tiny_max_operand must be >= 3"),
     ("cold_start_mix", "[0.5,0.5]", "cold_start_mix must be 3 shares >= 0 that sum to 1"),
     ("cold_start_mix", "[0.6,0.6,-0.2]", "cold_start_mix must be 3 shares"),
     ("eval.n", "0", "eval: n must be >= 1"),
     ("eval.every", "-1", "eval.every must be >= 0"),
     ("eval.ks", "[3]", "ks [3] out of range"),
     ("eval.top_p", "0", "0 < top_p <= 1")],
)
def test_each_group_refuses_a_bad_value_when_built(key, value, message):
    from zero.config import build

    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        build({key: value}, (ZeroConfig,))


def test_the_eval_group_takes_a_mapping_and_dotted_overrides(tmp_path):
    path = write(tmp_path, "eval:\n  every: 5\n  benchmarks: [gsm8k]\n  n: 4\nbf16: false\n")
    cfg, _ = parse([path, "eval.n=2", "--eval.limit", "3"], CLASSES)
    assert (cfg.eval.every, cfg.eval.benchmarks, cfg.eval.n, cfg.eval.limit) == (5, ["gsm8k"], 2, 3)
    again, _ = parse([write(tmp_path, yaml.safe_dump(resolved((cfg,))))], (ZeroConfig,)) + (None,)
    assert again.eval == cfg.eval
    with pytest.raises(ConfigError, match=r"unknown config key 'eval.nn' \(did you mean 'eval.n'\?\)"):
        parse(["eval.nn=2"], (ZeroConfig,))
    with pytest.raises(ConfigError, match="eval: expected a mapping"):
        parse(["eval=3"], (ZeroConfig,))


def test_help_lists_every_key_under_its_group():
    from zero.config import help_text

    text = help_text((ZeroConfig,))
    for group, key in [("ModelArgs", "dtype"), ("RewardArgs", "reward_timeout_s"), ("ZeroConfig", "eval.every"),
                       ("ColocateArgs", "vllm_dtype")]:
        assert f"\n{group}:" in text and f"  {key} (" in text.split(f"\n{group}:")[1].split("\n\n")[0]


def test_the_grading_deadline_reaches_a_reward_by_its_signature_not_its_name(monkeypatch):
    import rewards
    from zero.telemetry.reward_suite import RewardSuite

    seen = []

    def strict(completions, solution, answer_region="answer_tag", timeout_s=9.0, **kwargs):
        seen.append(timeout_s)
        return [0.0] * len(completions)

    monkeypatch.setitem(rewards.REWARDS, "strict", strict)
    suite = RewardSuite(["strict", "format"], None, "answer_tag", [0], timeout_s=0.5)
    suite.reward_funcs[0](["<answer> 1 </answer>"], solution=["1"])
    assert seen == [0.5]
    assert "timeout_s" not in suite._options(rewards.format_reward)  # a reward without a deadline gets none


@pytest.mark.parametrize(
    "command, argv",
    [("train", ["reward_timeout_s=0"]), ("train", ["reward_workers=0"]), ("train", ["eval.n=0"]),
     ("generate", ["model_name_or_path=org/m", "reward_timeout_s=0"]),
     ("generate", ["model_name_or_path=org/m", "reward_workers=0"]),
     ("eval", ["model_name_or_path=org/m", "reward_timeout_s=0"]), ("eval", ["model_name_or_path=org/m", "reward_workers=0"]),
     ("sft", ["configs/sft/tiny_distill.yaml", "dtype=fp8"]), ("sft", ["configs/sft/tiny_distill.yaml", "resume=maybe"]),
     # checked when the config is built, not after loading the model or the data:
     ("train", ["eval.every=1", "eval.benchmarks=mat500"]), ("train", ["tiny_max_operand=0"]),
     ("train", ["logging_steps=5"]), ("eval", ["model_name_or_path=org/m", "benchmarks=gsm8k,mat500"]),
     ("generate", ["model_name_or_path="]),
     ("generate", ["model_name_or_path=org/m", "tiny_num_problems=0"]),
     ("sft", ["configs/sft/tiny_distill.yaml", "dataset_name=builtin:arithmetic"]),
     ("sft", ["configs/sft/tiny_distill.yaml", "max_length=none"])],
)
def test_every_command_exits_2_on_a_bad_value_before_writing(tmp_path, capsys, monkeypatch, command, argv):
    import importlib
    from pathlib import Path

    monkeypatch.chdir(Path(__file__).parents[1])
    out = tmp_path / "out"
    where = {"generate": f"output_file={out / 'traces.jsonl'}"}.get(command, f"output_dir={out}")
    assert importlib.import_module(f"zero.{command}").main([*argv, where]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"zero.{command}: error: "), err
    assert not out.exists()


@pytest.mark.parametrize("command, key", [("train", "eval.every"), ("sft", "response_field"), ("eval", "think_prefix"),
                                          ("generate", "num_generations")])
def test_every_command_prints_its_help_and_exits_0(capsys, command, key):
    import importlib

    module = importlib.import_module(f"zero.{command}")
    assert module.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(module.__doc__) and f"  {key} (" in out and "\nModelArgs:" in out


@pytest.mark.parametrize(
    "build, message",
    [("zero.eval:EvalConfig(benchmarks=['mat500'])", "unknown benchmark 'mat500'"),
     ("zero.generate:GenerateConfig()", "model_name_or_path (the teacher) is not set"),
     ("zero.generate:GenerateConfig(model_name_or_path='org/m', tiny_max_operand=0)", "tiny_max_operand must be >= 3"),
     ("zero.sft:SFTZeroConfig()", "dataset_name is not set: pass a trace file"),
     ("zero.config:ZeroConfig(tiny_num_problems=0)", "tiny_num_problems must be >= 1")],
)
def test_a_command_config_checks_itself_when_built(build, message):
    import importlib

    module, _, expr = build.partition(":")
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        eval(expr, vars(importlib.import_module(module)))


def test_backend_vllm_without_vllm_is_refused_when_built(monkeypatch):
    import importlib.util

    from zero.args import GenerationArgs

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else real(name, *a))
    with pytest.raises(ConfigError, match="backend=vllm but vllm is not installed"):
        GenerationArgs(backend="vllm")
    assert GenerationArgs(backend="hf").backend == "hf"


def test_the_prologue_turns_a_config_error_or_a_broken_torchvision_into_one_line_and_exit_2(capsys, monkeypatch):
    from zero.run import cli, environment

    @cli.command("zero.demo", "demo\n", lambda: (ZeroConfig,))
    def main(cfg):
        if cfg.template == "chat":
            raise ConfigError("late problem")
        return 0

    assert main(["template=chat"]) == 2 and capsys.readouterr().err == "zero.demo: error: late problem\n"
    assert main(["no_such_key=1"]) == 2 and "unknown config key 'no_such_key'" in capsys.readouterr().err
    assert main([]) == 0
    monkeypatch.setattr(environment, "torchvision_problem", lambda: "torchvision is broken: run X")
    assert main(["--help"]) == 2 and capsys.readouterr().err == "zero.demo: error: torchvision is broken: run X\n"
