"""The inference rules every agent obeys: cold start, errors never raised, the person's own values never overwritten."""

from __future__ import annotations

import dataclasses
import logging
import re
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from agents.base import ASSUMED, AgentManifest, InferredParam, TipOutcome, UserHistory
from agents.inference import (
    effective_params,
    infer_params,
    learned_keys,
    run_inference,
    save_inferred,
    upsert_inferred,
)
from agents.registry import get_agent
from oo_app.models import PrefSource, User, UserPreference
from tests.conftest import NOW


def _manifest(*params: InferredParam) -> AgentManifest:
    return AgentManifest("probe", "1.0.0", "test agent", timedelta(hours=1), timedelta(hours=1), params=params)


def _history(events: int) -> UserHistory:
    return UserHistory.build(
        events=[("tip_done", NOW - timedelta(hours=i)) for i in range(events)], task_completions=[], tz="UTC", now=NOW
    )


def test_below_min_history_the_cold_start_default_is_used() -> None:
    manifest = _manifest(InferredParam("count", -1, lambda h: len(h.events), min_history=5))
    assert run_inference(manifest, _history(4)) == {"count": -1}
    assert run_inference(manifest, _history(5)) == {"count": 5}


def test_learned_keys_are_those_the_history_tells_not_the_defaults() -> None:
    manifest = _manifest(
        InferredParam("count", -1, lambda h: len(h.events), min_history=5),
        InferredParam("guarded", 0, lambda h: None),  # min_history 0, guarded inside infer(): nothing to tell
        InferredParam("broken", 0, lambda h: 1 / 0),
    )
    assert learned_keys(manifest, _history(4)) == set()
    assert learned_keys(manifest, _history(5)) == {"count"}


def test_what_most_people_take_up_is_not_learned_about_the_person() -> None:
    learner = get_agent("learner").manifest
    prior_only = dataclasses.replace(_history(0), tip_prior=(("momentum", 30.0, 10.0),))
    answered = dataclasses.replace(prior_only, tip_outcomes=(TipOutcome(NOW, "momentum", "todo", "done"),))

    assert run_inference(learner, prior_only)["tastes"] != {}, "the prior is what oO goes by meanwhile"
    assert learned_keys(learner, prior_only) == set()
    assert learned_keys(learner, answered) == {"tastes"}


def test_an_infer_error_yields_the_default_and_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    def broken(_history: UserHistory) -> int:
        raise ZeroDivisionError("boom")

    manifest = _manifest(InferredParam("fragile", 7, broken), InferredParam("fine", 0, lambda h: 1))
    with caplog.at_level(logging.ERROR, logger="agents.inference"):
        assert run_inference(manifest, _history(3)) == {"fragile": 7, "fine": 1}
    assert "probe.fragile" in caplog.text


def test_history_ignores_what_happens_after_now_and_reads_naive_times_as_utc() -> None:
    history = UserHistory.from_mapping(
        {
            "tz": "Nowhere/Atlantis",
            "now": "2026-11-20T12:00:00",
            "events": [
                {"type": "tip_done", "at": "2026-11-20T11:00:00"},
                {"type": "tip_done", "at": "2030-01-01T00:00"},
            ],
            "task_completions": [],
            "truth": {"preferred_hour": 11},
        }
    )
    assert [e.at.isoformat() for e in history.events] == ["2026-11-20T11:00:00+00:00"]
    assert history.tz == "UTC", "an unknown zone falls back to UTC"


def test_inference_never_overwrites_a_value_the_person_set(session: Session) -> None:
    user = User(email="p@example.com")
    session.add(user)
    session.flush()
    session.add(UserPreference(user_id=user.id, scope="probe", key="hour", value=6, source=PrefSource.user))
    save_inferred(session, user.id, "probe", {"hour": 19, "tz": "Europe/Berlin"})
    own = save_inferred(session, user.id, "probe", {"hour": 20, "tz": "Asia/Tokyo"})
    assert own == {"hour": 6}, "it hands back the person's own values, which the runner lets win"
    prefs = {p.key: p for p in session.exec(select(UserPreference).where(UserPreference.user_id == user.id))}
    assert (prefs["hour"].value, prefs["hour"].source) == (6, PrefSource.user)
    assert (prefs["tz"].value, prefs["tz"].source) == ("Asia/Tokyo", PrefSource.inferred)
    manifest = _manifest(InferredParam("hour", 0, lambda h: 0), InferredParam("tz", "UTC", lambda h: "UTC"))
    assert effective_params(session, user.id, manifest, {"hour": 20, "tz": "Asia/Tokyo"}) == {
        "hour": 6,
        "tz": "Asia/Tokyo",
    }


@pytest.mark.parametrize("any_database", ["sqlite", "postgresql"], indirect=True)
def test_a_key_stored_meanwhile_by_another_run_is_updated_not_a_duplicate_key_error(any_database: Session) -> None:
    """Two workers computing one person both see the key missing; the second insert lands on the first's row."""
    session = any_database
    user = User(email="race@example.com")
    session.add(user)
    session.flush()
    session.add(UserPreference(user_id=user.id, scope="probe", key="mine", value=6, source=PrefSource.user))
    session.add(UserPreference(user_id=user.id, scope="probe", key="hour", value=9, source=PrefSource.inferred))
    session.flush()
    upsert_inferred(session, user.id, "probe", "hour", 19)  # as if this run had not seen the row
    upsert_inferred(session, user.id, "probe", "mine", 20)
    rows = session.exec(
        select(UserPreference.key, UserPreference.value, UserPreference.source).where(UserPreference.user_id == user.id)
    ).all()
    assert sorted(rows) == [("hour", 19, PrefSource.inferred), ("mine", 6, PrefSource.user)]


def test_a_value_without_history_is_marked_assumed_and_a_learned_one_is_not() -> None:
    manifest = _manifest(
        InferredParam("count", -1, lambda h: len(h.events), min_history=5),
        InferredParam("never", 3, lambda h: None),  # inference found nothing: the default stands in
    )
    assert infer_params(manifest, _history(4)).assumed == {"count", "never"}
    assert infer_params(manifest, _history(5)).assumed == {"never"}, "five events: the count is learned"


def test_a_value_the_person_set_is_theirs_never_an_assumption() -> None:
    manifest = _manifest(InferredParam("hour", 10, lambda h: None), InferredParam("other", 1, lambda h: None))
    params = infer_params(manifest, _history(0)).params({"hour": 8})
    assert params["hour"] == 8
    assert params[ASSUMED] == {"other"}, "their own hour is not assumed; the other still is"


def test_the_runner_tells_a_new_persons_agent_which_hours_it_assumed(session: Session) -> None:
    from agents.registry import get_agent
    from agents.runner import compute_output
    from oo_app.demo import grant_consents
    from oo_app.profile.prefs import set_preference

    newcomer = User(email="new@example.com", display_name="New", tz="Europe/Berlin")
    session.add(newcomer)
    session.flush()
    grant_consents(session, newcomer, ("activity",))
    output = compute_output(session, newcomer, get_agent("time-of-day"), NOW)
    assert output is not None
    assert output.data[ASSUMED] == ["peak_hours", "preferred_hour", "quiet_end", "quiet_start"]
    said = set(re.findall(r"\d\d:\d\d", output.snippet))
    assert said == {output.data["local_time"]}, f"no assumed hour in the line, only the clock: {output.snippet}"

    set_preference(session, newcomer, "time-of-day", "quiet_start", 21, NOW)  # as /settings does
    later = compute_output(session, newcomer, get_agent("time-of-day"), NOW + timedelta(hours=2))
    assert "quiet_start" not in later.data[ASSUMED], "an hour they set is theirs"
    assert "quiet_end" in later.data[ASSUMED]
