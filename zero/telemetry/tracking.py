"""Weights & Biases without surprises: offline when there is no key, no network, a server that does not answer,
an HTTP error or a refused key; never a login prompt, a hang or a crash, the run inside `output_dir/wandb`, and a
resumed run continuing the same W&B run.

The check is made before anything is trained (`setup_wandb`, called by zero.train before the cold start): one
authorised GraphQL request (`viewer`) with a hard deadline, then `wandb.init` itself, which falls back to offline
if it still fails. transformers' WandbCallback then reuses that run (it calls `wandb.init` only when
`wandb.run` is None).
"""

from __future__ import annotations

import base64
import json
import netrc
import os
import threading
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlparse

RUN_ID_FILE = "wandb_run_id"
PROBE_DEADLINE_S = 8.0  # the whole online check, connect to last byte; wandb.init gets INIT_TIMEOUT_S more
INIT_TIMEOUT_S = 10


def base_url() -> str:
    return os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai").rstrip("/")


def api_key() -> str | None:
    """The API key wandb would use without prompting (environment, then ~/.netrc), or None."""
    if os.environ.get("WANDB_API_KEY"):
        return os.environ["WANDB_API_KEY"]
    host = urlparse(base_url()).hostname or "api.wandb.ai"
    try:
        auth = netrc.netrc().authenticators(host)
    except (FileNotFoundError, netrc.NetrcParseError):
        return None
    return auth[2] if auth else None


def _viewer(key: str, timeout_s: float) -> str | None:
    body = json.dumps({"query": "query Viewer { viewer { id } }"}).encode()
    auth = base64.b64encode(f"api:{key}".encode()).decode()
    request = urllib.request.Request(
        base_url() + "/graphql", data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Basic {auth}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            payload = json.loads(response.read(1 << 20) or b"{}")
    except urllib.error.HTTPError as e:
        return "the API key was refused" if e.code in (401, 403) else f"the server answered HTTP {e.code}"
    except (OSError, ValueError) as e:  # URLError, timeouts and resets are OSErrors; a non-JSON body is ValueError
        reason = getattr(e, "reason", e)
        if isinstance(reason, TimeoutError):  # socket.timeout: the same verdict as `probe`'s join, which it can beat
            return f"the server did not answer within {timeout_s:.0f} s"
        return f"the server is unreachable ({type(reason).__name__}: {str(reason)[:80]})"
    if not isinstance(payload, dict) or not (payload.get("data") or {}).get("viewer"):
        return "the API key was refused"
    return None


def probe(deadline_s: float = PROBE_DEADLINE_S) -> str | None:
    """None when the W&B server answers an authorised request within `deadline_s`, else why not (one phrase).

    The request runs in a daemon thread joined with the deadline, so a server that accepts the connection and
    then answers byte by byte (or never) cannot hold the run longer than that.
    """
    key = api_key()
    if key is None:
        return "no W&B API key found"
    result: list[str | None] = []
    worker = threading.Thread(target=lambda: result.append(_viewer(key, deadline_s)), daemon=True)
    worker.start()
    worker.join(deadline_s)
    if not result:
        return f"the server did not answer within {deadline_s:.0f} s"
    return result[0]


def setup_wandb(output_dir: str | Path, project: str) -> str:
    """Start the W&B run (online when the server answers and the key is accepted, else offline); return the mode.

    An explicit WANDB_MODE is respected. The run id is kept in `output_dir` so that a resumed run appends to the
    same W&B run instead of starting a second one. Only the main process (RANK 0) starts a run, as
    transformers' WandbCallback logs only there.
    """
    output_dir = Path(output_dir)
    os.environ.setdefault("WANDB_PROJECT", project)
    os.environ.setdefault("WANDB_DIR", str(output_dir))
    os.environ.setdefault("WANDB_CONSOLE", "off")  # the trainer's own console output stays readable
    os.environ.setdefault("WANDB_INIT_TIMEOUT", str(INIT_TIMEOUT_S))
    if "WANDB_MODE" not in os.environ:
        reason = probe(PROBE_DEADLINE_S)
        if reason is not None:
            os.environ["WANDB_MODE"] = "offline"
            print(f"zero: W&B: {reason}: logging offline to {output_dir / 'wandb'} (wandb sync uploads it later)")
    id_file = output_dir / RUN_ID_FILE
    if "WANDB_RUN_ID" not in os.environ:
        if not id_file.exists():
            id_file.write_text(uuid.uuid4().hex[:8])
        os.environ["WANDB_RUN_ID"] = id_file.read_text().strip()
        os.environ.setdefault("WANDB_RESUME", "allow")
    if os.environ.get("RANK", "0") == "0" and os.environ.get("WANDB_MODE") != "disabled":
        start_run()
    return os.environ.get("WANDB_MODE", "online")


def start_run() -> None:
    """`wandb.init` from the WANDB_* environment; on any failure, one line and an offline run instead."""
    import wandb

    if wandb.run is not None:
        return
    try:
        wandb.init(settings=wandb.Settings(init_timeout=float(os.environ["WANDB_INIT_TIMEOUT"])))
    except Exception as e:  # wandb raises CommError, UsageError, AuthenticationError, TimeoutError, ...
        if os.environ.get("WANDB_MODE") == "offline":
            raise
        wandb.teardown()
        os.environ["WANDB_MODE"] = "offline"
        print(f"zero: W&B: wandb.init failed ({type(e).__name__}: {str(e).splitlines()[0][:120]}): logging offline")
        wandb.init(mode="offline")
