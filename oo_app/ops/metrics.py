"""Prometheus metrics of oO (prometheus_client): what the app counts, and what one scrape of GET /metrics reports.

Counted where it happens: tips served and their latency (``recommend()``), LLM requests an alias's own model did not
answer and the fallbacks that answered instead (the orchestrator and LiteLLM's Router), reactions committed to the
database (whichever path wrote them). Agent freshness is read from the database at scrape time. With the environment
variable ``PROMETHEUS_MULTIPROC_DIR`` set, every process (backend workers, ``oo worker``) writes its counters into
that directory and a scrape of any one of them sums them all; counting never raises into the code that counts.
"""

from __future__ import annotations

import atexit
import hmac
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from sqlalchemy.orm import Session, SessionTransaction

from oo_app.models import Event, Reaction
from oo_app.settings import Settings

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
REJECTED = "rejected"  # the kind of an LLM answer that arrived but broke the tip contract
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def multiprocess_dir() -> Path | None:
    """The directory every process writes its counters into, or None (each process reports its own).

    prometheus_client reads ``PROMETHEUS_MULTIPROC_DIR`` from the process environment when it is first imported, so
    the variable must be set before the process starts (a line in ``.env`` would not reach it): that is why it is
    read here and not from the settings.
    """
    value = os.environ.get(MULTIPROC_ENV)
    return Path(value) if value else None


_shared = multiprocess_dir()
if _shared is not None:
    _shared.mkdir(parents=True, exist_ok=True)  # prometheus_client writes into it as soon as a metric exists
    atexit.register(mark_process_dead, os.getpid(), str(_shared))

REGISTRY = CollectorRegistry()
if _shared is None:
    ProcessCollector(registry=REGISTRY)  # memory and CPU of this process; meaningless summed over processes

TIPS_SERVED = Counter(
    "oo_tips_served",
    "Tips recommend() wrote for a person to see, by the model that wrote them and the policy.",
    ["writer", "policy"],
    registry=REGISTRY,
)
TIP_LATENCY = Histogram(
    "oo_tip_latency_seconds",
    "Time recommend() took to serve one tip: snippets, prompt, model (or its fallback), checks, logging.",
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
LLM_ERRORS = Counter(
    "oo_llm_errors",
    "Requests to an LLM alias that its own model did not answer usably (after LiteLLM's retries), by alias and kind: "
    "the exception's class (APIConnectionError, Timeout, RateLimitError, ...) or 'rejected' (the answer broke the "
    "tip contract).",
    ["alias", "kind"],
    registry=REGISTRY,
)
LLM_FALLBACKS = Counter(
    "oo_llm_fallbacks",
    "Requests to an LLM alias answered by its fallback instead: the Router's '<alias>-fallback' or the app's "
    "rule-based composer.",
    ["alias"],
    registry=REGISTRY,
)
REACTIONS = Counter(
    "oo_reactions",
    "Reactions to tips committed to the database, by reaction.",
    ["reaction"],
    registry=REGISTRY,
)


def tip_served(writer: str, policy: str, seconds: float) -> None:
    """Count one tip served by ``recommend()``, written by ``writer`` (the model) for ``policy``, in ``seconds``."""
    TIPS_SERVED.labels(writer, policy).inc()
    TIP_LATENCY.observe(seconds)


def llm_failed(alias: str, kind: str) -> None:
    """Count one request to ``alias`` that its model did not answer usably; ``kind`` is an exception class name or
    :data:`REJECTED`."""
    LLM_ERRORS.labels(alias, kind).inc()


def llm_fell_back(alias: str) -> None:
    """Count one request to ``alias`` answered by a fallback."""
    LLM_FALLBACKS.labels(alias).inc()


# LLM: the Router's own fallbacks happen inside LiteLLM, so a callback of LiteLLM's counts them.

_LLM_CALLBACK_MARK = "oo_counts_fallbacks"


def count_router_fallbacks() -> None:
    """Register, once per process, the LiteLLM callback that counts a Router fallback (``X`` failed, ``X-fallback``
    answered) as an error of ``X`` and a fallback of ``X``. A request the Router could not answer at all raises to
    its caller, which counts it (:func:`llm_failed`), so no request is counted twice. Imports LiteLLM: call it where
    the Router is built."""
    import litellm
    from litellm.integrations.custom_logger import CustomLogger

    manager = litellm.logging_callback_manager
    if any(getattr(callback, _LLM_CALLBACK_MARK, False) for callback in manager.get_all_callbacks()):
        return

    class RouterFallbacks(CustomLogger):
        oo_counts_fallbacks = True

        async def log_success_fallback_event(
            self, original_model_group: str, kwargs: dict, original_exception: Exception
        ) -> None:
            llm_failed(original_model_group, type(original_exception).__name__)
            llm_fell_back(original_model_group)

    # The failure list only: LiteLLM then schedules no success logging for it on every call.
    manager.add_litellm_failure_callback(RouterFallbacks())


# Reactions: counted when the event that records one is committed, so the count is the durable one, whichever path
# (API, page, push action) wrote it, and a rolled-back reaction is never counted. A reaction's event names its tip;
# imported histories (demo, personas) have reaction events without one and are not counted.

_PENDING_REACTIONS = "oo_pending_reactions"
_REACTION_OF_EVENT = {reaction.event_type.value: reaction.value for reaction in Reaction}


def _note_reactions(session: Session, _flush_context: Any) -> None:
    reactions = [
        _REACTION_OF_EVENT[item.type]
        for item in session.new
        if isinstance(item, Event) and item.type in _REACTION_OF_EVENT and (item.payload or {}).get("tip_id")
    ]
    if reactions:
        session.info.setdefault(_PENDING_REACTIONS, []).extend(reactions)


def _count_committed_reactions(session: Session) -> None:
    for reaction in session.info.pop(_PENDING_REACTIONS, []):
        REACTIONS.labels(reaction).inc()


def _forget_reactions(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the whole transaction ended (rolled back or closed): nothing of it was kept
        session.info.pop(_PENDING_REACTIONS, None)


sa.event.listen(Session, "after_flush", _note_reactions)
sa.event.listen(Session, "after_commit", _count_committed_reactions)
sa.event.listen(Session, "after_transaction_end", _forget_reactions)


# Agent freshness: read from the database by the process that is scraped.


class AgentFreshness:
    """A collector: per registered agent, the share of eligible persons with a fresh output and the pairs by state.

    Reads :func:`agents.freshness.agent_freshness` (a few statements per 500 persons a scrape; no pandas, no hub). A
    database error leaves these metrics out of that scrape (logged) instead of failing it.
    """

    def collect(self) -> Iterator[Metric]:
        from sqlmodel import Session as ModelSession

        from agents.freshness import agent_freshness
        from oo_app.db import get_engine

        try:
            with ModelSession(get_engine()) as session:
                table = agent_freshness(session, datetime.now(UTC))
        except Exception as error:
            log.warning("agent freshness left out of this scrape: %s: %s", type(error).__name__, error)
            return
        ratio = GaugeMetricFamily(
            "oo_agent_outputs_fresh_ratio",
            "Share of the persons an agent may speak for whose newest output is of its current version and younger "
            "than its TTL (1 when it speaks for nobody).",
            labels=["agent"],
        )
        pairs = GaugeMetricFamily(
            "oo_agent_outputs_pairs",
            "(person, eligible agent) pairs by the state of their newest output: fresh, stale (expired or of an older "
            "version) or missing.",
            labels=["agent", "state"],
        )
        for row in table:
            ratio.add_metric([row.agent], float(row.freshness))
            for state in ("fresh", "stale", "missing"):
                pairs.add_metric([row.agent, state], float(getattr(row, state)))
        yield ratio
        yield pairs


def scrape_registry() -> CollectorRegistry:
    """What one scrape reports: the counters of every process (multiprocess mode) or of this one, and freshness."""
    registry = CollectorRegistry()
    shared = multiprocess_dir()
    if shared is not None:
        MultiProcessCollector(registry, path=str(shared))
    else:
        registry.register(REGISTRY)  # a registry is a collector of its own metrics
    registry.register(AgentFreshness())
    return registry


# Who may scrape: the bearer of OO_METRICS_TOKEN; without one, loopback clients outside production. Production needs
# the token: behind a reverse proxy on the same host every request would look like loopback.

_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def scrape_refusal(settings: Settings, authorization: str | None, client: Any) -> tuple[int, str] | None:
    """None when the request may read /metrics, else (HTTP status, reason). ``client`` is the request's (host, port)
    peer; the token is compared in constant time."""
    token = settings.metrics_token
    if token is not None:
        scheme, _, offered = (authorization or "").partition(" ")
        expected = token.get_secret_value().encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(offered.strip().encode(), expected):
            return 401, "send the metrics token: Authorization: Bearer <OO_METRICS_TOKEN>"
        return None
    if settings.env == "production":
        return 403, "metrics are closed: set OO_METRICS_TOKEN and scrape with it"
    host = getattr(client, "host", None)
    if host not in _LOOPBACK:
        return 403, "metrics answer loopback clients only unless OO_METRICS_TOKEN is set"
    return None
