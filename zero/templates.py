"""Prompt templates, selected by name.

Each template turns a problem statement into what the policy sees, and names the region of the completion
where the final answer is read (`answer_region`, passed to `rewards.accuracy_reward`).

>>> render("r1_zero", "What is 2 + 3?")[-48:]
'here </answer>. User: What is 2 + 3?. Assistant:'
>>> TEMPLATES["qwen_math_boxed"].answer_region
'boxed'
"""

from __future__ import annotations

from dataclasses import dataclass

from zero.errors import ConfigError

# DeepSeek-R1 paper (Guo et al. 2025), Table 1, verbatim: the template R1-Zero was trained with. The base model
# continues after "Assistant:"; nothing is prefilled, so the completion itself must open <think>.
R1_ZERO = (
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. "
    "The assistant first thinks about the reasoning process in the mind and then provides the user with the "
    "answer. The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> tags, "
    "respectively, i.e., <think> reasoning process here </think> <answer> answer here </answer>. "
    "User: {problem}. Assistant:"
)

# DeepSeek's recommended instruction for evaluating R1 models, also the Qwen2.5-Math instruction.
BOXED_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."

# Qwen2.5-Math's chat format written out as text, so it works on a base model without a chat template: the
# instruction is the system turn. Character for character Dr. GRPO's "qwen_math" template (Liu et al. 2025,
# sail-sg/understand-r1-zero train_zero_math.py), the prompt Oat-Zero is trained with.
QWEN_MATH_BOXED = (
    "<|im_start|>system\n" + BOXED_INSTRUCTION + "<|im_end|>\n"
    "<|im_start|>user\n{problem}<|im_end|>\n"
    "<|im_start|>assistant\n"
)

# SimpleRL-Zoo's two prompts (Zeng et al. 2025; hkust-nlp/simpleRL-reason, the "abel" and "qwen-boxed" entries of
# examples/simplelr_math_eval/utils.py; their data comes as simplelr_abel_* and simplelr_qwen_* sets).
# "abel", the simple one, asks for no answer format at all: their reward (verl/utils/reward_score/hf_math_verify.py)
# reads the last \boxed{} or, failing that, "the answer is ..." or the last number; ours reads the last \boxed{} only.
SIMPLERL_ABEL = "Question:\n{problem}\nAnswer:\nLet's think step by step.\n"
# "qwen-boxed": unlike QWEN_MATH_BOXED, a generic system turn and the boxed instruction after the problem.
SIMPLERL_QWEN_BOXED = (
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "<|im_start|>user\n{problem}\n" + BOXED_INSTRUCTION + "<|im_end|>\n"
    "<|im_start|>assistant\n"
)


@dataclass(frozen=True)
class Template:
    name: str
    answer_region: str  # one of rewards.extract.ANSWER_REGIONS
    conversational: bool  # True: the prompt is a list of chat messages, rendered by the tokenizer's template
    text: str = ""  # the format string of a plain-text template
    instruction: str = ""  # appended to the user turn of a conversational template
    help: str = ""


TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        Template("r1_zero", "answer_tag", False, text=R1_ZERO, help="R1-Zero prompt for raw base models"),
        Template(
            "qwen_math_boxed", "boxed", False, text=QWEN_MATH_BOXED, help="Qwen2.5-Math boxed prompt for base models"
        ),
        Template("chat", "answer_tag", True, help="the tokenizer's chat template, for cold-start SFT checkpoints"),
        Template(
            "r1_distill",
            "boxed",
            True,
            instruction="\n" + BOXED_INSTRUCTION,
            help="DeepSeek's evaluation prompt for R1 and R1-Distill models (chat template, boxed answer)",
        ),
        Template("simplerl_abel", "boxed", False, text=SIMPLERL_ABEL, help="SimpleRL-Zoo's simple prompt ('abel')"),
        Template(
            "simplerl_qwen_boxed", "boxed", False, text=SIMPLERL_QWEN_BOXED, help="SimpleRL-Zoo's 'qwen-boxed' prompt"
        ),
    )
}


def get_template(name: str) -> Template:
    """The template called `name`; a ConfigError (a ValueError) that lists the valid names otherwise."""
    try:
        return TEMPLATES[name]
    except KeyError:
        raise ConfigError(f"unknown template {name!r}: choose one of {', '.join(TEMPLATES)}") from None


def answer_region(template: str, override: str | None = None) -> str:
    """Where a run reads the final answer: `override` (a config's `answer_region`) when set, else the template's.

    >>> answer_region("qwen_math_boxed"), answer_region("qwen_math_boxed", "answer_tag")
    ('boxed', 'answer_tag')
    """
    return override or get_template(template).answer_region


def render(name: str, problem: str, system_prompt: str | None = None) -> str | list[dict[str, str]]:
    """The prompt for `problem`: a string for plain templates, chat messages for conversational ones.

    >>> render("chat", "1+1?")
    [{'role': 'user', 'content': '1+1?'}]
    >>> render("chat", "1+1?", system_prompt="Think first.")[0]
    {'role': 'system', 'content': 'Think first.'}
    """
    template = get_template(name)
    if not template.conversational:
        return template.text.replace("{problem}", problem.strip())  # not str.format: templates hold \\boxed{}
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return messages + [{"role": "user", "content": problem.strip() + template.instruction}]
