"""Meetings and timing: a push never lands in a meeting (it goes at the start of the first free block long enough to
read a tip inside its slot's productive window, or the slot passes), never in the quiet hours, once per slot; its TTL
ends before the next meeting; a snooze in a meeting resumes when the person is free again (for long enough to read a
tip) before the next morning; and an open page keeps its tip while the person is in a meeting or about to go into
one. Busy intervals come through the wired provider (:func:`agents.runner.provide_busy`), as the bootstrap wires
the calendar's."""

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
from oo_app.models import PrefSource, Tip, User, UserPreference
from oo_app.push.delivery import deliver_due
from oo_app.push.keys import generate_private_key, public_key_of, raw_private_key
from oo_app.push.slots import meeting_hold, push_ttl
from oo_app.push.subscriptions import PUSH_CONSENT, subscribe
from oo_app.recommender import react
from oo_app.recommender.feedback import replacement_tip
from oo_app.recommender.prompts import CURRENT_VERSION
from oo_app.recommender.timing import next_morning, push_moment, slot_window, snooze_until
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


def test_a_slots_productive_window_runs_through_the_productive_hours_after_it_up_to_the_next_delivery_hour() -> None:
    wide = _params(preferred_hour=9, peak_hours=[8, 9, 10, 11, 12], quiet_start=22, quiet_end=7)  # delivers 8, 9, 10
    ten, eight = _at(2026, 11, 20, 10), _at(2026, 11, 20, 8)
    assert slot_window(wide, ten) == (ten, _at(2026, 11, 20, 13)), "11 and 12 are productive, not delivery hours"
    assert slot_window(wide, eight) == (eight, _at(2026, 11, 20, 9)), "09:00 is the next slot's"
    assert slot_window(_params(), _at(2026, 11, 20, 14)) == (_at(2026, 11, 20, 14), _at(2026, 11, 20, 15))
    evening = _params(preferred_hour=20, peak_hours=[20, 21, 22], quiet_start=22, quiet_end=7)
    assert slot_window(evening, _at(2026, 11, 20, 21))[1] == _at(2026, 11, 20, 22), "never into the quiet hours"


def test_a_delivery_moment_in_a_meeting_moves_to_the_next_free_block_in_its_productive_window() -> None:
    params = _params(preferred_hour=9, peak_hours=[8, 9, 10, 11], quiet_start=22, quiet_end=7)  # delivers 8, 9, 10
    ten = _at(2026, 11, 20, 10)
    assert push_moment(params, ten, []) == ten, "free: the moment itself"
    assert push_moment(params, ten, [_meeting(ten, 60)]) == _at(2026, 11, 20, 11), "11:00 is still productive"
    assert push_moment(params, ten, [_meeting(ten - timedelta(minutes=30), 45)]) == ten + timedelta(minutes=15)
    overlapping = [_meeting(ten - timedelta(minutes=5), 10), _meeting(ten + timedelta(minutes=3), 10)]
    assert push_moment(params, ten, overlapping) == ten + timedelta(minutes=13), "overlaps are one meeting"
    short_gap = [_meeting(ten, 30), _meeting(ten + timedelta(minutes=35), 40)]
    assert push_moment(params, ten, short_gap) == ten + timedelta(minutes=75), "5 free minutes are no time to read"
    assert push_moment(params, ten, [_meeting(ten + timedelta(minutes=5), 30)]) == ten + timedelta(minutes=35), (
        "free for 5 minutes before a meeting: after it"
    )
    assert push_moment(params, ten, [_meeting(ten + timedelta(minutes=10), 30)]) == ten, "10 free minutes will do"


def test_a_meeting_that_fills_the_productive_window_takes_the_slot() -> None:
    ten = _at(2026, 11, 20, 10)
    assert push_moment(_params(), ten, [_meeting(ten, 60)]) is None, "11:00 is not a productive hour of theirs"
    assert push_moment(_params(), ten, [_meeting(ten, 52)]) == ten + timedelta(minutes=52), "free from 10:52 on"
    back_to_back = [_meeting(ten, 52), _meeting(ten + timedelta(minutes=55), 30)]
    assert push_moment(_params(), ten, back_to_back) is None, "3 free minutes, then the window has passed"
    nine = _at(2026, 11, 20, 9)
    assert push_moment(_params(), nine, [_meeting(nine, 60)]) is None, "10:00 belongs to the next slot"


def test_a_moment_never_moves_into_the_quiet_hours() -> None:
    params = _params(preferred_hour=21, peak_hours=[21], quiet_start=22, quiet_end=7)
    nine_pm = _at(2026, 11, 20, 21)
    assert push_moment(params, nine_pm, [_meeting(nine_pm - timedelta(minutes=50), 65)]) == nine_pm + timedelta(
        minutes=15
    )
    assert push_moment(params, nine_pm, [_meeting(nine_pm, 60)]) is None
    # Productive hours run on past 22:00, but the quiet hours start then.
    owl = _params(preferred_hour=21, peak_hours=[21, 22, 23], quiet_start=22, quiet_end=7)
    assert push_moment(owl, nine_pm, [_meeting(nine_pm, 70)]) is None
    awake = _params(preferred_hour=21, peak_hours=[20, 21, 22, 23], quiet_start=0, quiet_end=7)  # delivers 20-22
    ten_pm = _at(2026, 11, 20, 22)
    assert push_moment(awake, ten_pm, [_meeting(ten_pm, 70)]) == ten_pm + timedelta(minutes=70), "awake until 0:00"


def test_meeting_hold_waits_for_the_free_block_and_passes_the_slot_after_its_grace() -> None:
    nine = _at(2026, 11, 20, 9)
    busy = [_meeting(nine - timedelta(minutes=30), 40)]
    assert meeting_hold(_params(), nine, nine + timedelta(minutes=5), busy, GRACE) == "in_meeting"
    assert meeting_hold(_params(), nine, nine + timedelta(minutes=10), busy, GRACE) is None
    # A calendar answers only the meetings that have not ended: past the grace, the one that held the slot is gone.
    afternoon = [_meeting(_at(2026, 11, 20, 15), 60)]
    assert meeting_hold(_params(), nine, nine + timedelta(minutes=30), afternoon, GRACE) is None, "just out of it"
    assert meeting_hold(_params(), nine, nine + timedelta(minutes=30), [], GRACE) == "not_due", "no calendar: on time"
    later = [_meeting(nine + timedelta(minutes=5), 30)]
    assert meeting_hold(_params(), nine, nine, later, GRACE) == "in_meeting", "5 minutes before a meeting"
    assert meeting_hold(_params(), nine, nine + timedelta(minutes=35), later, GRACE) is None
    assert meeting_hold(_params(), nine, nine, [], GRACE) is None
    assert meeting_hold(_params(), nine, nine + timedelta(minutes=20), [], GRACE) == "not_due"


def test_the_ttl_of_a_push_ends_before_the_next_meeting() -> None:
    nine = _at(2026, 11, 20, 9)
    assert push_ttl(_params(), nine, 1800, [_meeting(nine + timedelta(minutes=10), 30)]) == 600
    assert push_ttl(_params(), nine, 1800, [_meeting(nine + timedelta(hours=2), 30)]) == 1800
    assert push_ttl(_params(), _at(2026, 11, 20, 21, 50), 1800, [_meeting(_at(2026, 11, 20, 23), 30)]) == 600


# --- snooze -----------------------------------------------------------------------------------------------------------


def test_a_snooze_in_a_meeting_resumes_when_the_person_is_free_to_read_before_the_next_morning() -> None:
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
    back_to_back = [_meeting(ten - timedelta(minutes=30), 90), _meeting(_at(2026, 11, 20, 11, 5), 55)]
    assert snooze_until(_params(), ten, busy=back_to_back) == _at(2026, 11, 20, 12), "5 free minutes are too few"


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


def test_no_push_lands_in_a_meeting_and_the_slot_goes_out_when_it_ends(
    session: Session, engine: Engine, subscriber: User, calendars: dict[int, list[BusyInterval]]
) -> None:
    ten = _at(2026, 11, 20, 10)
    calendars[subscriber.id] = [_meeting(ten - timedelta(minutes=30), 40)]
    held = deliver_due(engine, ten + timedelta(minutes=5))
    assert held.pushed == []
    assert held.waited["in_meeting"] == 1
    sent = deliver_due(engine, ten + timedelta(minutes=10))
    assert [(push.status, push.slot) for push in sent.pushed] == [("sent", ten)], "moved to the meeting's end"


def _productive(session: Session, user: User, preferred_hour: int, peak_hours: list[int]) -> None:
    """Set the person's productive hours by hand (the time-of-day agent never overwrites what the person set)."""
    for key, value in (("preferred_hour", preferred_hour), ("peak_hours", peak_hours)):
        session.add(UserPreference(user_id=user.id, scope="time-of-day", key=key, value=value, source=PrefSource.user))
    session.commit()


def test_a_slot_taken_by_an_hour_long_meeting_goes_out_once_when_it_ends_within_the_productive_hours(
    session: Session, engine: Engine, subscriber: User, calendars: dict[int, list[BusyInterval]]
) -> None:
    _productive(session, subscriber, 9, [8, 9, 10, 11])  # delivers at 08:00, 09:00 and 10:00; 11:00 is productive
    ten = _at(2026, 11, 20, 10)
    calendars[subscriber.id] = [_meeting(ten, 60)]
    rounds = [deliver_due(engine, ten + timedelta(minutes=minutes)) for minutes in range(0, 120, 5)]
    pushed = [(report.at, push.slot, push.status) for report in rounds for push in report.pushed]
    assert pushed == [(_at(2026, 11, 20, 11), ten, "sent")], "the 10:00 slot, at 11:00, once"
    assert sum(report.waited["in_meeting"] for report in rounds) == 12, "held through the meeting"
    assert sum(report.waited["slot_taken"] for report in rounds) == 11, "then never pushed again"


def test_a_meeting_that_fills_the_slots_productive_window_takes_the_slot(
    session: Session, engine: Engine, subscriber: User, calendars: dict[int, list[BusyInterval]]
) -> None:
    ten = _at(2026, 11, 20, 10)  # the default rhythm: 09:00, 10:00 and 11:00, each its own window
    calendars[subscriber.id] = [_meeting(ten, 60)]
    rounds = [deliver_due(engine, ten + timedelta(minutes=minutes)) for minutes in range(0, 75, 5)]
    pushed = [(report.at, push.slot) for report in rounds for push in report.pushed]
    assert pushed == [(_at(2026, 11, 20, 11), _at(2026, 11, 20, 11))], "no push for 10:00; 11:00 goes on time"
    assert sum(report.waited["in_meeting"] for report in rounds) == 12, "held for the whole window, then passed"


def test_a_push_never_goes_into_the_quiet_hours_after_a_late_meeting(
    session: Session, engine: Engine, subscriber: User, calendars: dict[int, list[BusyInterval]]
) -> None:
    _productive(session, subscriber, 21, [20, 21, 22, 23])  # quiet from 22:00 (the default): delivers 20:00, 21:00
    nine_pm = _at(2026, 11, 20, 21)
    calendars[subscriber.id] = [_meeting(nine_pm, 70)]
    rounds = [deliver_due(engine, nine_pm + timedelta(minutes=minutes)) for minutes in range(0, 180, 5)]
    assert [push for report in rounds for push in report.pushed] == [], "free from 22:10, in the quiet hours"
    assert sum(report.waited["in_meeting"] for report in rounds) == 12


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


def test_an_open_page_keeps_its_tip_while_the_person_is_in_a_meeting_or_about_to_go_into_one(
    session: Session, subscriber: User, calendars: dict[int, list[BusyInterval]]
) -> None:
    ten = _at(2026, 11, 20, 10)
    tip = _tip(session, subscriber, ten - timedelta(hours=2))
    calendars[subscriber.id] = [_meeting(ten - timedelta(minutes=15), 45)]
    assert replacement_tip(session, subscriber, tip.id, ten) is None, "no new tip swapped in during a meeting"
    calendars[subscriber.id] = [_meeting(ten + timedelta(minutes=5), 30)]
    assert replacement_tip(session, subscriber, tip.id, ten) is None, "nor 5 minutes before one"
    calendars[subscriber.id] = [_meeting(ten + timedelta(minutes=10), 30)]
    fresh = replacement_tip(session, subscriber, tip.id, ten)
    assert fresh is not None, "a stale tip is replaced once the person is free"
    assert fresh.id != tip.id
