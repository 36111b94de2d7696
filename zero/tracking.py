"""Weights & Biases without surprises: offline when there is no key or no network, never a login prompt or a
hang, the run inside `output_dir/wandb`, and a resumed run continuing the same W&B run."""

from __future__ import annotations

import netrc
import os
import socket
import uuid
from pathlib import Path
from urllib.parse import urlparse

RUN_ID_FILE = "wandb_run_id"


def has_credentials() -> bool:
    """True when wandb would find an API key (environment or ~/.netrc) without prompting."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or "api.wandb.ai"
    try:
        return netrc.netrc().authenticators(host) is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


def reachable(timeout_s: float = 3.0) -> bool:
    """Whether the W&B server accepts a TCP connection within `timeout_s`."""
    url = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai"))
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "api.wandb.ai", port), timeout=timeout_s):
            return True
    except OSError:
        return False


def setup_wandb(output_dir: str | Path, project: str) -> str:
    """Set the WANDB_* environment for transformers' WandbCallback; return the mode chosen (online/offline/...).

    An explicit WANDB_MODE is respected. The run id is kept in `output_dir` so that a resumed run appends to the
    same W&B run instead of starting a second one.
    """
    output_dir = Path(output_dir)
    os.environ.setdefault("WANDB_PROJECT", project)
    os.environ.setdefault("WANDB_DIR", str(output_dir))
    os.environ.setdefault("WANDB_CONSOLE", "off")  # the trainer's own console output stays readable
    if "WANDB_MODE" not in os.environ:
        if not has_credentials():
            os.environ["WANDB_MODE"] = "offline"
            print("zero: no W&B API key found: logging offline to", output_dir / "wandb", "(wandb sync to upload)")
        elif not reachable():
            os.environ["WANDB_MODE"] = "offline"
            print("zero: W&B server unreachable: logging offline to", output_dir / "wandb")
    id_file = output_dir / RUN_ID_FILE
    if "WANDB_RUN_ID" not in os.environ:
        if not id_file.exists():
            id_file.write_text(uuid.uuid4().hex[:8])
        os.environ["WANDB_RUN_ID"] = id_file.read_text().strip()
        os.environ.setdefault("WANDB_RESUME", "allow")
    return os.environ.get("WANDB_MODE", "online")
