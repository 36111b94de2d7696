"""The GPU recipes as far as a CPU can check them: they parse, they configure TRL as their headers say, and every
published number a header quotes is in README.md's "Published results we aim at". Run:
python -m pytest tests/test_recipes.py"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import parse_recipe

from zero import models
from zero.config import ZeroConfig


def test_flash_attention_falls_back_to_sdpa_where_flash_attn_cannot_run(capsys):
    from transformers.utils import is_flash_attn_2_available

    if is_flash_attn_2_available():
        pytest.skip("flash-attn runs here: nothing falls back")
    kwargs = models.model_init_kwargs(ZeroConfig(attn_implementation="flash_attention_2", dtype="bfloat16"))
    assert kwargs == {"dtype": "bfloat16", "attn_implementation": "sdpa"}
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "flash-attn is not usable here" in out and "using sdpa" in out
    assert models.model_init_kwargs(ZeroConfig(attn_implementation="eager"))["attn_implementation"] == "eager"
    assert capsys.readouterr().out == ""


ROOT = Path(__file__).parents[1]
HEADED = sorted(p for p in ROOT.glob("configs/**/*.yaml") if "accelerate" not in p.parts)
BLOCK_START = '"Published results we aim at"'
BLOCK_LINE = re.compile(r"^#   (?P<row>[\w.\- ]+): (?P<pairs>[^:]+)$")
PAIR = re.compile(r"^(?P<metric>[\w@\- ]+?) (?P<value>\d+\.\d)$")


def header(path: Path) -> list[str]:
    """The comment lines a recipe opens with."""
    lines = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return lines


def published_claims(path: Path) -> list[tuple[str, str, str]]:
    """(row, metric, value) for every number of a header's published-results lines: the lines `#   ROW: METRIC
    VALUE, METRIC VALUE, ...` right after a line that points at README.md's "Published results we aim at"."""
    claims, lines = [], header(path)
    for i, line in enumerate(lines):
        if BLOCK_START not in line:
            continue
        for follow in lines[i + 1:]:
            match = BLOCK_LINE.match(follow)
            if not match:
                break
            for pair in match["pairs"].split(", "):
                parsed = PAIR.match(pair)
                assert parsed, f"{path.name}: cannot read {pair!r} in {follow!r}"
                claims.append((match["row"], parsed["metric"], parsed["value"]))
    return claims


def readme_table() -> dict[str, dict[str, str]]:
    """README.md's "Published results we aim at" table: row name -> {column: cell}."""
    text = (ROOT / "README.md").read_text()
    section = text.split("### Published results we aim at", 1)[1]
    section = re.split(r"\n#{1,6} ", section, maxsplit=1)[0]  # this section only, not the tables after it
    rows = [line for line in section.splitlines() if line.startswith("|")]
    columns = [c.strip() for c in rows[0].strip("|").split("|")]
    table = {}
    for line in rows[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert len(cells) == len(columns), line
        table[cells[0]] = dict(zip(columns, cells))
    return table


def test_readme_table_names_a_source_for_every_row():
    table = readme_table()
    assert len(table) >= 10
    previous = ""
    for name, row in table.items():
        assert row["source"], name
        source = previous if row["source"] == "same" else row["source"]
        assert source and re.search(r"(19|20)\d\d", source), f"{name}: source {row['source']!r} names no year"
        previous = source


@pytest.mark.parametrize("path", HEADED, ids=lambda p: str(p.relative_to(ROOT / "configs")))
def test_every_published_number_in_a_header_is_in_the_readme_table(path):
    table = readme_table()
    for row, metric, value in published_claims(path):
        assert row in table, f"{path.name}: {row!r} is not a row of README.md's published results"
        assert metric in table[row], f"{path.name}: {metric!r} is not a column ({', '.join(table[row])})"
        assert table[row][metric] == value, f"{path.name}: {row} {metric} {value}, README.md says {table[row][metric]!r}"


# Headers that quote published numbers, with how many: a header that loses its block fails here, not silently.
CLAIMS = {
    "qwen2.5-math-1.5b.yaml": 6, "qwen1.5b-simplerl-zoo.yaml": 8, "qwen1.5b.yaml": 2, "qwen7b.yaml": 2,
    "step0_qwen2.5_math_1.5b.yaml": 6, "step0_qwen2.5_1.5b_simplerl.yaml": 8, "r1_distill_qwen_1.5b.yaml": 3,
    "r1_distill_qwen_7b.yaml": 3, "r1_distill_qwen_14b.yaml": 3, "r1_distill_qwen_32b.yaml": 3, "qwq_32b.yaml": 1,
    "distill_qwen2.5_1.5b.yaml": 1, "generate_math_r1_distill_7b.yaml": 1,
}


def test_headers_that_aim_at_a_published_result_quote_it():
    found = {p.name: len(published_claims(p)) for p in HEADED if published_claims(p)}
    assert found == CLAIMS
    assert ("Oat-Zero-1.5B", "average", "42.1") in published_claims(ROOT / "configs/qwen2.5-math-1.5b.yaml")
    simplerl = published_claims(ROOT / "configs/qwen1.5b-simplerl-zoo.yaml")
    assert ("Qwen-2.5-1.5B", "average", "18.5") in simplerl and ("Qwen-2.5-1.5B-SimpleRL-Zoo", "average", "36.1") in simplerl


def recipe(name: str, *overrides: str):
    from trl import GRPOConfig

    from zero.config import parse

    # GPU recipes ask for bf16, which this CPU refuses; everything else is parsed as written.
    return parse([str(ROOT / "configs" / name), "bf16=false", *overrides], (ZeroConfig, GRPOConfig))


def test_simplerl_zoo_recipe_has_their_settings():
    cfg, args = recipe("qwen1.5b-simplerl-zoo.yaml")
    assert (cfg.model_name_or_path, cfg.template, cfg.reward_funcs, cfg.dataset_levels) == (
        "Qwen/Qwen2.5-1.5B", "simplerl_abel", ["accuracy"], [3, 4, 5])
    assert (args.learning_rate, args.beta, args.max_completion_length, args.num_generations) == (5e-7, 1e-4, 8192, 8)
    assert (args.epsilon, args.epsilon_high, args.entropy_coef, args.scale_rewards) == (0.2, 0.2, 0.001, "group")
    # On the 8 GPUs of its launch line: 1024 prompts x 8 per generation, 256 prompts x 8 per optimizer step.
    per_step = args.per_device_train_batch_size * 8 * args.gradient_accumulation_steps
    per_generation = args.per_device_train_batch_size * 8 * args.steps_per_generation
    assert (per_step, per_generation) == (256 * 8, 1024 * 8)


def test_simplerl_zoo_recipe_trains_on_shipped_math_levels_3_to_5():
    from zero.train import training_set

    cfg, args = recipe("qwen1.5b-simplerl-zoo.yaml")  # its dataset_name is the shipped file
    ds = training_set(cfg, args.seed)
    assert len(ds) == 5584 and ds[0]["prompt"].startswith("Question:\n")


@pytest.mark.parametrize("name", ["qwen2.5-math-1.5b.yaml", "qwen1.5b.yaml"])
def test_dr_grpo_recipes_batch_as_oat(name):
    _, args = recipe(name)
    per_step = args.per_device_train_batch_size * args.gradient_accumulation_steps
    assert per_step == 128 and args.generation_batch_size == 128 * 8  # 128 prompts x 8, 8 optimizer steps each
    assert (args.learning_rate, args.beta, args.max_completion_length, args.loss_type) == (1e-6, 0.0, 3000, "dr_grpo")


def test_server_recipe_configures_trls_vllm_client():
    _, args = recipe("qwen7b.yaml")
    assert (args.use_vllm, args.vllm_mode, args.vllm_server_base_url) == (True, "server", None)
    # TRL's GRPOTrainer hands these to VLLMClient, which talks to http://{host}:{port} (trl/generation).
    assert (args.vllm_server_host, args.vllm_server_port) == ("127.0.0.1", 8000)
    assert (args.vllm_group_port, args.vllm_server_timeout) == (51216, 240.0)


@pytest.mark.vllm
def test_trl_syncs_weights_to_a_vllm_server_over_nccl_only():
    """README.md's claim, checked against the installed TRL: weight sync refuses any device but CUDA."""
    pytest.importorskip("vllm")
    from trl.generation.vllm_client import VLLMClient

    client = object.__new__(VLLMClient)  # no server to connect to: only the device check is exercised
    client.base_url, client.group_port = "http://127.0.0.1:8000", 51216
    client.get_server_info = lambda: {"weight_transfer_config": {"backend": "nccl"}}
    client.get_world_size = lambda: 1
    with pytest.raises(NotImplementedError, match="NCCL weight-transfer engine, which needs a CUDA device"):
        client.init_communicator(device="cpu")


@pytest.mark.parametrize("name", ["step0_qwen2.5_math_1.5b.yaml", "step0_qwen2.5_1.5b_simplerl.yaml"])
def test_step0_eval_configs_read_the_base_model_with_its_recipes_template(name):
    from zero.eval import EvalConfig, check

    (cfg,) = parse_recipe([str(ROOT / "configs/eval" / name)], (EvalConfig,))
    check(cfg)
    trains = {"step0_qwen2.5_math_1.5b.yaml": "qwen2.5-math-1.5b.yaml",
              "step0_qwen2.5_1.5b_simplerl.yaml": "qwen1.5b-simplerl-zoo.yaml"}[name]
    train_cfg, _ = recipe(trains)
    assert (cfg.model_name_or_path, cfg.template) == (train_cfg.model_name_or_path, train_cfg.template)
    assert (cfg.temperature, cfg.n) == (0.0, 1)  # greedy, as both sources read base models
