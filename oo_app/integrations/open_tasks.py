"""A person's open Todoist tasks, on demand: fetched within a time budget, cached in this process a few minutes.

Contract of :func:`open_tasks`: for a person with the ``tasks`` consent and a connected Todoist, their open tasks
(title, project, and when each is due as Todoist states it, read on the person's clock only where it is used, so a
cached task stays true when their zone changes), read within :data:`BUDGET_S` over at most :data:`MAX_PAGES` pages; a
second call within :data:`CACHE_TTL_S` answers from memory. It never raises into the recommender: on a timeout or any
provider error it returns what is cached (or nothing) and logs one line. Open tasks are never written to the database,
and their titles (personal data) never reach a log. :func:`forget` drops a person's cached tasks at once: revoking
``tasks``, disconnecting Todoist and deleting the account call it.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from agents.base import OpenTask
from oo_app.integrations.errors import ProviderUnavailable
from oo_app.integrations.oauth import CONNECTED, IssuedTokens, ensure_fresh, todoist_provider
from oo_app.integrations.todoist import PROVIDER, todoist_due
from oo_app.integrations.todoist_api import TodoistAPI
from oo_app.integrations.vault import get_vault, read_tokens, store_tokens
from oo_app.models import Consent, Integration
from oo_app.settings import Settings, get_settings

log = logging.getLogger(__name__)

TASKS_CONSENT = "tasks"
BUDGET_S = 1.5  # the whole fetch, every page and the project names included
MAX_PAGES = 3  # of 200 tasks each
CACHE_TTL_S = 300.0
CACHE_SIZE = 1024  # people; the least recently fetched is dropped first
TITLE_CHARS = 60  # a title is cut to this: it travels in a one-line fact and a 140-character tip
PROJECT_CHARS = 40
# Quotes would let a title end its own quotation in the prompt and the tip: they are taken out of titles, all but the
# apostrophe inside a word ("Mom's").
_QUOTES = str.maketrans("", "", '"`\u201c\u201d\u201e\u00ab\u00bb')
_LONE_APOSTROPHE = re.compile("(?<!\\w)['\u2018\u2019]|['\u2018\u2019](?!\\w)")


class _Cache:
    """Per person: the tasks and when they were fetched (monotonic), at most ``size`` people; thread-safe."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[int, tuple[float, tuple[OpenTask, ...]]] = OrderedDict()

    def get(self, user_id: int, ttl_s: float) -> tuple[OpenTask, ...] | None:
        """The cached tasks fetched less than ``ttl_s`` ago, or None."""
        with self._lock:
            entry = self._entries.get(user_id)
            if entry is None or time.monotonic() - entry[0] >= ttl_s:
                return None
            return entry[1]

    def stale(self, user_id: int) -> tuple[OpenTask, ...]:
        """Whatever is cached, however old (what a failed fetch falls back to)."""
        with self._lock:
            entry = self._entries.get(user_id)
            return entry[1] if entry is not None else ()

    def put(self, user_id: int, tasks: tuple[OpenTask, ...]) -> None:
        with self._lock:
            self._entries[user_id] = (time.monotonic(), tasks)
            self._entries.move_to_end(user_id)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def drop(self, user_id: int) -> None:
        with self._lock:
            self._entries.pop(user_id, None)

    def __contains__(self, user_id: int) -> bool:
        with self._lock:
            return user_id in self._entries


_cache = _Cache(CACHE_SIZE)


def forget(user_id: int) -> None:
    """Drop ``user_id``'s cached open tasks at once (``tasks`` revoked, Todoist disconnected, account deleted)."""
    _cache.drop(user_id)


def is_cached(user_id: int) -> bool:
    """Whether this process holds open tasks of ``user_id`` (for tests and the operator)."""
    return user_id in _cache


def title_of(raw: object) -> str:
    """A task title as oO may quote it: one line, no control characters and no quotes, at most TITLE_CHARS."""
    title = OpenTask(str(raw or "").translate(_QUOTES), "").title[:TITLE_CHARS]
    return " ".join(_LONE_APOSTROPHE.sub(" ", title).split())


def to_open_task(task: dict[str, Any], projects: dict[str, str]) -> OpenTask | None:
    """The :class:`OpenTask` of one of Todoist's open tasks; None without a usable title."""
    title = title_of(task.get("content"))
    if not title or task.get("checked") or task.get("is_deleted"):
        return None
    project = projects.get(str(task.get("project_id")), "")
    project = _LONE_APOSTROPHE.sub(" ", project.translate(_QUOTES))[:PROJECT_CHARS]
    return OpenTask(title, project, todoist_due(task.get("due")))


# Every tip asks it: one statement, built once with its value bound at each call (building a statement costs
# SQLAlchemy more CPU than running it: benchmarks/react_path.py).
_TODOIST_WITH_CONSENT = select(Integration).where(
    Integration.user_id == sa.bindparam("user_id"),
    Integration.provider == PROVIDER,
    select(Consent.id)
    .where(Consent.user_id == Integration.user_id, Consent.key == TASKS_CONSENT, Consent.granted == True)  # noqa: E712
    .exists(),
)


def _allowed(session: Session, user_id: int) -> Integration | None:
    """The person's connected Todoist when they grant ``tasks``; None otherwise."""
    integration = session.exec(_TODOIST_WITH_CONSENT, params={"user_id": user_id}).first()
    if integration is None or integration.status != CONNECTED or integration.access_token_enc is None:
        return None
    return integration


def _save_refreshed(integration_id: int, settings: Settings) -> Callable[[IssuedTokens], None]:
    """Tokens a provider renewed, stored in their own short transaction (never the caller's)."""

    def save(issued: IssuedTokens) -> None:
        from oo_app.db import get_engine

        with Session(get_engine()) as own:
            row = own.get(Integration, integration_id)
            if row is not None:
                store_tokens(row, issued.access_token, issued.refresh_token, issued.expires_at, get_vault(settings))
                own.add(row)
                own.commit()

    return save


def _fetch(integration: Integration, budget_s: float, settings: Settings) -> tuple[OpenTask, ...]:
    deadline = time.monotonic() + budget_s
    tokens = read_tokens(integration, get_vault(settings))
    access = ensure_fresh(todoist_provider(settings), tokens, _save_refreshed(integration.id, settings))
    with TodoistAPI(settings.todoist_api_url, access, settings.todoist_timeout_s) as todoist:
        raw, projects = todoist.open_tasks(deadline, MAX_PAGES)
    return tuple(task for item in raw if (task := to_open_task(item, projects)) is not None)


def open_tasks(
    user_id: int,
    session: Session | None = None,
    *,
    budget_s: float = BUDGET_S,
    ttl_s: float = CACHE_TTL_S,
    settings: Settings | None = None,
) -> list[OpenTask]:
    """``user_id``'s open tasks (see the module): cached, fetched within ``budget_s``, or what is cached on failure.

    Reads the consent and the integration through ``session`` (its own when None) and writes nothing to it.
    """
    if session is None:
        from oo_app.db import get_engine

        with Session(get_engine()) as own:
            return open_tasks(user_id, own, budget_s=budget_s, ttl_s=ttl_s, settings=settings)
    integration = _allowed(session, user_id)
    if integration is None:
        forget(user_id)  # the consent or the connection went away in another process: nothing stays here either
        return []
    cached = _cache.get(user_id, ttl_s)
    if cached is not None:
        return list(cached)
    settings = settings or get_settings()
    try:
        tasks = _fetch(integration, budget_s, settings)
    except Exception as error:  # any failure: the recommender goes on without fresh tasks
        kind = "timed out" if _timed_out(error) else f"failed ({type(error).__name__})"
        log.warning("open tasks of person #%s: the fetch %s; using what is cached", user_id, kind)
        return list(_cache.stale(user_id))
    _cache.put(user_id, tasks)
    return list(tasks)


def _timed_out(error: Exception) -> bool:
    return isinstance(error, ProviderUnavailable) and (
        "time budget" in str(error) or "Timeout" in str(error) or "timed out" in str(error)
    )
