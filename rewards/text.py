"""The text of a completion, whether TRL passes it as a string or as chat messages.

>>> completion_text("<think> a </think>")
'<think> a </think>'
>>> completion_text([{"role": "assistant", "content": "<answer> 7 </answer>"}])
'<answer> 7 </answer>'
"""

from __future__ import annotations


def completion_text(completion: str | list[dict[str, str]]) -> str:
    """A string as is; for chat messages, the assistant messages' contents joined in order."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and all(isinstance(m, dict) and "content" in m for m in completion):
        return "".join(str(m["content"]) for m in completion if m.get("role", "assistant") == "assistant")
    raise TypeError(
        "a completion must be a string or a list of chat messages like "
        f"[{{'role': 'assistant', 'content': '...'}}], got {type(completion).__name__}: {str(completion)[:80]!r}"
    )
