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
    from litellm import Router

# LiteLLM otherwise fetches its model cost map from the internet at import time.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_TELEMETRY", "False")

TIP_GENERATOR = "tip-generator"
COMPOSER_PROVIDER = "oo-rules"
COMPOSER_MODEL = f"{COMPOSER_PROVIDER}/composer"


def _composer_handler():
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


def register_local_providers() -> None:
    import litellm
    from litellm.utils import custom_llm_setup

    if COMPOSER_PROVIDER not in {entry["provider"] for entry in litellm.custom_provider_map}:
        litellm.custom_provider_map.append({"provider": COMPOSER_PROVIDER, "custom_handler": _composer_handler()})

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
