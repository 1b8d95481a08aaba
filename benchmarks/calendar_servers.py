"""The calendars out there for benchmarks/calendar.py: one planted calendar (titled meetings, a fifth recurring) served
as an ICS address on loopback, as a real Radicale and as Google's stand-in (tests/fakes/google_calendar.py), each with
a toggle that adds or removes one meeting in two hours, so a sync finds busy times changed.

Modules that import the standard ``calendar`` (``http.server``, the stand-in) are imported inside the functions: the
benchmark run as a script has its own folder on the path until its ``main`` drops it.
"""

from __future__ import annotations

import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

DAY = timedelta(days=1)


@dataclass(frozen=True)
class PlannedEvent:
    index: int
    start: datetime
    minutes: int
    daily: bool  # every fifth recurs: daily, 20 times


def planned_events(events: int, now: datetime, seed: int) -> list[PlannedEvent]:
    """``events`` meetings around ``now`` (the past week to the next one), on the half hour."""
    rng = random.Random(seed)
    plan = []
    for index in range(events):
        start = (now - 7 * DAY + timedelta(minutes=30 * rng.randrange(0, 14 * 48))).replace(second=0, microsecond=0)
        plan.append(PlannedEvent(index, start, rng.choice([15, 30, 45, 60, 90]), index % 5 == 0))
    return plan


def ics_event(event: PlannedEvent) -> str:
    """One VEVENT of the plan, titled as a real one would be."""
    lines = [
        "BEGIN:VEVENT",
        f"UID:bench-{event.index}@oo.bench",
        "DTSTAMP:20261101T000000Z",
        f"DTSTART:{event.start:%Y%m%dT%H%M%SZ}",
        f"DTEND:{event.start + timedelta(minutes=event.minutes):%Y%m%dT%H%M%SZ}",
        f"SUMMARY:Planted meeting {event.index}",
    ]
    if event.daily:
        lines.append("RRULE:FREQ=DAILY;COUNT=20")
    return "\r\n".join([*lines, "END:VEVENT"])


def wrap(vevents: str) -> str:
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//oO bench//EN\r\n{vevents}\r\nEND:VCALENDAR\r\n"


def calendar_text(events: int, now: datetime, seed: int) -> str:
    return wrap("\r\n".join(ics_event(event) for event in planned_events(events, now, seed)))


def change_event(now: datetime) -> PlannedEvent:
    """The meeting that comes and goes between two syncs: in two hours, within every read's window."""
    start = (now + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    return PlannedEvent(10_000, start, 60, False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def ics_server(bodies: list[bytes]) -> Iterator[tuple[str, Callable[[], None]]]:
    """A loopback HTTP server answering ``bodies[0]`` as text/calendar; its address, and a toggle that switches to
    the other body (the calendar changed)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    state = {"body": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = bodies[state["body"]]
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    def toggle() -> None:
        state["body"] = 1 - state["body"]

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/private/bench-secret.ics", toggle
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def radicale(plan: list[PlannedEvent], change: PlannedEvent, folder: Path) -> Iterator[tuple[str, Callable[[], None]]]:
    """A real Radicale on loopback (no authentication) holding one calendar of the plan's events; its calendar URL,
    and a toggle that adds or removes ``change``."""
    import httpx

    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "radicale",
            "--server-hosts",
            f"127.0.0.1:{port}",
            "--auth-type",
            "none",
            "--rights-type",
            "authenticated",
            "--storage-filesystem-folder",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base, url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}/bench/work/"
    auth, present = ("bench", "bench"), {"change": False}

    def toggle() -> None:
        target = f"{url}change.ics"
        if present["change"]:
            httpx.delete(target, auth=auth, timeout=10).raise_for_status()
        else:
            httpx.put(target, content=wrap(ics_event(change)), auth=auth, timeout=10).raise_for_status()
        present["change"] = not present["change"]

    try:
        for _ in range(200):
            try:
                httpx.get(base, timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        httpx.request("MKCALENDAR", url, auth=auth, timeout=10).raise_for_status()
        for event in plan:
            text = wrap(ics_event(event))
            httpx.put(f"{url}event-{event.index}.ics", content=text, auth=auth, timeout=10).raise_for_status()
        yield url, toggle
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def google_stand_in(plan: list[PlannedEvent], change: PlannedEvent) -> Iterator[tuple[object, Callable[[], None]]]:
    """Google's stand-in (tests/fakes/google_calendar.py) on loopback with the plan's events in Berlin time; the
    stand-in, and a toggle that adds ``change`` or deletes it again."""
    from zoneinfo import ZoneInfo

    from tests.fakes.google_calendar import FakeGoogleCalendar

    berlin, added = ZoneInfo("Europe/Berlin"), {"event": None}
    with FakeGoogleCalendar() as fake:
        for event in plan:
            start = event.start.astimezone(berlin)
            recurrence = ["RRULE:FREQ=DAILY;COUNT=20"] if event.daily else None
            end = start + timedelta(minutes=event.minutes)
            fake.add_event(f"Planted meeting {event.index}", start, end, recurrence=recurrence)

        def toggle() -> None:
            if added["event"] is None:
                start = change.start.astimezone(berlin)
                added["event"] = fake.add_event("Moved in", start, start + timedelta(minutes=change.minutes))
            else:
                fake.delete(added["event"])
                added["event"] = None

        yield fake, toggle
