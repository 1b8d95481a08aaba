"""Simulated persons for the load test (``benchmarks/load.py`` starts locust on this file; not meant to run alone).

Each locust user is one seeded person with their own open session: it opens the tip page the way the page does (the
websocket ``/_event``: hydrate, the page's ``on_load`` ``TipState.load``, the tip's delta), asks ``POST
/api/recommend`` once, then every few seconds either reacts on the page (``TipState.react``, "dismissed" or "done", and
waits for the next tip) or asks the API again. Every round trip is a locust request; a failure is a locust failure,
never retried. When locust quits, the ledger (``OO_LOAD_LEDGER``) gets what each person saw, which reactions were
acknowledged, and every round trip's exact timing (locust's own figures are rounded, and its CSV files miss the
requests that finish while users stop), for the caller to check against the database and to compute the figures.

Settings (environment): ``OO_LOAD_PERSONS`` a JSON file of ``[{"id", "cookies"}]``, one per user at most;
``OO_LOAD_LEDGER`` where to write the ledger; ``OO_LOAD_WAIT_S`` "min,max" seconds between actions (default 2,5).
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from pathlib import Path
from typing import Any

from gevent import GreenletExit
from locust import FastHttpUser, between, events, task

from tests.page_socket import PageSocket, PageSocketError

CSRF_HEADER = "X-CSRF-Token"  # oo_app.auth.csrf.CSRF_HEADER; the app is not imported into locust's gevent process
CSRF_COOKIE = "oo_csrf"
OPEN_PAGE = "ws open page (hydrate + TipState.load)"
REACT = "ws TipState.react"
RECOMMEND = "POST /api/recommend"
REACTIONS = ("dismissed", "done")

_persons: list[dict[str, Any]] = json.loads(Path(os.environ["OO_LOAD_PERSONS"]).read_text())
_next_person = iter(range(len(_persons)))
_ledger: dict[int, dict[str, Any]] = {}
_samples: list[tuple[str, float, float, str | None]] = []  # (request, started at (epoch s), ms, error or None)
_ledger_lock = threading.Lock()
_wait = tuple(float(part) for part in os.environ.get("OO_LOAD_WAIT_S", "2,5").split(","))


class Person(FastHttpUser):
    """One signed-in person with the tip page open and the API at hand."""

    wait_time = between(*_wait)

    def on_start(self) -> None:
        index = next(_next_person, None)
        if index is None:
            raise RuntimeError(f"more users than seeded persons ({len(_persons)})")
        self.person = _persons[index]
        self.entry: dict[str, Any] = {
            "person": self.person["id"],
            "page_tips": [],  # tips the page showed, in order
            "api_tips": [],  # tips the API answered
            "acknowledged": [],  # [tip_id, reaction] of every reaction the page answered
            # [tip_id, reaction] of reactions in flight when locust stopped the person: its stop can land just
            # after a wait ends, while the next task runs; the server may have stored them, the person never knew
            "interrupted": [],
            "failed": [],  # [tip_id, reaction] of reactions sent whose answer failed (timeout, error, no next tip)
            "arrived": None,  # when the person had opened the page and asked the API once (epoch s)
        }
        with _ledger_lock:
            _ledger[self.person["id"]] = self.entry
        cookies = self.person["cookies"]
        self.headers = {
            "Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items()),
            CSRF_HEADER: cookies[CSRF_COOKIE],
        }
        self.page = PageSocket(self.host, cookies)
        if self._timed(OPEN_PAGE, self._open):
            self.entry["page_tips"].append(self.page.tip["tip_id"])
        self.recommend()
        self.entry["arrived"] = time.time()  # page open and first tip asked: from here the person is there

    def on_stop(self) -> None:
        self.page.close()

    @task(3)
    def react(self) -> None:
        shown = self.page.tip.get("tip_id")
        if not shown or self.page.tip.get("busy") or self.page.tip.get("error"):
            return  # nothing a person could press (the page failed to open, or shows an error)
        reaction = random.choice(REACTIONS)
        try:
            answered = self._timed(REACT, self._react, reaction)
        except GreenletExit:
            self.entry["interrupted"].append([shown, reaction])
            raise
        if answered:
            self.entry["acknowledged"].append([shown, reaction])
            self.entry["page_tips"].append(self.page.tip["tip_id"])
        else:
            self.entry["failed"].append([shown, reaction])

    @task(1)
    def recommend(self) -> None:
        started, clock = time.time(), time.perf_counter()
        with self.client.post("/api/recommend", headers=self.headers, name=RECOMMEND, catch_response=True) as answer:
            try:
                tip_id = answer.json().get("tip", {}).get("id") if answer.status_code == 200 else None
            except ValueError:
                tip_id = None
            error = None if tip_id is not None else f"{answer.status_code}: {(answer.text or '')[:200]}"
            if error is None:
                self.entry["api_tips"].append(tip_id)
            else:
                answer.failure(error)
        _record(RECOMMEND, started, (time.perf_counter() - clock) * 1000, error)

    def _open(self) -> None:
        self.page.connect()
        if self.page.tip.get("error") or not self.page.tip.get("tip_id"):
            raise PageSocketError(f"the page opened without a tip: {self.page.tip}")

    def _react(self, reaction: str) -> None:
        shown = self.page.tip["tip_id"]
        self.page.react(reaction)
        if self.page.tip.get("error") or self.page.tip.get("tip_id") in (None, 0, shown):
            raise PageSocketError(f"no next tip after {reaction!r} on tip {shown}: {self.page.tip}")

    def _timed(self, name: str, action: Any, *args: Any) -> bool:
        started, clock = time.time(), time.perf_counter()
        try:
            action(*args)
        except PageSocketError as error:
            self._report(name, started, (time.perf_counter() - clock) * 1000, error)
            return False
        self._report(name, started, (time.perf_counter() - clock) * 1000, None)
        return True

    def _report(self, name: str, started: float, elapsed_ms: float, error: Exception | None) -> None:
        self.environment.events.request.fire(
            request_type="WS", name=name, response_time=elapsed_ms, response_length=0, exception=error, context={}
        )
        _record(name, started, elapsed_ms, None if error is None else str(error))


def _record(name: str, started: float, elapsed_ms: float, error: str | None) -> None:
    with _ledger_lock:
        _samples.append((name, started, elapsed_ms, error))


@events.quitting.add_listener
def _write_ledger(environment: Any, **_: Any) -> None:
    path = os.environ.get("OO_LOAD_LEDGER")
    if path:
        with _ledger_lock:
            Path(path).write_text(json.dumps({"persons": list(_ledger.values()), "samples": _samples}))
