"""The one wiring point (cosmicpython's ``bootstrap.py``): hands the LLM router the custom providers of the
recommender and the hooks of operations (the fallback counter, the adoption of LiteLLM's loggers).

Called at start by the app, the CLI, the worker and the hub. Idempotent and cheap: it imports neither LiteLLM nor
MLflow, torch or llama.cpp; the router builds the providers and runs the hooks when it is first built.
"""

from __future__ import annotations

from oo_app.llm import router
from oo_app.ops import logs, metrics
from oo_app.recommender import composer, judge, local_writer


def bootstrap() -> None:
    """Wire the LLM router: the ``oo-rules`` provider (composer and guardrail checks), the ``oo-local`` provider
    (in-process models), then, each time the Router is built, the fallback counter and log adoption (LiteLLM brings
    its own log handler)."""
    router.wire(
        providers=[composer.rules_provider(checks=judge.checks_answer), local_writer.local_provider()],
        hooks=[metrics.count_router_fallbacks, logs.adopt_library_loggers],
    )
