"""Benchmark: what the calendar costs: one person's sync of each kind of calendar on loopback, a round of many due
calendars, and the memory of what each process holds for many persons.

Run on demand, never in the suite: ``python benchmarks/calendar.py [--persons 50] [--round-persons 500] [--threads 8]
[--cache-persons 10000] [--events 40] [--skip-sync]``. Tips are written by the rules (``OO_TIP_WRITER=rules`` unless
set otherwise), so no local model loads, neither while persons connect nor while they sync. It prints:

- per kind of calendar (an ICS address, CalDAV on a real Radicale, Google Calendar on its stand-in
  ``tests/fakes/google_calendar.py``), the time of one sync per person (mean, p50, p95: the read, the days stored, the
  schedule) in three cases: the busy times this process holds (the usual sync), the same busy times in a process that
  holds none of them (another worker), and busy times that changed (the calendar agent computes afresh and, inline,
  a fresher tip is written for the page);
- a round (``oo_app.calendar.jobs.sync_due``) of ``--round-persons`` ICS calendars all due at once, ``--threads`` at
  a time: the first (every person's busy times new to the process), then the second (nothing changed), with the
  calendars a 15-minute interval can read at that pace;
- the bytes the busy cache and Google's in-memory mirrors hold for ``--cache-persons`` persons with a busy 48 hours
  (measured with tracemalloc).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.busy import BusyInterval
from benchmarks.calendar_servers import (
    calendar_text,
    change_event,
    google_stand_in,
    ics_event,
    ics_server,
    planned_events,
    radicale,
    wrap,
)

__all__ = ["calendar_text"]  # the planted calendar, for the tests

HERE = str(Path(__file__).resolve().parent)

DAY = timedelta(days=1)
INTERVAL_S = 900.0  # the default OO_CALENDAR_SYNC_INTERVAL_S
CASES = ("same busy times, held", "same busy times, none held", "busy times changed")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=50, help="persons synced per kind of calendar")
    parser.add_argument("--round-persons", type=int, default=500, help="due calendars in the measured rounds")
    parser.add_argument("--threads", type=int, default=8, help="calendars a round reads at once")
    parser.add_argument("--cache-persons", type=int, default=10_000, help="persons held in the busy cache")
    parser.add_argument("--events", type=int, default=40, help="events in each person's calendar (a fifth recur)")
    parser.add_argument("--skip-sync", action="store_true", help="only the memory")
    args = parser.parse_args(argv)
    if min(args.persons, args.round_persons, args.threads, args.cache_persons, args.events) < 1:
        parser.error("--persons, --round-persons, --threads, --cache-persons and --events take a positive number")
    return args


def percentile(values: list[float], rank: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * rank / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def connect_google(fake: object, session: object, user: object) -> None:
    """The person's OAuth round trip with the stand-in (authorize, code, tokens), stored as the callback stores it."""
    import httpx

    from oo_app.calendar import google, google_routes
    from oo_app.integrations import oauth, schedule

    provider = google.google_provider()
    redirect_uri = fake.redirect_uri  # type: ignore[attr-defined]
    at_google = httpx.get(google.authorization_url(provider, redirect_uri, "bench"), follow_redirects=False)
    code = parse_qs(urlsplit(at_google.headers["location"]).query)["code"][0]
    integration = oauth.save_connection(session, user, provider, oauth.exchange_code(provider, code, redirect_uri))
    integration.label = google_routes.LABEL
    schedule.restart(integration, datetime.now(UTC))
    session.add(integration)  # type: ignore[attr-defined]
    session.commit()  # type: ignore[attr-defined]


# --- syncs ----------------------------------------------------------------------------------------------------------


def new_person(session: object, email: str) -> object:
    from oo_app.models import Consent, User

    user = User(email=email, display_name="Bench", tz="Europe/Berlin")
    session.add(user)  # type: ignore[attr-defined]
    session.flush()  # type: ignore[attr-defined]
    session.add(Consent(user_id=user.id, key="calendar", granted=True, text_version="v2"))  # type: ignore[attr-defined]
    session.commit()  # type: ignore[attr-defined]
    return user


def tips_of(session: object, user: object) -> int:
    from sqlmodel import func, select

    from oo_app.models import Tip

    return session.exec(select(func.count()).select_from(Tip).where(Tip.user_id == user.id)).one()  # type: ignore


def sync_costs(
    kind: str, persons: int, connect: Callable[..., object], toggle: Callable[[], None]
) -> dict[str, list[float]]:
    """Seconds of one sync per person in each of :data:`CASES`: each person connected first (not timed), then synced
    as held, as a process holding nothing, and after their calendar changed (checked: the calendar agent computed
    afresh and a second tip was written, the first being the connection's)."""
    from sqlmodel import Session

    from oo_app import db
    from oo_app.calendar import access, busy_cache, google_api, sync

    costs: dict[str, list[float]] = {case: [] for case in CASES}
    with Session(db.get_engine(), expire_on_commit=False) as session:
        for index in range(persons):
            user = new_person(session, f"bench-{kind}-{index}@example.com")
            connect(session, user)
            if access.integration_of(session, user, kind).last_synced_at is None:
                sync.sync(session, user, kind)  # Google's first read: the callback leaves it to a background task
            for case in CASES:
                if case == CASES[1]:  # another worker: it holds neither the busy times nor Google's mirror
                    busy_cache.forget(user.id)
                    google_api.forget(access.integration_of(session, user, kind).id)
                if case == CASES[2]:
                    toggle()
                started = time.perf_counter()
                report = sync.sync(session, user, kind)
                costs[case].append(time.perf_counter() - started)
                if case == CASES[2] and not (report.recomputed and tips_of(session, user) == 2):
                    raise RuntimeError(f"{kind}: a changed calendar wrote no fresher tip: {report.as_dict()}")
    return costs


def report_line(label: str, costs: list[float]) -> None:
    millis = [cost * 1000 for cost in costs]
    print(
        f"  {label:<28} {len(millis):>5} persons  mean {statistics.fmean(millis):7.1f} ms  "
        f"p50 {percentile(millis, 50):7.1f} ms  p95 {percentile(millis, 95):7.1f} ms"
    )


def measure(label: str, kind: str, persons: int, connect: Callable[..., object], toggle: Callable[[], None]) -> None:
    print(label)
    for case, costs in sync_costs(kind, persons, connect, toggle).items():
        report_line(case, costs)


def measure_rounds(persons: int, threads: int, address: str) -> None:
    """Two rounds of ``persons`` ICS calendars all due at once (stored as a connection stores them, unread)."""
    import sqlalchemy as sa
    from sqlmodel import Session

    from oo_app import db
    from oo_app.calendar import access, jobs
    from oo_app.calendar.sources import ICS
    from oo_app.integrations.vault import get_vault
    from oo_app.models import Integration
    from oo_app.settings import get_settings

    vault, now = get_vault(), datetime.now(UTC)
    with Session(db.get_engine()) as session:
        for index in range(persons):
            user = new_person(session, f"bench-round-{index}@example.com")
            secret = vault.encrypt(access.encode_credentials(ICS, {"address": address}))
            session.add(
                Integration(
                    user_id=user.id,
                    provider=ICS,
                    status="connected",
                    access_token_enc=secret,
                    next_attempt_at=now,
                )
            )
        session.commit()
    for label in ("first round (busy times new)", "second round (unchanged)"):
        started = time.perf_counter()
        synced = jobs.sync_due(now=datetime.now(UTC), limit=persons, threads=threads, budget_s=3600)
        seconds = time.perf_counter() - started
        rate = synced / seconds
        per_round = min(rate * jobs.ROUND_BUDGET_S, get_settings().calendar_round_max)
        per_interval = per_round * INTERVAL_S / jobs.ROUND_INTERVAL_S
        print(
            f"  {label:<30} {synced:>5} calendars, {threads} threads: {seconds:6.1f} s, {rate:5.1f} a second "
            f"-> {per_interval:,.0f} calendars a 15-minute interval (50 s a minute, at most "
            f"{get_settings().calendar_round_max} a round)"
        )
        with db.get_engine().begin() as connection:  # every calendar due again for the next round
            connection.execute(sa.update(Integration).values(next_attempt_at=datetime.now(UTC)))


def run_syncs(args: argparse.Namespace, workdir: Path) -> None:
    from cryptography.fernet import Fernet

    now = datetime.now(UTC)
    plan, change = planned_events(args.events, now, seed=7), change_event(now)
    body = wrap("\r\n".join(ics_event(event) for event in plan))
    changed = wrap("\r\n".join(ics_event(event) for event in [*plan, change]))
    with google_stand_in(plan, change) as (fake, google_toggle):
        os.environ.update(
            OO_ENV="test",
            OO_DATABASE_URL=f"sqlite:///{workdir / 'oo.db'}",
            OO_TOKEN_KEYS=json.dumps([Fernet.generate_key().decode()]),
            OO_TRACING_ENABLED="false",
            OO_SCHEDULER_ENABLED="false",
            OO_GOOGLE_CALENDAR_CLIENT_ID=fake.client_id,  # type: ignore[attr-defined]
            OO_GOOGLE_CALENDAR_CLIENT_SECRET=fake.client_secret,  # type: ignore[attr-defined]
            OO_GOOGLE_OAUTH_URL=fake.authorize_url,  # type: ignore[attr-defined]
            OO_GOOGLE_TOKEN_URL=fake.token_url,  # type: ignore[attr-defined]
            OO_GOOGLE_REVOKE_URL=fake.revoke_url,  # type: ignore[attr-defined]
            OO_GOOGLE_CALENDAR_API_URL=fake.api_url,  # type: ignore[attr-defined]
        )
        os.environ.setdefault("OO_TIP_WRITER", "rules")
        from oo_app import db
        from oo_app.bootstrap import bootstrap
        from oo_app.calendar import connections
        from oo_app.calendar.sources import CALDAV, GOOGLE, ICS

        db.migrate(os.environ["OO_DATABASE_URL"])
        bootstrap()
        print(
            f"one calendar of {args.events} events ({len(body.encode()) // 1024} KiB of iCalendar), Berlin time; "
            f"tips by {os.environ['OO_TIP_WRITER']}; SQLite"
        )
        with ics_server([body.encode(), changed.encode()]) as (address, toggle):
            measure(
                "ICS on loopback",
                ICS,
                args.persons,
                lambda s, u: connections.connect_ics(s, u, address),
                toggle,
            )
            print("rounds of due ICS calendars")
            measure_rounds(args.round_persons, args.threads, address)
        with radicale(plan, change, workdir / "radicale") as (url, toggle):
            caldav = lambda s, u: connections.connect_caldav(s, u, url, "bench", "x")  # noqa: E731
            measure("CalDAV (Radicale) on loopback", CALDAV, args.persons, caldav, toggle)
        google = lambda s, u: connect_google(fake, s, u)  # noqa: E731
        measure("Google Calendar (stand-in) on loopback", GOOGLE, args.persons, google, google_toggle)
    from oo_app.llm.local import local_llama

    print(f"local model loaded: {'yes' if local_llama.cache_info().currsize else 'no'}")


# --- the memory -----------------------------------------------------------------------------------------------------


def typical_days(rng: random.Random, now: datetime, days: int = 2) -> list[BusyInterval]:
    """``days`` days of a busy person: 3 to 8 meetings a day of 15 to 90 minutes on the half hour."""
    intervals = []
    for day in range(days):
        for _ in range(rng.randint(3, 8)):
            start = now + day * DAY + timedelta(minutes=30 * rng.randrange(0, 20))
            intervals.append(BusyInterval(start, start + timedelta(minutes=rng.choice([15, 30, 45, 60, 90]))))
    return intervals


def interval_bytes(sample: BusyInterval) -> int:
    return sys.getsizeof(sample) + 2 * sys.getsizeof(sample.start)


def cache_memory(persons: int) -> None:
    from oo_app.calendar import busy_cache

    rng, now = random.Random(11), datetime(2026, 11, 20, 7, tzinfo=UTC)
    plans = [typical_days(rng, now) for _ in range(persons)]  # built first: only what the cache keeps counts
    intervals = sum(len(plan) for plan in plans)
    cache = busy_cache._Cache(max(persons, 1))
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for user_id, plan in enumerate(plans, start=1):
        cache.put(user_id, "calendar-ics", tuple(sorted(set(plan))), -1.0)
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    # The intervals were built before tracing: their own objects are added as measured one by one.
    per_interval = interval_bytes(plans[0][0])
    total = held + intervals * per_interval
    print(
        f"busy cache: {persons} persons, {intervals} intervals: {total / 2**20:.1f} MiB "
        f"({total / persons:.0f} bytes a person; {per_interval} bytes an interval)"
    )


def mirror_memory(persons: int) -> None:
    """Google's mirrors (``oo_app.calendar.google_api``): per connection, the busy instances by id over the window a
    full read covers (the 48 hours and the rest of today, plus a day of slack), and the sync token."""
    from oo_app.calendar.google_api import WINDOW_SLACK, Mirror

    rng, now = random.Random(13), datetime(2026, 11, 20, 7, tzinfo=UTC)
    days = 3  # the rest of today and the next 48 hours, and WINDOW_SLACK (a day) past them
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    mirrors: OrderedDict[int, Mirror] = OrderedDict()
    instances = 0
    for key in range(1, persons + 1):
        busy = {
            f"{secrets.token_hex(13)}_{interval.start:%Y%m%dT%H%M%SZ}": interval
            for interval in typical_days(rng, now, days)
        }
        instances += len(busy)
        token = "CP" + secrets.token_urlsafe(24)  # Google's are about that long
        mirrors[key] = Mirror(token, now, now + 2 * DAY + WINDOW_SLACK, busy)
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    print(
        f"Google mirrors: {persons} connections, {instances} instances: {held / 2**20:.1f} MiB "
        f"({held / persons:.0f} bytes a connection)"
    )


def main(argv: list[str] | None = None) -> None:
    # Run as a script, this file's folder is on the path, and its name would shadow the standard ``calendar``.
    sys.path[:] = [entry for entry in sys.path if entry != HERE]
    args = parse_args(argv)
    if not args.skip_sync:
        with tempfile.TemporaryDirectory(prefix="oo-bench-calendar-") as workdir:
            run_syncs(args, Path(workdir))
    cache_memory(args.cache_persons)
    mirror_memory(args.cache_persons)


if __name__ == "__main__":
    main()
