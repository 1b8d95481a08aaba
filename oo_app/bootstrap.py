"""The one wiring point (cosmicpython's ``bootstrap.py``): hands the LLM router the custom providers of the
recommender and the hooks of operations (the fallback counter, the adoption of LiteLLM's loggers), and the runner
where open tasks come from (:mod:`oo_app.integrations.open_tasks`), busy times (:mod:`oo_app.calendar.busy_cache`)
and the population prior (:mod:`oo_app.recommender.learning`), and how each calendar's access is revoked.

Called at start by the app, the CLI, the worker and the hub. Idempotent and cheap: it imports neither LiteLLM nor
MLflow, torch or llama.cpp; the router builds the providers and runs the hooks when it is first built.
"""

from __future__ import annotations

from agents import runner
from oo_app.calendar import busy_cache, google, sources
from oo_app.integrations import open_tasks, revocation
from oo_app.llm import router
from oo_app.ops import logs, metrics
from oo_app.recommender import composer, judge, learning, local_writer


def bootstrap() -> None:
    """Wire the LLM router: the ``oo-rules`` provider (composer and guardrail checks), the ``oo-local`` provider
    (in-process models), then, each time the Router is built, the fallback counter and log adoption (LiteLLM brings
    its own log handler)."""
    router.wire(
        providers=[composer.rules_provider(checks=judge.checks_answer), local_writer.local_provider()],
        hooks=[metrics.count_router_fallbacks, logs.adopt_library_loggers],
    )
    # Agents read open tasks through the runner; only the wiring point knows they come from Todoist.
    runner.provide_open_tasks(open_tasks.open_tasks)
    # Disconnection and account deletion revoke a calendar's access the way its kind needs.
    revocation.provide_revoker(sources.GOOGLE, google.revoke_google)
    revocation.provide_revoker(sources.CALDAV, revocation.forget_credentials)
    revocation.provide_revoker(sources.ICS, revocation.forget_credentials)
    # Busy times through the runner too: the calendar agent, push timing and snooze read them.
    runner.provide_busy(busy_cache.busy_of)
    # The learner agent starts a person from what works for most people: the population prior, through the runner.
    runner.provide_prior(learning.population_prior)
