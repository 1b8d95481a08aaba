"""Busy intervals and free blocks (agents/busy.py): what "busy" means whatever the overlaps, on the person's clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agents.busy import BusyInterval, busy_at, free_blocks, merge, next_busy, next_free_block, summarize_day

BERLIN = ZoneInfo("Europe/Berlin")


def at(hour: int, minute: int = 0, day: int = 7) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)


def test_an_interval_must_end_after_it_starts() -> None:
    with pytest.raises(ValueError, match="ends after it starts"):
        BusyInterval(at(10), at(10))


def test_overlapping_and_touching_meetings_are_one_busy_stretch() -> None:
    merged = merge([BusyInterval(at(11), at(12)), BusyInterval(at(9), at(10)), BusyInterval(at(10), at(10, 30))])
    assert merged == (BusyInterval(at(9), at(10, 30)), BusyInterval(at(11), at(12)))


def test_busy_at_and_next_busy() -> None:
    meetings = [BusyInterval(at(9), at(10)), BusyInterval(at(9, 30), at(10, 30)), BusyInterval(at(14), at(15))]
    assert busy_at(meetings, at(10, 15)) == BusyInterval(at(9), at(10, 30))
    assert busy_at(meetings, at(10, 30)) is None, "the end of a meeting is free"
    assert next_busy(meetings, at(11)) == BusyInterval(at(14), at(15))
    assert next_busy(meetings, at(15)) is None


def test_the_next_free_block_skips_gaps_too_short_to_use() -> None:
    meetings = [BusyInterval(at(9), at(10)), BusyInterval(at(10, 10), at(11)), BusyInterval(at(13), at(14))]
    block = next_free_block(meetings, at(9, 30))
    assert (block.start, block.end, block.minutes) == (at(11), at(13), 120), "10 minutes between two is not free"
    assert next_free_block(meetings, at(14)).end is None, "nothing booked after: open-ended"


def test_a_day_is_summarised_on_the_persons_clock_across_a_dst_change() -> None:
    # 25 October 2026: Berlin's day has 25 hours; a meeting 23:30-01:00 local crosses into the next day.
    meetings = [
        BusyInterval(datetime(2026, 10, 25, 9, tzinfo=BERLIN), datetime(2026, 10, 25, 10, tzinfo=BERLIN)),
        BusyInterval(datetime(2026, 10, 25, 9, 30, tzinfo=BERLIN), datetime(2026, 10, 25, 11, tzinfo=BERLIN)),
        BusyInterval(datetime(2026, 10, 25, 23, 30, tzinfo=BERLIN), datetime(2026, 10, 26, 1, tzinfo=BERLIN)),
    ]
    day = summarize_day(meetings, date(2026, 10, 25), BERLIN)
    assert (day.busy_minutes, day.meetings) == (120 + 30, 3), "overlaps counted once in minutes, each as a meeting"
    assert day.first_busy == datetime(2026, 10, 25, 9, tzinfo=BERLIN)
    assert day.last_busy == datetime(2026, 10, 26, 0, tzinfo=BERLIN), "clipped at the local midnight"
    assert summarize_day(meetings, date(2026, 10, 26), BERLIN).busy_minutes == 60


moments = st.integers(min_value=0, max_value=48 * 60).map(lambda m: at(0) + timedelta(minutes=m))


@given(st.lists(st.tuples(moments, st.integers(min_value=1, max_value=300)), max_size=12), moments)
def test_free_blocks_never_overlap_a_meeting(raw: list[tuple[datetime, int]], moment: datetime) -> None:
    meetings = [BusyInterval(start, start + timedelta(minutes=length)) for start, length in raw]
    for block in free_blocks(meetings, moment):
        end = block.end or moment + timedelta(hours=48)
        assert all(m.end <= block.start or m.start >= end for m in meetings), (block, meetings)
        assert busy_at(meetings, block.start) is None
