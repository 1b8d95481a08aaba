"""The process-wide LiteLLM Router, built from the alias table in settings and from the providers and hooks it is
given (:func:`wire`, called by :func:`oo_app.bootstrap.bootstrap`); :func:`embed` and :func:`for_person` over it.

Local providers (the rule-based composer, the local writer) are LiteLLM custom providers, so they answer offline,
exactly where a hosted model would. This module never imports the recommender or operations: they offer their
providers and hooks, the bootstrap hands them over.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from oo_app.llm.aliases import EMBEDDER
from oo_app.llm.breaker import CLOSED, Breakers, Reading, RedisStore, deployment_id, in_process, store_for
from oo_app.llm.token_counts import configure_token_counting
from oo_app.settings import Settings, get_settings

if TYPE_CHECKING:
    import litellm
    from litellm import CustomLLM

    from oo_app.llm.breaking_router import BreakingRouter


class RouterNotWired(RuntimeError):
    """The Router was asked for before :func:`oo_app.bootstrap.bootstrap` handed it its providers."""


@dataclass(frozen=True)
class Provider:
    """A LiteLLM custom provider: models named ``<name>/<model>`` are answered by the handler ``handler()`` builds
    (called when the Router is built, so that LiteLLM is imported only then)."""

    name: str
    handler: Callable[[], CustomLLM]


@dataclass(frozen=True)
class _Wiring:
    providers: tuple[Provider, ...]
    hooks: tuple[Callable[[], None], ...]


_wiring: _Wiring | None = None


def wire(providers: Sequence[Provider], hooks: Sequence[Callable[[], None]] = ()) -> None:
    """Hand the Router its custom ``providers`` and the ``hooks`` to run (in order, after LiteLLM is imported) each
    time it is built. Cheap: nothing is imported or built until :func:`get_router`."""
    global _wiring
    _wiring = _Wiring(tuple(providers), tuple(hooks))


def answer(model: str, content: str, prompt_tokens: int = 0, completion_tokens: int = 0) -> litellm.ModelResponse:
    """A chat completion as a custom provider returns it: ``content`` from ``model``, with its token usage."""
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


def register_providers(providers: Sequence[Provider]) -> None:
    """Register ``providers`` with LiteLLM, each name once per process."""
    import litellm
    from litellm.utils import custom_llm_setup

    registered = {entry["provider"] for entry in litellm.custom_provider_map}
    for provider in providers:
        if provider.name not in registered:
            litellm.custom_provider_map.append({"provider": provider.name, "custom_handler": provider.handler()})
            registered.add(provider.name)

    custom_llm_setup()


def model_list(aliases: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The alias table of settings in LiteLLM's ``model_list`` form (several deployments per alias allowed), each
    deployment with the id its breaker goes by (:func:`~oo_app.llm.breaker.deployment_id`)."""
    return [
        {"model_name": alias, "litellm_params": dict(params), "model_info": {"id": deployment_id(alias, params)}}
        for alias, deployments in aliases.items()
        for params in deployments
    ]


@lru_cache
def get_router() -> BreakingRouter:
    """The process-wide Router; an alias ``X`` with a companion ``X-fallback`` falls back to it on failure, at once
    while X's breaker is open (``OO_LLM_COOLDOWN_S``; shared through Redis when ``OO_REDIS_URL`` is set).

    Raises :class:`RouterNotWired` before :func:`wire` (every entry point calls :func:`oo_app.bootstrap.bootstrap`).
    """
    from oo_app.llm.breaking_router import BreakingRouter

    if _wiring is None:
        raise RouterNotWired("the LLM router has no providers yet: call oo_app.bootstrap.bootstrap() at start")
    settings = get_settings()
    register_providers(_wiring.providers)
    for hook in _wiring.hooks:
        hook()
    aliases = settings.alias_table
    fallbacks = [{alias: [f"{alias}-fallback"]} for alias in aliases if f"{alias}-fallback" in aliases]
    forget_earlier_routers()
    bound_module_level_timeouts(settings.llm_timeout_s)
    cap_cached_http_clients()
    configure_token_counting(settings.llm_count_tokens_locally)
    return BreakingRouter(
        breakers=breakers_for(settings),
        model_list=model_list(aliases),
        fallbacks=fallbacks,
        timeout=settings.llm_timeout_s,
        num_retries=settings.llm_retries,
    )


# LiteLLM's process-wide callback lists, to which every Router adds its bound methods.
_CALLBACK_LISTS = (
    "callbacks",
    "input_callback",
    "success_callback",
    "failure_callback",
    "_async_success_callback",
    "_async_failure_callback",
    "service_callback",
)


def forget_earlier_routers() -> None:
    """Take the callbacks of Routers built before out of LiteLLM's process-wide lists.

    A Router adds its bound methods to those lists and never removes them, and LiteLLM refuses to add to a list that
    holds 30 (with a warning): after 30 rebuilds (settings changed; the suite rebuilds per test) the next callback,
    MLflow's LiteLLM autolog among them, would be dropped and tip traces lose their LLM spans. Only the Router
    :func:`get_router` is about to build is live in a process, so its predecessors' callbacks are dead weight."""
    import litellm
    from litellm import Router

    for name in _CALLBACK_LISTS:
        entries = getattr(litellm, name, None)
        if isinstance(entries, list):
            entries[:] = [entry for entry in entries if not isinstance(getattr(entry, "__self__", None), Router)]


def bound_module_level_timeouts(timeout_s: float) -> None:
    """Give LiteLLM's module-level HTTP clients the alias timeout. Some providers ignore the Router's ``timeout`` and
    call through them (LiteLLM 1.106.2's ``ollama/`` embeddings), whose default is 6,000 s: an embedder slower than
    ``OO_LLM_TIMEOUT_S`` would hold its caller that long instead of failing and opening its breaker. LiteLLM builds
    the clients on first use from ``litellm.request_timeout``; a client built before with another is dropped."""
    import litellm

    litellm.request_timeout = timeout_s
    for name in ("module_level_client", "module_level_aclient"):
        client = vars(litellm).get(name)
        if client is not None and getattr(client, "timeout", timeout_s) != timeout_s:
            del vars(litellm)[name]  # rebuilt on next use, with the timeout


HTTP_CLIENTS_KEPT = 16


def cap_cached_http_clients(kept: int = HTTP_CLIENTS_KEPT) -> None:
    """Keep at most ``kept`` of LiteLLM's cached HTTP clients (200 by default). It keys them by the running event loop,
    and the Router's sync calls (the recommender's) each run in a new loop: every call made a client (an httpx pool,
    its TLS context, a kept-alive connection) that no later call could reuse, so a worker held 200 of them after 200
    tips (docs/adr/0016-lean-web-workers.md). Evicted clients are closed by LiteLLM after a grace period."""
    import litellm

    litellm.in_memory_llm_clients_cache.max_size_in_memory = kept


def breakers_for(settings: Settings) -> Breakers:
    """The breakers a Router of ``settings`` keeps: in Redis when there is one, else its own. A probe may take every
    try of a call (each within the timeout) and a margin before its lease is freed for another caller."""
    probe_s = settings.llm_timeout_s * (1 + settings.llm_retries) + 1.0
    return Breakers(store_for(settings.redis_url), cooldown_s=settings.llm_cooldown_s, probe_s=probe_s)


def breaker_readings(settings: Settings, alias: str) -> dict[str, Reading]:
    """Each remote deployment of ``alias`` by its model, with its breaker's state; cheap (no model is called, LiteLLM
    is not imported). The Router's breakers once it is built, else the shared ones in Redis; with neither, no call
    went out yet, so every breaker is closed. Raises when Redis does not answer."""
    remote = {
        deployment_id(alias, params): str(params.get("model"))
        for params in settings.alias_table.get(alias) or []
        if not in_process(str(params.get("model")))
    }
    if not remote or settings.llm_cooldown_s <= 0:
        return {}
    if get_router.cache_info().currsize:
        readings = get_router().breakers.readings(remote)
    elif settings.redis_url:
        store = RedisStore(settings.redis_url)
        try:
            readings = Breakers(store, settings.llm_cooldown_s, probe_s=0).readings(remote)
        finally:
            store.close()
    else:
        readings = {deployment: Reading(CLOSED) for deployment in remote}
    return {remote[deployment]: reading for deployment, reading in readings.items()}


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
