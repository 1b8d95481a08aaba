"""Per person, the busy intervals of their connected calendars around the next 48 hours, in this process's memory only.

Contract of :func:`busy_of` (the provider :mod:`oo_app.bootstrap` wires into :mod:`agents.runner`): for a person who
grants ``calendar``, the busy intervals of all their connected calendars that overlap ``[now, now + HORIZON)``, from
memory when read less than ``calendar_cache_ttl_s`` ago, else read within :data:`BUDGET_S`; a read that does not
finish in time is kept when it ends, and the answer is what is cached meanwhile. It never raises and never writes the
database. :func:`forget` drops a person's intervals at once (consent revoked, calendar disconnected, account deleted);
an interval read before a forget is never cached after it. At most :data:`CACHE_SIZE` persons, least recent first out.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime

from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from agents.busy import HORIZON, BusyInterval, day_bounds
from oo_app.calendar import access
from oo_app.clock import zone
from oo_app.models import Integration, User
from oo_app.settings import Settings, get_settings

log = logging.getLogger(__name__)

BUDGET_S = 2.0  # the whole on-demand read, every calendar of the person at once
CACHE_SIZE = 20_000  # persons; ~1.6 KB each with a busy 48 hours (benchmarks/calendar.py measures it)
READERS = 4  # threads reading calendars on demand in this process

Intervals = tuple[BusyInterval, ...]


class _Cache:
    """user -> kind -> (read at, monotonic; intervals); thread-safe, least recently put dropped first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[int, dict[str, tuple[float, Intervals]]] = OrderedDict()
        self._forgotten: OrderedDict[int, float] = OrderedDict()  # when each person was last forgotten

    def snapshot(self, user_id: int) -> dict[str, tuple[float, Intervals]]:
        with self._lock:
            return dict(self._entries.get(user_id, {}))

    def put(self, user_id: int, kind: str, intervals: Intervals, read_since: float) -> bool:
        """Keep ``intervals`` unless the person was forgotten after ``read_since`` (when their read began)."""
        with self._lock:
            if self._forgotten.get(user_id, -1.0) >= read_since:
                return False
            self._entries.setdefault(user_id, {})[kind] = (time.monotonic(), intervals)
            self._entries.move_to_end(user_id)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
            return True

    def drop(self, user_id: int, kinds: Iterable[str] | None = None) -> None:
        with self._lock:
            if kinds is None:
                self._entries.pop(user_id, None)
                self._forgotten[user_id] = time.monotonic()
                self._forgotten.move_to_end(user_id)
                while len(self._forgotten) > self._size:
                    self._forgotten.popitem(last=False)
                return
            entry = self._entries.get(user_id)
            for kind in kinds:
                if entry is not None:
                    entry.pop(kind, None)
            if entry is not None and not entry:
                del self._entries[user_id]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __contains__(self, user_id: int) -> bool:
        with self._lock:
            return user_id in self._entries


_cache = _Cache(CACHE_SIZE)
_readers: ThreadPoolExecutor | None = None
_readers_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _readers
    with _readers_lock:
        if _readers is None:
            _readers = ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="oo-calendar")
        return _readers


def put(user_id: int, kind: str, intervals: Iterable[BusyInterval], read_since: float | None = None) -> bool:
    """Hold ``intervals`` as ``user_id``'s busy times of calendar ``kind``; False when the person was forgotten since
    ``read_since`` (``time.monotonic()`` when the read began; None: now), so nothing was kept."""
    started = time.monotonic() if read_since is None else read_since
    return _cache.put(user_id, kind, tuple(sorted(set(intervals))), started)


def forget(user_id: int, kinds: Iterable[str] | None = None) -> None:
    """Drop ``user_id``'s busy intervals at once: of ``kinds`` only (a disconnected calendar), else all of them (and
    any read still under way is not kept)."""
    _cache.drop(user_id, None if kinds is None else list(kinds))


def is_cached(user_id: int) -> bool:
    """Whether this process holds busy intervals of ``user_id`` (tests and the operator)."""
    return user_id in _cache


def cached(user_id: int) -> dict[str, Intervals]:
    """Whatever is held of ``user_id``, per calendar kind, however old."""
    return {kind: intervals for kind, (_, intervals) in _cache.snapshot(user_id).items()}


def held() -> int:
    """How many persons this process holds busy intervals of."""
    return len(_cache)


def union(per_kind: Iterable[Intervals]) -> Intervals:
    """The busy intervals of several calendars as one sorted tuple (an event in two calendars counts once)."""
    return tuple(sorted({interval for intervals in per_kind for interval in intervals}))


def read_window(user: User | None, now: datetime) -> tuple[datetime, datetime]:
    """What a read covers: from the start of the person's local day to ``now + HORIZON``."""
    today = now.astimezone(zone(user.tz if user is not None else None)).date()
    return day_bounds(today, zone(user.tz if user is not None else None))[0], now + HORIZON


def busy_of(
    user_id: int,
    session: Session | None = None,
    *,
    now: datetime | None = None,
    budget_s: float = BUDGET_S,
    settings: Settings | None = None,
) -> list[BusyInterval]:
    """``user_id``'s busy intervals overlapping the next :data:`~agents.busy.HORIZON` (see the module); never raises.

    Reads the consent and the integrations through ``session`` (its own when None) and writes nothing to it.
    """
    if session is None:
        from oo_app.db import get_engine

        with Session(get_engine()) as own:
            return busy_of(user_id, own, now=now, budget_s=budget_s, settings=settings)
    now = now or datetime.now(UTC)
    try:
        return _busy_of(user_id, session, now, budget_s, settings or get_settings())
    except Exception as error:  # the recommender and push timing go on without fresh busy times
        log.warning("busy times of person #%s: %s; using what is cached", user_id, type(error).__name__)
        return _ahead(union(cached(user_id).values()), now)


def _busy_of(user_id: int, session: Session, now: datetime, budget_s: float, settings: Settings) -> list[BusyInterval]:
    if not access.consent_granted(session, user_id):
        forget(user_id)  # revoked in another process: nothing stays here either
        return []
    integrations = access.calendar_integrations(session, user_id)
    kinds = {integration.provider for integration in integrations}
    held_now = _cache.snapshot(user_id)
    gone = [kind for kind in held_now if kind not in kinds]
    if gone:
        forget(user_id, gone)
    if not integrations:
        return []
    fresh_after = time.monotonic() - settings.calendar_cache_ttl_s
    stale = [i for i in integrations if i.provider not in held_now or held_now[i.provider][0] <= fresh_after]
    if stale:
        _read(user_id, session, stale, now, budget_s, settings)
    per_kind = cached(user_id)
    return _ahead(union(per_kind[kind] for kind in kinds if kind in per_kind), now)


def _read(
    user_id: int, session: Session, integrations: list[Integration], now: datetime, budget_s: float, settings: Settings
) -> None:
    """Read ``integrations`` in the reader threads; wait at most ``budget_s``; late reads are kept when they end."""
    started = time.monotonic()
    start, end = read_window(session.get(User, user_id), now)
    bind = session.get_bind()
    futures: dict[Future[list[BusyInterval]], str] = {}
    for integration in integrations:
        future = _pool().submit(_read_one, bind, integration.id, start, end, settings)
        future.add_done_callback(_keeper(user_id, integration.provider, started))
        futures[future] = integration.provider
    if futures:
        done, late = wait(futures, timeout=budget_s)
        for future in done:  # kept here too: a Future wakes its waiters before it runs its callbacks
            if future.exception() is None:
                put(user_id, futures[future], future.result(), read_since=started)
        if late:
            log.info("busy times of person #%s: %d read(s) past the %.1f s budget", user_id, len(late), budget_s)


def _read_one(
    bind: Engine | Connection, integration_id: int | None, start: datetime, end: datetime, settings: Settings
) -> list[BusyInterval]:
    """One calendar read in a reader thread, on a session of its own: the caller's may be gone when a late read ends,
    and a source may keep renewed tokens (committed here, never in the caller's transaction)."""
    with Session(bind, expire_on_commit=False) as own:
        integration = own.get(Integration, integration_id)
        if integration is None:
            return []
        source = access.source_for(own, integration, settings)
        own.commit()  # no transaction stays open while the calendar answers
        intervals = source.busy(start, end)
        own.commit()
        return intervals


def _keeper(user_id: int, kind: str, started: float) -> Callable[[Future[list[BusyInterval]]], None]:
    def keep(future: Future[list[BusyInterval]]) -> None:
        error = future.exception()
        if error is not None:
            log.warning("busy times of person #%s: reading %s failed (%s)", user_id, kind, type(error).__name__)
            return
        put(user_id, kind, future.result(), read_since=started)

    return keep


def _ahead(intervals: Intervals, now: datetime) -> list[BusyInterval]:
    until = now + HORIZON
    return [interval for interval in intervals if interval.end > now and interval.start < until]
