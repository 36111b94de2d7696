"""The GPU recipes as far as a CPU can check them: they parse, they configure TRL as their headers say, and every
published number a header quotes is in README.md's "Published results we aim at". Run:
python -m pytest tests/test_recipes.py"""

from __future__ import annotations

import pytest

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
