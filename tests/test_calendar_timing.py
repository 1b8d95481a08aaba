"""Meetings and timing: a push never lands in a meeting (held ``in_meeting``, or moved to the meeting's end within the
grace), its TTL ends before the next meeting, a snooze in a meeting resumes at its end when that comes before the next
morning, and an open page keeps its tip while the person is in a meeting. Busy intervals come through the wired
provider (:func:`agents.runner.provide_busy`), as the bootstrap wires the calendar's."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from agents import runner
from agents.busy import BusyInterval
from oo_app.demo import grant_consents
from oo_app.llm.aliases import COMPOSER_MODEL
from oo_app.models import Tip, User
from oo_app.push.delivery import deliver_due
from oo_app.push.keys import generate_private_key, public_key_of, raw_private_key
from oo_app.push.slots import meeting_hold, push_ttl
from oo_app.push.subscriptions import PUSH_CONSENT, subscribe
from oo_app.recommender import react
from oo_app.recommender.feedback import replacement_tip
from oo_app.recommender.prompts import CURRENT_VERSION
from oo_app.recommender.timing import next_morning, push_moment, snooze_until
from tests.fakes.push_service import FakePushService

BERLIN = "Europe/Berlin"
GRACE = timedelta(minutes=20)


def _at(*args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(BERLIN)).astimezone(UTC)


def _params(**values: Any) -> dict[str, Any]:
    return {"tz": BERLIN, "preferred_hour": 9, "peak_hours": [9, 10, 14], "quiet_start": 22, "quiet_end": 7} | values


def _meeting(start: datetime, minutes: int) -> BusyInterval:
    return BusyInterval(start, start + timedelta(minutes=minutes))


@pytest.fixture
def calendars() -> Iterator[dict[int, list[BusyInterval]]]:
    """Busy intervals by person id, served by a provider wired for the test (and unwired after it)."""
    planted: dict[int, list[BusyInterval]] = {}
    previous = runner._busy_provider
    runner.provide_busy(lambda user_id, _session: planted.get(user_id, []))
    yield planted
    runner.provide_busy(previous)


# --- the moment of a push ---------------------------------------------------------------------------------------------


def test_a_delivery_moment_in_a_meeting_moves_to_its_end_within_the_grace() -> None:
    nine = _at(2026, 11, 20, 9)
    assert push_moment(_params(), nine, [], GRACE) == nine, "free: the moment itself"
    assert push_moment(_params(), nine, [_meeting(nine - timedelta(minutes=30), 45)], GRACE) == nine + timedelta(
        minutes=15
    )
    assert push_moment(_params(), nine, [_meeting(nine, 20)], GRACE) is None, "a meeting as long as the grace takes it"
    overlapping = [_meeting(nine - timedelta(minutes=5), 10), _meeting(nine + timedelta(minutes=3), 10)]
    assert push_moment(_params(), nine, overlapping, GRACE) == nine + timedelta(minutes=13), "overlaps are one meeting"
    assert push_moment(_params(), nine, [_meeting(nine + timedelta(minutes=5), 30)], GRACE) == nine, "starts later"


def test_a_moment_moved_into_the_quiet_hours_is_not_moved() -> None:
    params = _params(preferred_hour=21, peak_hours=[21], quiet_start=22, quiet_end=7)
    nine_pm = _at(2026, 11, 20, 21)
    assert push_moment(params, nine_pm, [_meeting(nine_pm - timedelta(minutes=50), 65)], GRACE) == nine_pm + timedelta(
        minutes=15
    )
    late = _params(preferred_hour=21, peak_hours=[21], quiet_start=21, quiet_end=7)
    evening = _at(2026, 11, 20, 20, 50)
    assert push_moment(late, evening, [_meeting(evening - timedelta(minutes=5), 15)], GRACE) is None


def test_meeting_hold_waits_for_the_meetings_end_and_for_a_meeting_that_starts_after_the_slot() -> None:
    nine = _at(2026, 11, 20, 9)
    busy = [_meeting(nine - timedelta(minutes=30), 40)]
    assert meeting_hold(_params(), nine, nine + timedelta(minutes=5), busy, GRACE) == "in_meeting"
    assert meeting_hold(_params(), nine, nine + timedelta(minutes=10), busy, GRACE) is None
    later = [_meeting(nine + timedelta(minutes=5), 30)]
    assert meeting_hold(_params(), nine, nine + timedelta(minutes=10), later, GRACE) == "in_meeting"
    assert meeting_hold(_params(), nine, nine, [], GRACE) is None


def test_the_ttl_of_a_push_ends_before_the_next_meeting() -> None:
    nine = _at(2026, 11, 20, 9)
    assert push_ttl(_params(), nine, 1800, [_meeting(nine + timedelta(minutes=10), 30)]) == 600
    assert push_ttl(_params(), nine, 1800, [_meeting(nine + timedelta(hours=2), 30)]) == 1800
    assert push_ttl(_params(), _at(2026, 11, 20, 21, 50), 1800, [_meeting(_at(2026, 11, 20, 23), 30)]) == 600


# --- snooze -----------------------------------------------------------------------------------------------------------


def test_a_snooze_in_a_meeting_resumes_at_its_end_when_that_comes_before_the_next_morning() -> None:
    ten = _at(2026, 11, 20, 10)
    assert snooze_until(_params(), ten, busy=[_meeting(ten - timedelta(minutes=30), 90)]) == _at(2026, 11, 20, 11)
    assert snooze_until(_params(), ten, busy=[]) == next_morning(_params(), ten) == _at(2026, 11, 21, 9)
    assert snooze_until(_params(), ten, busy=[_meeting(ten + timedelta(minutes=5), 30)]) == _at(2026, 11, 21, 9), (
        "a meeting still to come does not cut the snooze short"
    )
    night = _at(2026, 11, 20, 21, 30)
    assert snooze_until(_params(), night, busy=[_meeting(night, 60)]) == _at(2026, 11, 21, 9), "ends in quiet hours"
    early = _at(2026, 11, 21, 6, 30)
    assert snooze_until(_params(), early, busy=[_meeting(early, 180)]) == _at(2026, 11, 21, 9), "ends after the morning"


# --- web push, the snooze and the page against a wired calendar -------------------------------------------------------


@pytest.fixture
def vapid(configure: Callable[..., None], tmp_path: Path) -> str:
    key = generate_private_key()
    configure(
        OO_VAPID_PRIVATE_KEY=raw_private_key(key),
        OO_VAPID_SUBJECT="mailto:ops@example.com",
        OO_VAPID_KEY_FILE=str(tmp_path / "unused-vapid.key"),
        OO_PUSH_GRACE_MINUTES="20",
    )
    return public_key_of(key)


@pytest.fixture
def subscriber(session: Session, vapid: str) -> Iterator[User]:
    """A person in Berlin with the default rhythm (first delivery moment 10:00), subscribed with a real browser."""
    with FakePushService() as service:
        user = User(email="busy@push.invalid", display_name="busy", tz=BERLIN)
        session.add(user)
        session.flush()
        grant_consents(session, user, ("activity", "calendar", PUSH_CONSENT))
        body = service.subscribe(vapid).to_json()
        subscribe(session, user, body["endpoint"], body["keys"]["p256dh"], body["keys"]["auth"], now=_at(2026, 11, 19))
        session.commit()
        yield user


def test_no_push_lands_in_a_meeting_and_the_slot_goes_out_when_it_ends_within_the_grace(
    session: Session, engine: Engine, subscriber: User, calendars: dict[int, list[BusyInterval]]
) -> None:
    ten = _at(2026, 11, 20, 10)
    calendars[subscriber.id] = [_meeting(ten - timedelta(minutes=30), 40)]
    held = deliver_due(engine, ten + timedelta(minutes=5))
    assert held.pushed == []
    assert held.waited["in_meeting"] == 1
    sent = deliver_due(engine, ten + timedelta(minutes=10))
    assert [(push.status, push.slot) for push in sent.pushed] == [("sent", ten)], "moved to the meeting's end"


def test_a_meeting_that_outlasts_the_grace_takes_the_slot(
    session: Session, engine: Engine, subscriber: User, calendars: dict[int, list[BusyInterval]]
) -> None:
    ten = _at(2026, 11, 20, 10)
    calendars[subscriber.id] = [_meeting(ten, 60)]
    rounds = [deliver_due(engine, ten + timedelta(minutes=minutes)) for minutes in range(0, 60, 5)]
    assert [push for report in rounds for push in report.pushed] == []
    assert sum(report.waited["in_meeting"] for report in rounds) == 4, "held for the grace, then the slot has passed"


def _tip(session: Session, user: User, created_at: datetime) -> Tip:
    tip = Tip(
        user_id=user.id,
        text="Pick one small task.",
        kind="advice",
        prompt_version=CURRENT_VERSION,
        model_alias="tip-generator",
        model=COMPOSER_MODEL,
        policy="incumbent",
        created_at=created_at,
    )
    session.add(tip)
    session.flush()
    return tip


def test_a_tip_snoozed_in_a_meeting_is_held_until_the_meeting_ends(
    session: Session, subscriber: User, calendars: dict[int, list[BusyInterval]]
) -> None:
    ten = _at(2026, 11, 20, 10)
    calendars[subscriber.id] = [_meeting(ten - timedelta(minutes=15), 45)]
    tip = _tip(session, subscriber, ten)
    snoozed = react(session, subscriber, tip.id, "snoozed", ten)
    assert snoozed.snoozed_until.replace(tzinfo=UTC) == ten + timedelta(minutes=30)


def test_an_open_page_keeps_its_tip_while_the_person_is_in_a_meeting(
    session: Session, subscriber: User, calendars: dict[int, list[BusyInterval]]
) -> None:
    ten = _at(2026, 11, 20, 10)
    tip = _tip(session, subscriber, ten - timedelta(hours=2))
    calendars[subscriber.id] = [_meeting(ten - timedelta(minutes=15), 45)]
    assert replacement_tip(session, subscriber, tip.id, ten) is None, "no new tip swapped in during a meeting"
    calendars[subscriber.id] = []
    fresh = replacement_tip(session, subscriber, tip.id, ten)
    assert fresh is not None, "a stale tip is replaced once the person is free"
    assert fresh.id != tip.id
