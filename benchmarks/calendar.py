"""Benchmark: what the calendar costs: one person's sync against a loopback ICS server and a loopback Radicale, and the
memory of the busy cache for many persons.

Run on demand, never in the suite: ``python benchmarks/calendar.py [--persons 50] [--cache-persons 10000]
[--events 40] [--skip-sync]``. It prints, per kind of calendar, the time of one sync per person (mean, p50, p95: the
read, the days stored, the schedule), then the bytes the busy cache holds for ``--cache-persons`` persons with a
typical 48 hours (their intervals and the cache's own structures, measured with tracemalloc).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.busy import BusyInterval

HERE = str(Path(__file__).resolve().parent)

DAY = timedelta(days=1)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=50, help="persons synced per kind of calendar")
    parser.add_argument("--cache-persons", type=int, default=10_000, help="persons held in the busy cache")
    parser.add_argument("--events", type=int, default=40, help="events in each person's calendar (a fifth recur)")
    parser.add_argument("--skip-sync", action="store_true", help="only the cache's memory")
    args = parser.parse_args(argv)
    if min(args.persons, args.cache_persons, args.events) < 1:
        parser.error("--persons, --cache-persons and --events take a positive number")
    return args


def percentile(values: list[float], rank: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * rank / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# --- a calendar -----------------------------------------------------------------------------------------------------


def ics_event(index: int, now: datetime, rng: random.Random) -> str:
    """One VEVENT around ``now`` (the past week to the next one); every fifth recurs daily."""
    start = (now - 7 * DAY + timedelta(minutes=30 * rng.randrange(0, 14 * 48))).replace(second=0, microsecond=0)
    lines = [
        "BEGIN:VEVENT",
        f"UID:bench-{index}@oo.bench",
        "DTSTAMP:20261101T000000Z",
        f"DTSTART:{start:%Y%m%dT%H%M%SZ}",
        f"DTEND:{start + timedelta(minutes=rng.choice([15, 30, 45, 60, 90])):%Y%m%dT%H%M%SZ}",
        f"SUMMARY:Planted meeting {index}",
    ]
    if index % 5 == 0:
        lines.append("RRULE:FREQ=DAILY;COUNT=20")
    return "\r\n".join([*lines, "END:VEVENT"])


def calendar_text(events: int, now: datetime, seed: int) -> str:
    rng = random.Random(seed)
    body = "\r\n".join(ics_event(index, now, rng) for index in range(events))
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//oO bench//EN\r\n{body}\r\nEND:VCALENDAR\r\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def ics_server(body: bytes) -> Iterator[str]:
    """A loopback HTTP server answering ``body`` as text/calendar; its address."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/private/bench-secret.ics"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def radicale(body: str, folder: Path) -> Iterator[str]:
    """A real Radicale on loopback (no authentication) holding one calendar of ``body``'s events; its calendar URL."""
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
    try:
        for _ in range(200):
            try:
                httpx.get(base, timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        auth = ("bench", "bench")
        httpx.request("MKCALENDAR", url, auth=auth, timeout=10).raise_for_status()
        events = body.split("BEGIN:VEVENT")[1:]
        for index, event in enumerate(events):
            text = (
                "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//oO bench//EN\r\nBEGIN:VEVENT"
                + event.split("END:VCALENDAR")[0].rstrip()
                + "\r\nEND:VCALENDAR\r\n"
            )
            httpx.put(f"{url}event-{index}.ics", content=text, auth=auth, timeout=10).raise_for_status()
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- syncs ----------------------------------------------------------------------------------------------------------


def sync_costs(kind: str, persons: int, connect: Callable[..., object]) -> list[float]:
    """Seconds of one sync per person: each person connected first (not timed), then synced once (timed)."""
    from sqlmodel import Session

    from oo_app import db
    from oo_app.calendar import busy_cache, sync
    from oo_app.models import Consent, User

    costs = []
    with Session(db.get_engine(), expire_on_commit=False) as session:
        for index in range(persons):
            user = User(email=f"bench-{kind}-{index}@example.com", display_name="Bench", tz="Europe/Berlin")
            session.add(user)
            session.flush()
            session.add(Consent(user_id=user.id, key="calendar", granted=True, text_version="v1"))
            session.commit()
            connect(session, user)
            busy_cache.forget(user.id)  # a worker that holds nothing of the person: the read is in the figure
            started = time.perf_counter()
            sync.sync(session, user, kind)
            costs.append(time.perf_counter() - started)
    return costs


def report(label: str, costs: list[float]) -> None:
    millis = [cost * 1000 for cost in costs]
    print(
        f"{label:<30} {len(millis):>5} persons  mean {statistics.fmean(millis):7.1f} ms  "
        f"p50 {percentile(millis, 50):7.1f} ms  p95 {percentile(millis, 95):7.1f} ms"
    )


def run_syncs(args: argparse.Namespace, workdir: Path) -> None:
    from cryptography.fernet import Fernet

    os.environ.update(
        OO_ENV="test",
        OO_DATABASE_URL=f"sqlite:///{workdir / 'oo.db'}",
        OO_TOKEN_KEYS=json.dumps([Fernet.generate_key().decode()]),
        OO_TRACING_ENABLED="false",
        OO_SCHEDULER_ENABLED="false",
    )
    from oo_app import db
    from oo_app.bootstrap import bootstrap
    from oo_app.calendar import connections

    db.migrate(os.environ["OO_DATABASE_URL"])
    bootstrap()
    body = calendar_text(args.events, datetime.now(UTC), seed=7)
    print(f"one calendar of {args.events} events ({len(body.encode()) // 1024} KiB of iCalendar), Berlin time")
    with ics_server(body.encode()) as address:
        measure("ICS on loopback", "calendar-ics", args.persons, lambda s, u: connections.connect_ics(s, u, address))
    with radicale(body, workdir / "radicale") as url:
        caldav = lambda s, u: connections.connect_caldav(s, u, url, "bench", "x")  # noqa: E731
        measure("CalDAV (Radicale) on loopback", "calendar-caldav", args.persons, caldav)


def measure(label: str, kind: str, persons: int, connect: Callable[..., object]) -> None:
    try:
        report(label, sync_costs(kind, persons, connect))
    except ImportError as missing:  # a source's module not in this tree
        print(f"{label:<30} skipped: {missing}")


# --- the cache's memory ---------------------------------------------------------------------------------------------


def typical_48_hours(rng: random.Random, now: datetime) -> list[BusyInterval]:
    """Two days of a busy person: 3 to 8 meetings a day of 15 to 90 minutes on the half hour."""
    intervals = []
    for day in range(2):
        for _ in range(rng.randint(3, 8)):
            start = now + day * DAY + timedelta(minutes=30 * rng.randrange(0, 20))
            intervals.append(BusyInterval(start, start + timedelta(minutes=rng.choice([15, 30, 45, 60, 90]))))
    return intervals


def cache_memory(persons: int) -> None:
    from oo_app.calendar import busy_cache

    rng, now = random.Random(11), datetime(2026, 11, 20, 7, tzinfo=UTC)
    plans = [typical_48_hours(rng, now) for _ in range(persons)]  # built first: only what the cache keeps counts
    intervals = sum(len(plan) for plan in plans)
    cache = busy_cache._Cache(max(persons, 1))
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for user_id, plan in enumerate(plans, start=1):
        cache.put(user_id, "calendar-ics", tuple(sorted(set(plan))), -1.0)
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    # The intervals were built before tracing: their own objects are added as measured one by one.
    per_interval = sys.getsizeof(plans[0][0]) + 2 * sys.getsizeof(plans[0][0].start)
    total = held + intervals * per_interval
    print(
        f"busy cache: {persons} persons, {intervals} intervals: {total / 2**20:.1f} MiB "
        f"({total / persons:.0f} bytes a person; {per_interval} bytes an interval)"
    )


def main(argv: list[str] | None = None) -> None:
    # Run as a script, this file's folder is on the path, and its name would shadow the standard ``calendar``.
    sys.path[:] = [entry for entry in sys.path if entry != HERE]
    args = parse_args(argv)
    if not args.skip_sync:
        with tempfile.TemporaryDirectory(prefix="oo-bench-calendar-") as workdir:
            run_syncs(args, Path(workdir))
    cache_memory(args.cache_persons)


if __name__ == "__main__":
    main()
