"""Prompt templates rendered exactly. Run: python -m pytest tests/test_templates.py"""

import pytest

from zero.templates import BOXED_INSTRUCTION, TEMPLATES, get_template, render


def test_r1_zero_is_the_papers_template_verbatim():
    expected = (
        "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. "
        "The assistant first thinks about the reasoning process in the mind and then provides the user with the "
        "answer. The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> "
        "tags, respectively, i.e., <think> reasoning process here </think> <answer> answer here </answer>. "
        "User: What is 1 + 1?. Assistant:"
    )
    assert render("r1_zero", "  What is 1 + 1?\n") == expected


def test_qwen_math_boxed():
    assert render("qwen_math_boxed", "Find x.") == (
        "<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n"
        "<|im_start|>user\nFind x.<|im_end|>\n<|im_start|>assistant\n"
    )


def test_chat_templates_are_messages():
    assert render("chat", "Find x.", system_prompt="Be brief.") == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Find x."},
    ]
    assert render("r1_distill", "Find x.") == [{"role": "user", "content": "Find x.\n" + BOXED_INSTRUCTION}]


@pytest.mark.parametrize("name, region", [("r1_zero", "answer_tag"), ("qwen_math_boxed", "boxed"),
                                          ("chat", "answer_tag"), ("r1_distill", "boxed")])
def test_answer_regions(name, region):
    assert TEMPLATES[name].answer_region == region


def test_unknown_template_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown template 'r1': choose one of r1_zero, qwen_math_boxed, chat"):
        get_template("r1")


# hkust-nlp/simpleRL-reason examples/simplelr_math_eval/utils.py, PROMPT_TEMPLATES["abel"] and ["qwen-boxed"][0],
# as their code fills them: input_template.format(input=question) (so "\\boxed{{}}" there renders "\boxed{}").
SIMPLERL_RENDERED = {
    "simplerl_abel": "Question:\nFind x.\nAnswer:\nLet's think step by step.\n",
    "simplerl_qwen_boxed": (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nFind x.\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n"
        "<|im_start|>assistant\n"
    ),
}


@pytest.mark.parametrize("name", sorted(SIMPLERL_RENDERED))
def test_simplerl_zoo_templates_render_as_their_repo_does(name):
    assert render(name, "Find x.") == SIMPLERL_RENDERED[name]
    assert TEMPLATES[name].answer_region == "boxed"


def test_simplerl_qwen_boxed_is_not_dr_grpos_qwen_math_template():
    assert render("simplerl_qwen_boxed", "Find x.") != render("qwen_math_boxed", "Find x.")
