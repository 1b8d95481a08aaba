"""Circuit breakers of the alias layer: a model server that fails a call the way a server that is down fails (refused,
timed out, a 5xx) is left alone for ``OO_LLM_COOLDOWN_S``, so the alias's fallback (the composer) writes meanwhile in
milliseconds; then one call at a time probes it (docs/adr/0012-circuit-breaking-in-the-alias-layer.md).

Per deployment: *closed* (no trip), *open* (tripped, cooling down), *half-open* (cooled down: the next call probes it;
the server answering closes the breaker, failing again opens it). Trips live in Redis when ``OO_REDIS_URL`` is set, so
every worker sees them, else in the Router's process. In-process models (composer, local writer) never trip. This
module never imports LiteLLM (/health reads it) and a failing Redis never fails a call: the breaker then stays closed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from oo_app.llm.aliases import COMPOSER_PROVIDER, LOCAL_PROVIDER

log = logging.getLogger(__name__)

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"
KEY_PREFIX = "oo:llm-breaker:"
TRIP_KEPT_S = 7 * 24 * 3600  # a trip nobody probes stays half-open; gone after a week of no calls at all
REDIS_TIMEOUT_S = 0.5  # a breaker read must never cost a tip more than the model it spares would
BUSY_PROBE_SHUT_S = 1.0  # while another call probes, this process skips the deployment for this long at a time


def deployment_id(alias: str, params: Mapping[str, Any]) -> str:
    """The deployment's id, the same in every worker that reads the same alias table: the alias and a digest of its
    parameters (a changed deployment is a new one, with a closed breaker)."""
    digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return f"{alias}:{digest}"


def in_process(model: str) -> bool:
    """Whether ``model`` runs inside this process (the composer, the local models): no server to break."""
    return model.split("/", 1)[0] in (COMPOSER_PROVIDER, LOCAL_PROVIDER)


@dataclass(frozen=True)
class Trip:
    """A breaker opened until ``open_until`` (epoch seconds, comparable across processes) by a failure of ``kind``."""

    open_until: float
    kind: str

    def state(self, now: float) -> str:
        return OPEN if now < self.open_until else HALF_OPEN


@dataclass(frozen=True)
class Reading:
    """A breaker as /health shows it: its state, the seconds it stays open, the failure that opened it."""

    state: str
    open_for_s: float | None = None
    failure: str | None = None


class TripStore(Protocol):
    """Where trips and probe leases live; every operation may raise (a store that does not answer)."""

    def read(self, ids: list[str]) -> dict[str, Trip]: ...
    def write(self, deployment: str, trip: Trip) -> None: ...
    def clear(self, deployment: str) -> None: ...
    def claim_probe(self, deployment: str, lease_s: float) -> bool: ...
    def release_probe(self, deployment: str) -> None: ...


class MemoryStore:
    """Trips of one process (no Redis): each Router owns one, so a rebuilt Router starts with every breaker closed."""

    def __init__(self) -> None:
        self._trips: dict[str, Trip] = {}
        self._probes: dict[str, float] = {}  # deployment -> when its probe lease ends (monotonic)
        self._lock = threading.Lock()

    def read(self, ids: list[str]) -> dict[str, Trip]:
        with self._lock:
            return {deployment: self._trips[deployment] for deployment in ids if deployment in self._trips}

    def write(self, deployment: str, trip: Trip) -> None:
        with self._lock:
            self._trips[deployment] = trip

    def clear(self, deployment: str) -> None:
        with self._lock:
            self._trips.pop(deployment, None)

    def claim_probe(self, deployment: str, lease_s: float) -> bool:
        with self._lock:
            now = time.monotonic()
            if self._probes.get(deployment, 0.0) > now:
                return False
            self._probes[deployment] = now + lease_s
            return True

    def release_probe(self, deployment: str) -> None:
        with self._lock:
            self._probes.pop(deployment, None)


class RedisStore:
    """Trips shared by every worker: ``oo:llm-breaker:<id>`` (the trip as JSON) and ``...:probe`` (the probe lease,
    taken with SET NX PX so exactly one call in the fleet probes)."""

    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_connect_timeout=REDIS_TIMEOUT_S, socket_timeout=REDIS_TIMEOUT_S)

    def read(self, ids: list[str]) -> dict[str, Trip]:
        if not ids:
            return {}
        values = self._redis.mget([KEY_PREFIX + deployment for deployment in ids])
        return {deployment: Trip(**json.loads(value)) for deployment, value in zip(ids, values, strict=True) if value}

    def write(self, deployment: str, trip: Trip) -> None:
        self._redis.set(KEY_PREFIX + deployment, json.dumps(asdict(trip)), ex=TRIP_KEPT_S)

    def clear(self, deployment: str) -> None:
        self._redis.delete(KEY_PREFIX + deployment)

    def claim_probe(self, deployment: str, lease_s: float) -> bool:
        return bool(self._redis.set(f"{KEY_PREFIX}{deployment}:probe", "1", nx=True, px=max(1, int(lease_s * 1000))))

    def release_probe(self, deployment: str) -> None:
        self._redis.delete(f"{KEY_PREFIX}{deployment}:probe")

    def close(self) -> None:
        self._redis.close()


class Breakers:
    """The breakers of one Router's deployments over a :class:`TripStore`; ``cooldown_s`` 0 switches them off.

    ``probe_s`` bounds a probe (the call's timeout and a margin): a probe that never reports frees its lease then.
    """

    def __init__(self, store: TripStore, cooldown_s: float, probe_s: float) -> None:
        self.store = store
        self.cooldown_s = cooldown_s
        self.probe_s = probe_s
        self._probing: dict[str, float] = {}  # the probes this process runs: deployment -> lease end (monotonic)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.cooldown_s > 0

    def shut_for(self, deployment: str) -> float | None:
        """None when a call may go to ``deployment`` now (closed, or half-open and this call won the probe); else how
        long, in seconds, the caller should keep it out of its routing."""
        if not self.enabled:
            return None
        try:
            trip = self.store.read([deployment]).get(deployment)
            if trip is None:
                return None
            now = time.time()
            if trip.state(now) == OPEN:
                return trip.open_until - now
            if not self.store.claim_probe(deployment, self.probe_s):
                return BUSY_PROBE_SHUT_S
        except Exception as error:  # the store must never fail a tip: calls then pass
            log.warning("LLM breaker store unavailable (%s): %s stays reachable", type(error).__name__, deployment)
            return None
        with self._lock:
            self._probing[deployment] = time.monotonic() + self.probe_s
        log.info("LLM breaker half-open: one call probes %s", deployment)
        return None

    def failed(self, deployment: str, kind: str) -> float:
        """``deployment`` failed as a server that is down fails: open its breaker; the seconds it stays open."""
        if not self.enabled:
            return 0.0
        self._stop_probing(deployment)
        try:
            self.store.write(deployment, Trip(open_until=time.time() + self.cooldown_s, kind=kind))
            self.store.release_probe(deployment)
        except Exception as error:  # see shut_for
            log.warning("LLM breaker store unavailable (%s): %s not opened", type(error).__name__, deployment)
        log.warning("LLM breaker open for %g s: %s failed (%s)", self.cooldown_s, deployment, kind)
        return self.cooldown_s

    def answered(self, deployment: str) -> None:
        """``deployment``'s server answered (a completion, or an error of its own): a probe of it closes its breaker.
        Other calls that were under way when it opened change nothing: only the probe speaks for the server now."""
        if not self._stop_probing(deployment):
            return
        try:
            self.store.clear(deployment)
            self.store.release_probe(deployment)
        except Exception as error:  # see shut_for
            log.warning("LLM breaker store unavailable (%s): %s not closed", type(error).__name__, deployment)
            return
        log.info("LLM breaker closed: %s answered its probe", deployment)

    def readings(self, ids: Iterable[str]) -> dict[str, Reading]:
        """Each breaker's state now, closed for those never tripped. Raises when the store does not answer."""
        ids = list(ids)
        trips = self.store.read(ids)
        now = time.time()
        readings = {deployment: Reading(CLOSED) for deployment in ids}
        for deployment, trip in trips.items():
            state = trip.state(now)
            open_for = round(trip.open_until - now, 1) if state == OPEN else None
            readings[deployment] = Reading(state, open_for, trip.kind)
        return readings

    def _stop_probing(self, deployment: str) -> bool:
        with self._lock:
            lease_end = self._probing.pop(deployment, None)
        return lease_end is not None and lease_end > time.monotonic()


def store_for(redis_url: str | None) -> TripStore:
    """Redis when the deployment has one (every worker sees every trip), else this process's memory."""
    return RedisStore(redis_url) if redis_url else MemoryStore()
