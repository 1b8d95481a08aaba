"""LiteLLM's Router with the alias layer's circuit breakers (:mod:`oo_app.llm.breaker`): a deployment whose call fails
as a server that is down fails opens its breaker, and while it is open the Router routes around it as around one of
its own cooldowns, so the alias's fallback answers at once, with no retry and no back-off (an alias without one, the
embedder, fails at once: its callers carry on without embeddings). Completions and embeddings alike.

LiteLLM decides its own cooldowns otherwise (``disable_cooldowns``: one policy, not two): its rules leave out refused
connections and timeouts the caller set, the two ways a dead model server fails (docs/adr/0012). Imports LiteLLM:
only :func:`oo_app.llm.router.get_router` imports this module.
"""

from __future__ import annotations

from typing import Any

import litellm
from litellm import Router

from oo_app.llm.breaker import Breakers, in_process


def server_down(error: BaseException) -> bool:
    """Whether ``error`` says the model server is down or drowning: refused or reset, no answer within the timeout,
    or a 5xx. Not a 4xx (the server answered; the request was wrong), not a rejected answer."""
    if isinstance(error, litellm.Timeout | litellm.APIConnectionError):
        return True
    status = getattr(error, "status_code", None)
    return isinstance(status, int) and status >= 500


def failure_kind(error: BaseException) -> str:
    """The failure as /health names it: the error's class and HTTP status, never its message (it may hold a URL)."""
    status = getattr(error, "status_code", None)
    return f"{type(error).__name__} ({status})" if isinstance(status, int) else type(error).__name__


class BreakingRouter(Router):
    """A Router whose remote deployments are kept out of routing while their breaker is open, and probed one call at a
    time once it is half-open (:class:`~oo_app.llm.breaker.Breakers`)."""

    def __init__(self, *, breakers: Breakers, **kwargs: Any) -> None:
        super().__init__(disable_cooldowns=True, **kwargs)
        self.breakers = breakers

    def _filter_cooldown_deployments(
        self, healthy_deployments: list[dict], cooldown_deployments: list[str]
    ) -> list[dict]:
        admitted = []
        for deployment in super()._filter_cooldown_deployments(healthy_deployments, cooldown_deployments):
            model_id = deployment["model_info"]["id"]
            shut_s = None if in_process(deployment["litellm_params"]["model"]) else self.breakers.shut_for(model_id)
            if shut_s is None:
                admitted.append(deployment)
            else:
                # LiteLLM's own cooldown list too: its retry logic then sees no healthy deployment and falls back at
                # once instead of sleeping its back-off first.
                self._cool(model_id, shut_s, reason="its breaker is open")
        return admitted

    def _completion(self, model: str, messages: list[dict[str, str]], **kwargs: Any) -> Any:
        try:
            response = super()._completion(model, messages, **kwargs)
        except Exception as error:
            self._failed(error)
            raise
        self._answered(response)
        return response

    async def _acompletion(self, model: str, messages: list[dict[str, str]], **kwargs: Any) -> Any:
        try:
            response = await super()._acompletion(model, messages, **kwargs)
        except Exception as error:
            self._failed(error)
            raise
        self._answered(response)
        return response

    def _embedding(self, input: str | list, model: str, **kwargs: Any) -> Any:
        try:
            response = super()._embedding(input, model, **kwargs)
        except Exception as error:
            self._failed(error)
            raise
        self._answered(response)
        return response

    async def _aembedding(self, input: str | list, model: str, **kwargs: Any) -> Any:
        try:
            response = await super()._aembedding(input, model, **kwargs)
        except Exception as error:
            self._failed(error)
            raise
        self._answered(response)
        return response

    def _failed(self, error: Exception) -> None:
        # A completion stamps the deployment that failed as ``failed_deployment_id``; an embedding only as
        # ``retry_skip_deployment_id`` (LiteLLM 1.106.2's ``_embedding``), the same id.
        model_id = getattr(error, "failed_deployment_id", None) or getattr(error, "retry_skip_deployment_id", None)
        deployment = self.get_deployment(model_id=model_id) if model_id else None
        if deployment is None or in_process(deployment.litellm_params.model):
            return
        if server_down(error):
            self._cool(model_id, self.breakers.failed(model_id, failure_kind(error)), reason=failure_kind(error))
        else:
            self.breakers.answered(model_id)

    def _answered(self, response: Any) -> None:
        model_id = (getattr(response, "_hidden_params", None) or {}).get("model_id")
        if model_id:
            self.breakers.answered(str(model_id))

    def _cool(self, model_id: str, seconds: float, reason: str) -> None:
        if seconds > 0:
            self.cooldown_cache.add_deployment_to_cooldown(
                model_id=model_id, original_exception=RuntimeError(reason), exception_status=503, cooldown_time=seconds
            )
