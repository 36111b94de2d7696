"""The argument groups every zero command composes its config from, as open-r1 hands TRL's parser
`ScriptArguments` and `ModelConfig`: one name, one default and one help text per knob, in every command.

    ModelArgs       model_name_or_path, dtype, attn_implementation             train, sft, generate, eval
    LoraArgs        use_peft, lora_r, lora_alpha, lora_dropout, lora_target_*   train, sft
    DataArgs        dataset_name, dataset_config, dataset_split                 train, sft, generate
    ProblemArgs     DataArgs + problem_field, solution_field                    train, generate (sft: problem_field)
    PromptArgs      template, system_prompt                                     train, sft, generate, eval
    RewardArgs      answer_region, reward_timeout_s, reward_workers             train, generate, eval
    TelemetryArgs   reflection_lexicon                                          train, eval
    LoggingArgs     wandb_project, wandb_table_every                            train
    RunArgs         resume                                                      train, sft, generate, eval
    GenerationArgs  backend, batch_size, vllm_*                                 generate, eval
    ColocateArgs    vllm_dtype                                                  train
    TinyArgs        tiny_num_problems, tiny_max_operand (builtin:arithmetic)    train, generate
    BenchmarkArgs   benchmarks, limit, n, ks, think_prefix, temperature, ...    eval, train (its `eval` group)
    CurriculumArgs  pass_rate_file, dataset_pass_rate, curriculum_*             train

zero.train's vLLM knobs are TRL's `GRPOConfig` fields, and `GenerationArgs` spells its vllm_* keys the same; the one
TRL lacks, the colocated engine's dtype, is `ColocateArgs`'.
Each group checks its own fields in `__post_init__` (raising ConfigError), so a command config fails when it is
built, before anything is written. A command whose job implies another default (zero.eval's template) takes the
group's field with `reuse`, keeping its help text.

>>> RewardArgs(reward_timeout_s=0)
Traceback (most recent call last):
...
zero.errors.ConfigError: reward_timeout_s must be > 0 (seconds per answer), got 0
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rewards import extract
from rewards.grade import DEFAULT_TIMEOUT_S
from zero.errors import ConfigError
from zero.templates import get_template


def help_field(text: str, **kw) -> Any:
    """A dataclass field whose help text `--help` shows (every zero command's config uses it)."""
    return field(metadata={"help": text}, **kw)


_help = help_field


class Group:
    """Base of the argument groups. Each group checks its own fields in `__post_init__` and calls `super()`'s, so
    a command config composed of groups checks every field when it is built, before anything is written."""

    def __post_init__(self) -> None:
        pass


def reuse(group: type, name: str, **default: Any) -> Any:
    """`group`'s field `name` (its help text, and its default unless `default=` is given) for a command config
    that needs the same knob with another default (the template a command's job implies)."""
    f = next(f for f in dataclasses.fields(group) if f.name == name)
    if not default:
        default = {"default": f.default} if f.default is not dataclasses.MISSING else {"default_factory": f.default_factory}
    return field(metadata=f.metadata, **default)


def _positive(obj: Any, *names: str, allow_none: bool = False) -> None:
    for name in names:
        value = getattr(obj, name)
        if value is None and allow_none:
            continue
        if value is None or value < 1:
            raise ConfigError(f"{name} must be >= 1{', or none' if allow_none else ''}, got {value!r}")


def _choice(obj: Any, name: str, allowed: tuple) -> None:
    value = getattr(obj, name)
    if value not in allowed:
        raise ConfigError(f"{name}={value!r}: choose one of {', '.join(map(str, allowed))}")


DTYPES = ("auto", "bfloat16", "float16", "float32")
VLLM_DTYPES = ("match", *DTYPES)  # match: the dtype the trainer holds the policy in (zero.vllm_compat.engine_dtype)
TINY = "builtin:tiny"  # the one built-in model (zero.tiny)
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
ANSWER_REGIONS = (None, *extract.ANSWER_REGIONS)  # None: the template's own


@dataclass
class ModelArgs(Group):
    """The model a command loads (every command)."""

    model_name_or_path: str = _help(
        "Hub id (Qwen/Qwen2.5-1.5B), a local checkpoint directory (a zero.sft or zero.train output), or builtin:tiny "
        "(a ~1M-parameter Qwen2 model and tokenizer built in code, for CPU runs of zero.train and zero.sft).",
        default="builtin:tiny",
    )
    dtype: str = _help("Weights dtype: auto, bfloat16, float16 or float32.", default="auto")
    attn_implementation: str | None = _help("sdpa, eager, flash_attention_2; None lets transformers pick.", default=None)

    def __post_init__(self) -> None:
        super().__post_init__()
        _choice(self, "dtype", DTYPES)
        self.check_model()

    def check_model(self) -> None:
        """ConfigError unless `model_name_or_path` can name a model: builtin:tiny, a path that exists, or a hub id.
        Whether the hub holds that id is known only when it is loaded (zero.models.load_tokenizer, before anything
        is written).

        >>> ModelArgs(model_name_or_path="./no/such/dir")
        Traceback (most recent call last):
        ...
        zero.errors.ConfigError: model path './no/such/dir' does not exist: pass a checkpoint directory or a hub id like Qwen/Qwen2.5-1.5B
        """
        name = self.model_name_or_path
        if name.startswith("builtin:"):
            if name != TINY:
                raise ConfigError(f"unknown built-in model {name!r}: the built-in one is {TINY}")
        elif name and not Path(name).exists() and not HUB_ID.match(name):
            raise ConfigError(
                f"model path {name!r} does not exist: pass a checkpoint directory or a hub id like Qwen/Qwen2.5-1.5B"
            )


EMBEDDING_MODULES = ("embed_tokens", "lm_head")  # the two ends a tied-embedding model shares one matrix between


@dataclass
class LoraArgs(Group):
    """LoRA adapters instead of full fine-tuning (zero.train, zero.sft), on TRL's `ModelConfig` names; the
    `peft_config` is built by TRL's `get_peft_config` (zero.lora). The run's output directory holds the merged model
    (plain transformers, vLLM and zero.eval load it without peft) and the adapter in `adapter/`; checkpoints hold
    the adapter and its optimizer state."""

    use_peft: bool = _help("Train LoRA adapters (peft) instead of every weight.", default=False)
    lora_r: int = _help("LoRA rank (>= 1). LoRA Without Regret (Schulman et al. 2025): rank 1 matches full "
                        "fine-tuning in RL at ~10x its learning rate.", default=16)  # fmt: skip
    lora_alpha: int = _help("LoRA scaling numerator: the update is scaled by lora_alpha / lora_r.", default=32)
    lora_dropout: float = _help("Dropout on the adapter's input, in [0, 1).", default=0.05)
    lora_target_modules: list[str] | None = _help(
        "Modules that get adapters: names (q_proj, v_proj, ...) or all-linear (every linear layer but the output "
        "head); None: peft's default for the architecture (q_proj and v_proj on Llama and Qwen2). embed_tokens or "
        "lm_head on a tied-embedding model is refused (the merge would change both ends): untie it first.",
        default=None,
    )
    lora_modules_to_save: list[str] | None = _help(
        "Modules trained in full beside the adapters (and saved with them), e.g. embed_tokens of an untied model.",
        default=None,
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive(self, "lora_r", "lora_alpha")
        if not 0 <= self.lora_dropout < 1:
            raise ConfigError(f"lora_dropout must be in [0, 1), got {self.lora_dropout}")
        if self.use_peft and importlib.util.find_spec("peft") is None:  # finds the package, imports nothing
            raise ConfigError("use_peft=true but peft is not installed: pip install 'zero-r1[lora]' (or use_peft=false)")
        if self.lora_target_modules == []:
            raise ConfigError("lora_target_modules is empty: name modules (q_proj,v_proj), all-linear, or none for peft's default")


@dataclass
class DataArgs(Group):
    """Where the rows come from (zero.train's and zero.generate's problems, zero.sft's traces)."""

    dataset_name: str = _help(
        "Hub dataset id, a local .jsonl/.json/.parquet file (zero/datafiles/... also names the files zero ships), or "
        "builtin:arithmetic (generated problems, for CPU runs). zero.sft reads traces: a .jsonl written by "
        "zero.generate, or a hub dataset with the same columns.",
        default="builtin:arithmetic",
    )
    dataset_config: str | None = _help("Hub dataset config name (subset).", default=None)
    dataset_split: str = _help("Split to read.", default="train")

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.dataset_name:
            raise ConfigError("dataset_name is not set: pass a hub dataset id or a local file")


@dataclass
class ProblemArgs(DataArgs):
    """A problem set: where it is (`DataArgs`), and which columns hold the problem and its gold answer (zero.train,
    zero.generate)."""

    problem_field: str | None = _help("Column holding the problem; None: first of problem, question, prompt.", default=None)
    solution_field: str | None = _help(
        "Column holding the gold answer; None: first of answer, solution, final_answer, gold.", default=None
    )


@dataclass
class PromptArgs(Group):
    """How a problem becomes a prompt (every command)."""

    template: str = _help(
        "Prompt template (zero/templates.py): r1_zero, qwen_math_boxed, simplerl_abel, simplerl_qwen_boxed, chat, "
        "r1_distill. zero.sft renders it from "
        "each row's problem; there, none trains on each row's stored prompt (or its messages minus the final "
        "assistant turn) as it is.",
        default="r1_zero",
    )
    system_prompt: str | None = _help("System message for the chat templates.", default=None)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.template is not None:
            get_template(self.template)


@dataclass
class RewardArgs(Group):
    """How answers are read and graded (zero.train's rewards, zero.generate's verifier, zero.eval's scoring)."""

    answer_region: str | None = _help(
        "Where the final answer is read: answer_tag or boxed; None: the template's own.", default=None
    )
    reward_timeout_s: float = _help(
        "Hard deadline per answer for math-verify; an answer past it scores 0 (counted in rewards/timeouts).",
        default=DEFAULT_TIMEOUT_S,
    )
    reward_workers: int | None = _help(
        "Processes grading answers with math-verify, per training process; None: the node's cores divided among "
        "its training processes.",
        default=None,
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        _choice(self, "answer_region", ANSWER_REGIONS)
        if not self.reward_timeout_s > 0:
            raise ConfigError(f"reward_timeout_s must be > 0 (seconds per answer), got {self.reward_timeout_s}")
        _positive(self, "reward_workers", allow_none=True)


@dataclass
class TelemetryArgs(Group):
    """What the reasoning telemetry counts (zero.train's rollouts, zero.eval's samples)."""

    reflection_lexicon: list[str] | None = _help(
        "Reflection words/phrases counted per completion; None: zero.telemetry.reasoning.DEFAULT_REFLECTION_LEXICON.", default=None
    )


@dataclass
class LoggingArgs(Group):
    """Weights & Biases (zero.train; report_to must include wandb)."""

    wandb_project: str = _help("W&B project.", default="zero")
    wandb_table_every: int = _help("Log a W&B table of completions every N steps (>= 1).", default=10)

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive(self, "wandb_table_every")


@dataclass
class RunArgs(Group):
    """What happens to an output that already exists (every command)."""

    resume: str = _help(
        "auto: continue the run the output already holds (checkpoints, samples); never: refuse an existing one.",
        default="auto",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        _choice(self, "resume", ("auto", "never"))


@dataclass
class GenerationArgs(Group):
    """The sampling engine of zero.eval and zero.generate: vLLM or Hugging Face `generate` (zero.sampling)."""

    backend: str = _help(
        "auto (vLLM when installed and a GPU is present, else hf), vllm or hf (transformers generate).", default="auto"
    )
    batch_size: int = _help("hf backend: sequences generated together.", default=8)
    vllm_gpu_memory_utilization: float = _help("vllm: share of accelerator memory for weights and KV cache.",
                                               default=0.9)  # fmt: skip
    vllm_max_model_length: int | None = _help(
        "vllm: context length; None: zero.eval's longest prompt + max_tokens, zero.generate's model's own.", default=None
    )
    vllm_tensor_parallel_size: int = _help("vllm: GPUs one model is split over.", default=1)

    def __post_init__(self) -> None:
        super().__post_init__()
        _choice(self, "backend", ("auto", "vllm", "hf"))
        _positive(self, "batch_size", "vllm_tensor_parallel_size")
        _positive(self, "vllm_max_model_length", allow_none=True)
        if not 0 < self.vllm_gpu_memory_utilization <= 1:
            raise ConfigError(f"vllm_gpu_memory_utilization must be in (0, 1], got {self.vllm_gpu_memory_utilization}")
        if self.backend == "vllm" and importlib.util.find_spec("vllm") is None:  # finds the package, imports nothing
            raise ConfigError("backend=vllm but vllm is not installed: pip install 'zero-r1[vllm]' (or backend=hf)")


@dataclass
class ColocateArgs(Group):
    """The vLLM engine TRL builds inside the training process (zero.train with use_vllm=true, vllm_mode=colocate),
    where TRL 1.16 has no knob: applied by zero.vllm_compat.prepare."""

    vllm_dtype: str = _help(
        "vLLM dtype in colocate mode: match (the policy's, exact log-probs), auto (TRL's: bf16 for fp32), bfloat16, "
        "float16, float32. Server mode: trl vllm-serve --dtype",
        default="match",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        _choice(self, "vllm_dtype", VLLM_DTYPES)


@dataclass
class TinyArgs(Group):
    """The generated problem set `dataset_name=builtin:arithmetic` names (zero.tiny; zero.train, zero.generate)."""

    tiny_num_problems: int = _help("builtin:arithmetic: number of generated problems.", default=2000)
    tiny_max_operand: int = _help(
        "builtin:arithmetic: chains draw their operations from +1..+N and *2..*N (N >= 3).", default=5
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive(self, "tiny_num_problems")
        if self.tiny_max_operand < 3:
            raise ConfigError(f"tiny_max_operand must be >= 3 (a chain draws 4 distinct operations), "
                              f"got {self.tiny_max_operand!r}")


@dataclass
class BenchmarkArgs(Group):
    """Which benchmarks, and how they are sampled and read (zero.eval, and zero.train's `eval` group)."""

    benchmarks: list[str] = _help(
        "Benchmarks by name (aime24, amc23, gsm8k, math500, minerva, olympiadbench; zero/datafiles/benchmarks) "
        "or paths to .jsonl files with problem and answer fields.",
        default_factory=lambda: ["math500"],
    )
    limit: int | None = _help("Evaluate only the first N problems of each benchmark (None: all).", default=None)
    n: int = _help("Samples per problem; pass@1 is their mean correctness.", default=1)
    ks: list[int] | None = _help("k of pass@k and maj@k; None: 1, 2, 4, ... below n, and n.", default=None)
    think_prefix: str | None = _help(
        'Text forced at the start of the response ("<think>\\n", DeepSeek\'s advice for R1 models); "" for none; '
        "None: <think>\\n for r1_distill, none for the other templates. Not added twice when the chat template "
        "already ends with it.",
        default=None,
    )
    temperature: float = _help("Sampling temperature (DeepSeek: 0.6 for R1 models; 0 is greedy).", default=0.6)
    top_p: float = _help("Nucleus sampling mass (DeepSeek: 0.95).", default=0.95)
    max_tokens: int = _help("Most tokens generated per sample (DeepSeek: 32768).", default=32768)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.benchmarks:
            raise ConfigError("benchmarks is empty: name at least one (gsm8k, math500, ...)")
        _positive(self, "n", "max_tokens")
        _positive(self, "limit", allow_none=True)
        bad_k = [k for k in self.ks or [] if not 1 <= k <= self.n]
        if bad_k:
            raise ConfigError(f"ks {bad_k} out of range: each k must be in 1..n (n={self.n}); raise n or drop them")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ConfigError(f"need temperature >= 0 and 0 < top_p <= 1, got {self.temperature}, {self.top_p}")


@dataclass
class TrainingEvalArgs(BenchmarkArgs):
    """zero.train's `eval` group: zero.eval's benchmark settings on the live policy (HF generation), logged under
    eval/... . Set as `eval.KEY` on the command line, or as a mapping under `eval:` in a recipe."""

    every: int = _help("Evaluate every N steps and at the last step (0: never).", default=0)
    batch_size: int = reuse(GenerationArgs, "batch_size")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.every < 0:
            raise ConfigError(f"eval.every must be >= 0 (0: never), got {self.every}")
        _positive(self, "batch_size")


@dataclass
class CurriculumArgs(Group):
    """Which problems zero.train samples: an offline pass-rate band (open-r1's filter) and the online curriculum
    (zero/curriculum.py) that sets aside problems whose recent groups all scored alike."""

    pass_rate_file: str | None = _help(
        "A .jsonl of pass rates per problem (prompt_id, pass_rate), written by python -m zero.pass_rate; "
        "dataset_pass_rate keeps problems by it.",
        default=None,
    )
    dataset_pass_rate: list[float] | None = _help(
        "[lo, hi]: keep only problems whose pass rate in pass_rate_file is in lo..hi (open-r1: [0.1, 0.9]); "
        "None: every problem.",
        default=None,
    )
    curriculum_solved_groups: int = _help(
        "Set a problem aside once its last N groups were all right (every completion correct); 0: never.", default=0
    )
    curriculum_failed_groups: int = _help(
        "Set a problem aside once its last N groups were all wrong; 0: never.", default=0
    )
    curriculum_retire_steps: int = _help("Steps a problem stays set aside before it returns.", default=20)

    def __post_init__(self) -> None:
        super().__post_init__()
        if (self.pass_rate_file is None) != (self.dataset_pass_rate is None):
            raise ConfigError("pass_rate_file and dataset_pass_rate go together: set both (a file from "
                              "python -m zero.pass_rate and a band such as [0.1, 0.9]) or neither")
        if self.dataset_pass_rate is not None:
            band = self.dataset_pass_rate
            if len(band) != 2 or not 0.0 <= band[0] <= band[1] <= 1.0:
                raise ConfigError(f"dataset_pass_rate must be [lo, hi] with 0 <= lo <= hi <= 1, got {band}")
            if not Path(self.pass_rate_file).is_file():
                raise ConfigError(f"pass_rate_file {self.pass_rate_file!r} does not exist: write it with "
                                  "python -m zero.pass_rate, or drop dataset_pass_rate")
        for name in ("curriculum_solved_groups", "curriculum_failed_groups"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0 (0: off), got {getattr(self, name)}")
        _positive(self, "curriculum_retire_steps")

    @property
    def curriculum_on(self) -> bool:
        return bool(self.curriculum_solved_groups or self.curriculum_failed_groups)
