"""LiteLLM's own token counting kept out of a worker unless asked for (docs/adr/0016-lean-web-workers.md): model
servers report each call's tokens, and counting them again loads tiktoken's cl100k_base, 25 MB per worker.

:func:`configure_token_counting` is called when the Router is built. It never changes a count a server reports.
"""

from __future__ import annotations

import threading
from typing import Any


class DeferredEncoding:
    """LiteLLM's default encoding, loaded on first use. LiteLLM 1.106.2 hands the encoding to every provider call as
    an argument (``encoding=_get_encoding()`` in ``litellm.main``), which loads it whether or not the provider uses
    it; ``ollama_chat/`` does not. This stands in for it and loads the real one when something calls it."""

    def __init__(self) -> None:
        self._loaded: Any = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._loaded is not None

    def _encoding(self) -> Any:
        if self._loaded is None:
            with self._lock:
                if self._loaded is None:
                    from litellm._lazy_imports import get_default_encoding

                    self._loaded = get_default_encoding()
        return self._loaded

    def __copy__(self) -> DeferredEncoding:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> DeferredEncoding:
        return self  # an encoding is never changed: one is shared, as LiteLLM shares its own

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy, pickle and repr probes: not a use
            raise AttributeError(name)
        return getattr(self._encoding(), name)


def configure_token_counting(count_locally: bool) -> None:
    """LiteLLM counts a call's tokens itself only when ``count_locally`` (``OO_LLM_COUNT_TOKENS_LOCALLY``), and loads
    its default encoding only when something uses it.

    LiteLLM 1.106.2's ``ollama_chat/`` counts the prompt with tiktoken even when Ollama reports ``prompt_eval_count``
    (the count is the default argument of a ``dict.get``, evaluated first). With counting off its counter answers 0
    without a tokenizer: servers that report usage (Ollama, OpenAI-compatible ones, the local providers) keep their
    counts; one that reports none records 0 tokens."""
    import litellm
    import litellm.main

    litellm.disable_token_counter = not count_locally
    if "encoding" not in vars(litellm.main):  # never loaded: defer it (once loaded, it is paid for)
        litellm.main.encoding = DeferredEncoding()
