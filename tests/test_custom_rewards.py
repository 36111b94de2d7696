"""Your own reward: every way to name one, every bad entry refused in one line, a reward that raises, hangs or
returns the wrong length, TRL's own reward functions unchanged, DAPO's overlong shaping, Countdown's data and reward.

Run: OMP_NUM_THREADS=1 python -m pytest tests/test_custom_rewards.py -m "not slow"     (about 30 s on 2 CPU cores)
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from helpers import REPO

from rewards.isolated import IsolatedReward
from rewards.loader import RewardError, check_signature, load_reward, load_rewards
from rewards.overlong import soft_overlong_punishment

RIGHT = "<think> 3 + 4 = 7 </think> <answer> 7 </answer>"
WRONG = "<think> 3 + 4 = 8 </think> <answer> 8 </answer>"

MINE = '''
import time


def length_bonus(completions, **kwargs):
    """0.01 per character, at most 1."""
    return [min(len(c) / 100, 1.0) for c in completions]


def scaled(completions, scale, **kwargs):
    return [scale * len(c) for c in completions]


def strict(completions, scale):
    return [scale for _ in completions]


def make_threshold(min_chars):
    def threshold(completions, **kwargs):
        return [float(len(c) >= min_chars) for c in completions]
    return threshold


def with_columns(completions, nums, target, **kwargs):
    return [float(sum(n) == t) for n, t in zip(nums, target)]


def hangs(completions, **kwargs):
    time.sleep(3600)


def raises(completions, **kwargs):
    raise KeyError("no such thing")


def one_short(completions, **kwargs):
    return [1.0] * (len(completions) - 1)


def counts(completions, trainer_state, log_metric=None, **kwargs):
    log_metric("mine/step", float(trainer_state.global_step))
    return [0.5 for _ in completions]


def no_keywords(text):
    return [0.0]


NOT_A_FUNCTION = 3
'''


@pytest.fixture
def mine(tmp_path, monkeypatch):
    """A user's reward file, and the working directory it is named from."""
    (tmp_path / "mine.py").write_text(MINE)
    monkeypatch.chdir(tmp_path)
    return "mine.py"


def test_a_registered_name_resolves_to_the_registry_function():
    import rewards

    reward = load_reward("accuracy")
    assert reward.func is rewards.accuracy_reward and reward.builtin and reward.name == "accuracy"
    assert reward.func(completions=[RIGHT, WRONG], solution=["7", "7"]) == [1.0, 0.0]


def test_a_module_function_and_a_file_function_resolve(mine):
    by_module = load_reward("rewards.format:format_reward")
    assert (by_module.name, by_module.builtin) == ("format_reward", False)
    assert by_module.func(completions=[RIGHT, "7"]) == [1.0, 0.0]
    by_file = load_reward(f"{mine}:length_bonus")
    assert by_file.name == "length_bonus" and by_file.func(completions=["x" * 50, "x" * 500]) == [0.5, 1.0]


def test_reward_kwargs_bind_to_a_function_and_call_a_factory(mine):
    bound, factory = load_rewards([f"{mine}:scaled", f"{mine}:make_threshold"],
                                  {"scaled": {"scale": 2.0}, "make_threshold": {"min_chars": 3}})
    assert bound.func(completions=["ab", "abcd"]) == [4.0, 8.0]
    assert factory.name == "make_threshold" and factory.func(completions=["ab", "abcd"]) == [0.0, 1.0]


def test_trl_reward_functions_work_unchanged_through_the_loader():
    overlong = load_reward("trl.rewards:get_soft_overlong_punishment",
                           {"max_completion_len": 100, "soft_punish_cache": 20})
    # TRL's callable takes completion_ids first: it is called with keywords only, as TRL calls it.
    assert overlong.func(completions=["a"] * 3, completion_ids=[[1] * 80, [1] * 90, [1] * 100]) == [0.0, -0.5, -1.0]
    think = load_reward("trl.rewards:think_format_reward")
    assert think.func(completions=[[{"content": "<think>\nx\n</think>\ny"}], [{"content": "y"}]]) == [1.0, 0.0]


@pytest.mark.parametrize(
    "entry, kwargs, message",
    [
        ("speed", None, "unknown reward 'speed': choose from accuracy, format, overlong, random, or name your own"),
        ("no_such_pkg.rewards:f", None, "cannot import module no_such_pkg.rewards"),
        ("missing.py:f", None, "file missing.py does not exist"),
        ("mine.py:nothing", None, "mine.py has no 'nothing': check the name after the colon"),
        ("mine.py:NOT_A_FUNCTION", None, "is a int, not a function"),
        ("mine.py:no_keywords", None, "takes (text): a reward is called with keywords, def f(completions, **kwargs)"),
        ("mine.py:make_threshold", None, "a factory of one needs its arguments: set its arguments in "
                                         "reward_kwargs.make_threshold"),
        ("mine.py:make_threshold", {"min_char": 3}, "is a factory and make_threshold() got an unexpected keyword"),
        ("mine.py:strict", {"scale": 1, "offset": 2}, "reward_kwargs.strict: 'mine.py:strict' takes no offset"),
        ("overlong", {"max_length": 10, "cache_length": 20}, "need 0 < cache_length <= max_length"),
        ("mine.py:", None, "write package.module:function or path/to/file.py:function"),
    ],
)
def test_each_bad_entry_is_one_line_naming_it_and_the_fix(mine, entry, kwargs, message):
    with pytest.raises(ValueError) as info:
        load_reward(entry, kwargs)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_a_list_of_entries_is_checked_as_a_whole(mine):
    with pytest.raises(ValueError, match="names length_bonus twice"):
        load_rewards([f"{mine}:length_bonus", "other/mine.py:length_bonus"])
    with pytest.raises(ValueError, match="reward_kwargs names 'scale'"):
        load_rewards(["accuracy"], {"scale": {"x": 1}})
    with pytest.raises(ValueError, match="reward_funcs is empty"):
        load_rewards([])


def test_a_required_argument_must_be_trl_s_or_a_dataset_column(mine):
    func = load_reward(f"{mine}:with_columns").func
    check_signature("mine.py:with_columns", func, columns=["prompt", "solution", "nums", "target"])
    with pytest.raises(ValueError, match="needs nums, target, which is neither"):
        check_signature("mine.py:with_columns", func, columns=["prompt", "solution"])


@pytest.mark.slow
def test_a_bad_reward_entry_exits_2_before_anything_is_written(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "zero.train", str(REPO / "configs" / "tiny.yaml"),
                           "reward_funcs=[accuracy,nowhere.py:f]", f"output_dir={out}"],
                          capture_output=True, text=True, cwd=tmp_path, env=_env(), timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1] == (
        "zero.train: error: reward 'nowhere.py:f': file nowhere.py does not exist (a path relative to the working "
        "directory)")
    assert not out.exists()


def _env():
    import os

    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "WANDB_MODE": "offline"}


# --- DAPO's overlong shaping, against Eq. 13 on hand-computed lengths ---------------------------------------------

@pytest.mark.parametrize(
    "length, expected",
    [(0, 0.0), (12, 0.0),  # up to L_max - L_cache = 16 - 4 = 12: free
     (13, -0.25), (14, -0.5), (15, -0.75),  # ((16 - 4) - |y|) / 4
     (16, -1.0), (17, -1.0)],  # at the cap, and past it
)
def test_overlong_follows_dapo_eq_13(length, expected):
    punish = load_reward("overlong", {"max_length": 16, "cache_length": 4}).func
    assert punish(completions=["x"], completion_ids=[[7] * length]) == [expected]


def test_overlong_needs_both_lengths():
    with pytest.raises(ValueError, match=r"set its arguments in reward_kwargs\.overlong"):
        load_reward("overlong")
    with pytest.raises(ValueError, match="need 0 < cache_length"):
        soft_overlong_punishment(max_length=8, cache_length=0)


# --- a user's reward in its worker: deadline, raise, death -------------------------------------------------------

def test_a_reward_that_hangs_is_killed_at_its_deadline_and_counted(mine):
    reward = IsolatedReward(f"{mine}:hangs", {}, timeout_s=2.0)
    try:
        assert reward(completions=["a", "b"]) is None and reward.timeouts == 1
        assert reward._process is None  # killed; the next call starts a fresh worker
    finally:
        reward.close()


def test_a_reward_that_raises_is_one_line_naming_it(mine):
    reward = IsolatedReward(f"{mine}:raises", {}, timeout_s=30.0)
    try:
        with pytest.raises(RewardError) as info:
            reward(completions=["a"])
        assert str(info.value) == "reward 'mine.py:raises' raised KeyError: 'no such thing'"
    finally:
        reward.close()


def test_the_worker_replays_log_metric_and_receives_trainer_state(mine):
    from transformers import TrainerState

    seen = []
    reward = IsolatedReward(f"{mine}:counts", {}, timeout_s=30.0)
    try:
        scores = reward(completions=["a", "b"], trainer_state=TrainerState(global_step=3),
                        log_metric=lambda k, v: seen.append((k, v)), log_extra=lambda k, v: None)
    finally:
        reward.close()
    assert scores == [0.5, 0.5] and seen == [("mine/step", 3.0)]


# --- Countdown ----------------------------------------------------------------------------------------------------

def test_countdown_data_script_is_deterministic_and_every_row_is_solvable(tmp_path):
    sys.path.insert(0, str(REPO / "examples" / "countdown"))
    try:
        import make_data
        from reward import countdown_reward
    finally:
        sys.path.pop(0)
    out = tmp_path / "c.jsonl"
    assert make_data.main(["--num-problems", "50", "--seed", "0", "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows == make_data.make_problems(50, 0) and len(rows) == 50
    shipped = [json.loads(line) for line in (REPO / "examples/countdown/countdown.jsonl").read_text().splitlines()]
    assert shipped == make_data.make_problems(2000, 0)  # the shipped file is the script's, seed 0
    answers = [f"<think> ok </think> <answer> {r['solution']} </answer>" for r in rows]
    assert countdown_reward(answers, nums=[r["nums"] for r in rows], target=[r["target"] for r in rows]) == [1.0] * 50
    wrong = textwrap.dedent("<answer> 1 + 1 </answer>")
    assert countdown_reward([wrong], nums=[rows[0]["nums"]], target=[rows[0]["target"]]) == [0.0]


# --- the real command ---------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_file_reward_trains_beside_the_built_in_ones_and_replay_shows_its_column(mine, tmp_path, capsys):
    """The issue's proof: zero.train configs/tiny.yaml 'reward_funcs=[accuracy,format,mine.py:length_bonus]'."""
    from helpers import run_zero_train

    import pandas as pd

    from zero import replay

    out = tmp_path / "run"
    assert run_zero_train(str(REPO / "configs" / "tiny.yaml"), "reward_funcs=[accuracy,format,mine.py:length_bonus]",
                          "reward_weights=[1.0,0.1,0.1]", "cold_start_steps=0", "max_steps=2", "save_strategy=no",
                          "report_to=none", "disable_tqdm=true", f"output_dir={out}") == 0
    files = sorted((out / "completions").glob("*.parquet"))
    df = pd.read_parquet(files[-1])
    lengths = [min(len(c) / 100, 1.0) for c in df["completion"]]
    assert df["reward_length_bonus"].tolist() == pytest.approx(lengths)  # scored in its worker, filed as its own
    capsys.readouterr()
    assert replay.main([str(out)]) == 0
    assert "reward_length_bonus" in capsys.readouterr().out.splitlines()[2]


@pytest.mark.slow
def test_countdown_recipe_runs_its_own_reward_on_its_own_columns(tmp_path, monkeypatch):
    from helpers import run_zero_train

    import pandas as pd

    monkeypatch.chdir(REPO)  # the recipe names its reward and data relative to the repository root
    out = tmp_path / "countdown"
    assert run_zero_train("configs/countdown.yaml", "max_steps=2", "save_strategy=no", "report_to=none",
                          "disable_tqdm=true", "per_device_train_batch_size=32", "num_generations=8",
                          f"output_dir={out}") == 0
    df = pd.concat(pd.read_parquet(f) for f in sorted((out / "completions").glob("*.parquet")))
    assert {"reward_countdown_reward", "reward_format", "nums", "target"} <= set(df.columns)
    rows = {json.dumps(r["nums"]): r["target"] for r in map(json.loads, open("examples/countdown/countdown.jsonl"))}
    assert all(rows[json.dumps([int(n) for n in nums])] == t for nums, t in zip(df["nums"], df["target"]))


# --- through zero's reward suite, as the trainer calls it ---------------------------------------------------------

def _call_suite(entries, kwargs=None, custom_timeout_s=60.0, n=2):
    """Each of the suite's reward functions called once, as TRL 1.16 calls them; the metrics and extra columns."""
    from zero.telemetry.reward_suite import RewardSuite

    suite = RewardSuite(entries, None, "answer_tag", [0], reward_kwargs=kwargs, custom_timeout_s=custom_timeout_s,
                        columns=["prompt", "solution", "prompt_id", "nums", "target"])
    metrics, extras, scores = {}, {}, []
    call = dict(prompts=["p"] * n, completions=[RIGHT] * n, completion_ids=[[5, 0]] * n, solution=["7"] * n,
                prompt_id=["a"] * n, nums=[[3, 4]] * n, target=[7] * n, trainer_state=None,
                log_metric=metrics.__setitem__, log_extra=extras.__setitem__)
    for func in suite.reward_funcs:
        scores.append(func(**call))
    return [f.__name__ for f in suite.reward_funcs], scores, metrics, extras


def test_a_user_reward_gets_its_column_its_none_count_and_the_task_columns(mine):
    names, scores, metrics, extras = _call_suite(["accuracy", f"{mine}:with_columns"])
    assert names == ["reward_accuracy", "reward_with_columns"] and scores == [[1.0, 1.0], [1.0, 1.0]]
    assert metrics["rewards/with_columns/none"] == 0.0 and metrics["rewards/accuracy/none"] == 0.0
    assert extras["nums"] == [[3, 4], [3, 4]] and extras["target"] == [7, 7]  # kept for the rollout files


def test_a_hanging_user_reward_scores_none_for_that_batch_and_is_counted(mine):
    _, scores, metrics, extras = _call_suite(["accuracy", f"{mine}:hangs"], custom_timeout_s=2.0)
    assert scores[1] == [None, None] and metrics["rewards/hangs/timeouts"] == 1.0
    assert metrics["rewards/hangs/none"] == 2.0 and extras["reward"] == [1.0, 1.0]  # the others still count


@pytest.mark.parametrize(
    "entry, message",
    [("one_short", "reward 'mine.py:one_short' returned 1 scores for 2 completions: return one per completion"),
     ("raises", "reward 'mine.py:raises' raised KeyError: 'no such thing'")],
)
@pytest.mark.parametrize("custom_timeout_s", [60.0, None], ids=["worker", "in-process"])
def test_a_reward_that_breaks_its_contract_stops_with_one_line_naming_it(mine, entry, message, custom_timeout_s):
    with pytest.raises(RewardError) as info:
        _call_suite([f"{mine}:{entry}"], custom_timeout_s=custom_timeout_s)
    assert str(info.value) == message


def test_the_readme_example_reward_file_loads_and_scores(tmp_path, monkeypatch):
    readme = (REPO / "README.md").read_text()
    code = readme.split("A 15-line example, `my_rewards.py`:\n\n```python\n", 1)[1].split("```", 1)[0]
    assert len(code.strip().splitlines()) <= 16
    (tmp_path / "my_rewards.py").write_text(code)
    monkeypatch.chdir(tmp_path)
    bonus, budget = load_rewards(["my_rewards.py:length_bonus", "my_rewards.py:make_budget"],
                                 {"make_budget": {"max_chars": 5}})
    assert bonus.func(completions=["x" * 50]) == [0.5]
    assert budget.func(completions=["abc", "abcdefgh", "abc"], solution=["1", "1", ""]) == [0.0, -1.0, None]
