"""Per-person limits on what costs: every tip written at a person's request takes a token from their bucket.

A token bucket per person (pyrate-limiter's ``TokenBucket``): ``OO_TIP_BURST`` tokens, refilled at
``OO_TIP_RATE_PER_MINUTE``. With ``OO_REDIS_URL`` the buckets live in Redis, one key per person changed by one atomic
Lua script, so every process of the deployment draws from the same bucket; without it, or while Redis does not answer
(logged), each process keeps its own. A refusal takes nothing from the bucket. Never raises for Redis trouble.

Which work is metered is the adapters' call: inside :func:`metered` (the API, the page, tips written ahead) each tip
``recommend()`` writes takes a token through :func:`charge`, which raises :class:`TipLimitReached` before anything is
written. Shadow jobs take none (they are bounded by the tips they stand beside) but are skipped while the bucket is
empty (:func:`within_limit`). Operator tools (the CLI, the benchmarks) and the agents' refresh are never metered.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from pyrate_limiter import Duration, InMemoryStateStore, Rate, RateItem, RedisStateStore, StateBucket, TokenBucket
from redis import Redis, RedisError

from oo_app.errors import TooManyRequests
from oo_app.settings import Settings, get_settings

log = logging.getLogger(__name__)

LOCAL_PERSONS = 10_000  # buckets one process keeps without Redis; the least recently used beyond start full again
REDIS_TIMEOUT_S = 0.5  # a Redis that does not answer within this costs a request no more than that...
REDIS_RETRY_S = 30.0  # ...once: then the process limits on its own for this long before asking Redis again


class TipLimitReached(TooManyRequests):
    """The person's bucket is empty: no tip was written; one can be in ``retry_after_s`` seconds."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(
            "that is a lot of tips in a row: nothing new was written; try again in a moment", retry_after_s
        )


class TipBuckets:
    """The tip buckets of every person of one deployment: in Redis under ``prefix`` when given a client, else here."""

    def __init__(self, rate_per_minute: int, burst: int, prefix: str, redis: Redis | None = None) -> None:
        self.rate = Rate(rate_per_minute, Duration.MINUTE, burst=burst)
        self.prefix = prefix
        self._redis = redis
        self._redis_back_at = 0.0
        self._local: OrderedDict[int, InMemoryStateStore] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def configured(cls, settings: Settings) -> TipBuckets:
        # A person's id is unique within one database: deployments (and test runs) sharing a Redis stay apart.
        database = hashlib.sha256(settings.database_url.encode()).hexdigest()[:16]
        redis = None
        if settings.redis_url:
            redis = Redis.from_url(
                settings.redis_url, socket_connect_timeout=REDIS_TIMEOUT_S, socket_timeout=REDIS_TIMEOUT_S
            )
        return cls(settings.tip_rate_per_minute, settings.tip_burst, f"oo:tip-bucket:{database}", redis)

    def take(self, user_id: int) -> float:
        """Take one token of person ``user_id``: 0.0 when taken, else the seconds until there is one (none taken)."""
        try:
            bucket = self._bucket(user_id)
            item = RateItem("tip", bucket.now())
            return 0.0 if bucket.put(item) else max(1, bucket.waiting(item)) / 1000
        except RedisError as error:
            self._without_redis(error)
            return self.take(user_id)

    def has_token(self, user_id: int) -> bool:
        """Whether person ``user_id`` has a token left (taking none)."""
        try:
            return self._bucket(user_id).count() < self.rate.burst
        except RedisError as error:
            self._without_redis(error)
            return self.has_token(user_id)

    def _bucket(self, user_id: int) -> StateBucket:
        shared = self._redis is not None and time.monotonic() >= self._redis_back_at
        store = RedisStateStore(self._redis, f"{self.prefix}:{user_id}") if shared else self._local_store(user_id)
        return StateBucket([self.rate], algorithm=TokenBucket(), store=store)

    def _without_redis(self, error: RedisError) -> None:
        self._redis_back_at = time.monotonic() + REDIS_RETRY_S
        log.warning(
            "Redis did not answer the tip limit (%s: %s); this process limits on its own for %.0f s",
            type(error).__name__,
            error,
            REDIS_RETRY_S,
        )

    def _local_store(self, user_id: int) -> InMemoryStateStore:
        with self._lock:
            store = self._local.pop(user_id, None) or InMemoryStateStore()
            self._local[user_id] = store
            if len(self._local) > LOCAL_PERSONS:
                self._local.popitem(last=False)
            return store


_configured: tuple[Settings, TipBuckets] | None = None
_configured_lock = threading.Lock()


def tip_buckets() -> TipBuckets:
    """The buckets of the configured deployment, built again when the settings are (``get_settings.cache_clear()``)."""
    global _configured
    settings = get_settings()
    with _configured_lock:
        if _configured is None or _configured[0] is not settings:
            _configured = (settings, TipBuckets.configured(settings))
        return _configured[1]


def admit(user_id: int) -> None:
    """Take a token of person ``user_id``; :class:`TipLimitReached` (nothing taken) when their bucket is empty."""
    wait_s = tip_buckets().take(user_id)
    if wait_s > 0:
        log.info("person %s is past their tip limit; the next token in %.1f s", user_id, wait_s)
        raise TipLimitReached(wait_s)


def within_limit(user_id: int) -> bool:
    """Whether person ``user_id`` has a token left, taking none: background work beside a tip asks this."""
    return tip_buckets().has_token(user_id)


_metered: ContextVar[bool] = ContextVar("oo_tips_metered", default=False)


@contextmanager
def metered() -> Iterator[None]:
    """Within the block (and the threads it starts with ``asyncio.to_thread``), each tip ``recommend()`` writes takes
    a token from its person's bucket: :func:`charge`."""
    token = _metered.set(True)
    try:
        yield
    finally:
        _metered.reset(token)


def charge(user_id: int) -> None:
    """What ``recommend()`` calls before it writes anything: inside :func:`metered`, :func:`admit`; else nothing."""
    if _metered.get():
        admit(user_id)
