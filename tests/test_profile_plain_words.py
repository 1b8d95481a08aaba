"""What oO learned, in plain words: the sentences of every agent's parameters (learned, assumed, set by the person),
the controls they offer, and the honesty rule: a value oO has not learned is never said as learned."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from agents.base import UserHistory
from agents.inference import learned_keys, run_inference
from agents.registry import registry
from agents.runner import run_due
from oo_app.demo import Habits, grant_consents, store_history, synthetic_history
from oo_app.errors import InvalidInput
from oo_app.models import User
from oo_app.profile import prefs
from oo_app.profile.consents import ConsentState
from oo_app.profile.plain_words import ENERGY_DIPS, QUIET_WINDOW, USUAL_DAY, Statement, statements
from oo_app.profile.prefs import ParamState
from oo_app.profile.sayings import agent_title
from oo_app.state.learned import chosen_areas, plainly, said_rows, whole_hour
from tests.test_profile_helpers import NOW, signed_in

PERSONAS = Path(__file__).parent / "personas"


def param(key: str, value: Any, source: str = "inferred", inferred: Any = None, learned: bool | None = None):
    """A parameter as the profile lists it: ``inferred`` defaults to the value, ``learned`` to its source."""
    return ParamState(
        key=key,
        description="",
        value=value,
        source=source,  # type: ignore[arg-type]
        inferred=value if inferred is None else inferred,
        default=None,
        expects="",
        updated_at=None,
        learned=source != "default" if learned is None else learned,
    )


def said(*params: ParamState, areas: tuple[str, ...] = ()) -> list[Statement]:
    return statements(list(params), areas)


def test_a_learned_best_hour_reads_as_a_fact_and_an_assumed_one_says_so() -> None:
    (learned,) = said(param("preferred_hour", 10))
    (assumed,) = said(param("preferred_hour", 10, "default"))

    assert learned.text == "You get the most done around 10:00."
    assert (learned.source, learned.control, learned.value) == ("inferred", "hour", ["10"])
    assert assumed.text == "oO is still learning your best hour; it assumes 10:00 until then."
    assert assumed.source == "default"


def test_a_value_the_person_set_says_what_oo_learned_beside_it() -> None:
    (mine,) = said(param("preferred_hour", 8, "user", inferred=10, learned=True))
    (mine_early,) = said(param("preferred_hour", 8, "user", inferred=10, learned=False))

    assert mine.text == "You get the most done around 08:00."
    assert (mine.source, mine.learned) == ("user", "oO learned: 10:00")
    assert mine_early.learned == "oO has not learned it yet; it would assume 10:00"


def test_the_quiet_hours_read_as_one_window_with_two_pickers() -> None:
    (window,) = said(param("quiet_start", 23), param("quiet_end", 7))
    (assumed,) = said(param("quiet_start", 22, "default"), param("quiet_end", 7, "default"))
    (mixed,) = said(param("quiet_start", 1, "user", inferred=23), param("quiet_end", 7))
    (none,) = said(param("quiet_start", 5), param("quiet_end", 5))

    assert (window.id, window.keys) == (QUIET_WINDOW, ["quiet_start", "quiet_end"])
    assert window.text == "Quiet from 23:00 to 07:00: no tip reaches you then."
    assert (window.control, window.value) == ("window", ["23", "7"])
    assert assumed.text == "oO is still learning when you rest; until then it keeps 22:00 to 07:00 quiet."
    assert (mixed.source, mixed.learned) == ("user", "oO learned: 23:00 to 07:00"), "one end set: set by you"
    assert none.text == "No quiet hours: a tip may reach you at any hour."


def test_areas_read_as_where_you_get_things_done_with_chips_of_your_projects() -> None:
    (areas,) = said(param("preferred_areas", ["Work", "Home"]), areas=("Home", "Health", "Work"))
    (one,) = said(param("preferred_areas", ["Work"]))
    (assumed,) = said(param("preferred_areas", [], "default"), areas=())

    assert areas.text == "Work and Home are where you get things done."
    assert (areas.control, areas.value, areas.choices) == ("areas", ["Work", "Home"], ["Work", "Home", "Health"])
    assert one.text == "Work is where you get the most done."
    assert assumed.text == "oO is still learning where you get things done."
    assert (assumed.control, assumed.choices) == ("areas", []), "no projects yet: nothing to tick"


@pytest.mark.parametrize(
    ("days", "text"),
    [
        (1.0, "Your due dates slip about a day."),
        (0.6, "Your due dates slip about half a day."),
        (3.4, "Your due dates slip about 3 days."),
        (0.1, "You usually finish things on the day they are due."),
        (-2.0, "You usually finish about 2 days before the due date."),
    ],
)
def test_lateness_reads_as_how_much_due_dates_slip(days: float, text: str) -> None:
    assert said(param("lateness_tolerance_days", days))[0].text == text


def test_project_due_dates_name_what_holds_and_what_slips() -> None:
    (mixed,) = said(param("project_realness", {"Health": 0.9, "Home": -0.7, "Work": 0.0}))
    (even,) = said(param("project_realness", {"Health": 0.09, "Home": -0.03, "Work": 0.0}))

    assert mixed.text == "Health due dates hold better than your others; Home due dates slip more."
    assert even.text == "The due dates of Health, Home and Work hold about equally well."


def test_rhythms_momentum_and_a_usual_day_read_as_sentences() -> None:
    weekly, daily = said(
        param("weekly_cycle", {"strength": 0.195, "peak_weekday": 4}),
        param("daily_cycle", {"strength": 7.2, "peak_hour": 10}),
    )
    trend, day = said(
        param("engagement_trend", "falling"), param("baseline_completions_per_day", 3.2), param("stdev", 1.77)
    )
    (cold_trend,) = said(param("engagement_trend", "steady", "default"))

    assert weekly.text == "Your weeks have no strong rhythm; Fridays are a little busier."
    assert daily.text == "Much of your day's work falls around 10:00."
    assert trend.text == "Lately you are getting less done than usual."
    assert (day.id, day.text) == (USUAL_DAY, "On a usual day you get about 3 things done, give or take 2.")
    assert cold_trend.text.startswith("oO needs about five weeks"), "a default 'steady' is not a learned one"


def test_mood_calendar_and_tastes_read_as_sentences() -> None:
    mood, energy = said(param("recent_mood", 1.2), param("low_hours", [15, 16]), param("low_weekdays", [0]))
    (no_dip,) = said(param("low_hours", []), param("low_weekdays", []))
    (meetings,) = said(param("usual_meetings", 3))
    (tastes,) = said(
        param("tastes", {"time-of-day": {"alpha": 8, "beta": 2}, "momentum": 0.1, "momentum@morning": 0.9})
    )

    assert mood.text == "Lately you have felt low."
    assert (energy.id, energy.keys) == (ENERGY_DIPS, ["low_hours", "low_weekdays"])
    assert energy.text == "Your energy tends to dip around 15:00 and 16:00 and on Mondays."
    assert no_dip.text == "Your energy shows no regular dip."
    assert meetings.text == "A usual day of yours holds about 3 meetings."
    assert tastes.text == "You take up most “Your day” tips; you rarely take up “Your pace” tips."


def test_every_agents_parameters_read_as_sentences_learned_or_assumed() -> None:
    history = UserHistory.from_mapping(json.loads((PERSONAS / "persona-7-01.json").read_text()))
    for agent_id, agent in registry().items():
        manifest = agent.manifest
        inferred, learned = run_inference(manifest, history), learned_keys(manifest, history)
        known = [param(p.key, inferred[p.key], "inferred" if p.key in learned else "default") for p in manifest.params]
        same_assumed = [param(p.key, inferred[p.key], "default") for p in manifest.params]
        cold = [param(p.key, p.cold_start_default, "default") for p in manifest.params]
        for fact, assumption, start in zip(said(*known), said(*same_assumed), said(*cold), strict=True):
            for statement in (fact, assumption, start):
                where = f"{agent_id}.{statement.id}: {statement.text!r}"
                assert statement.text.endswith("."), where
                assert "_" not in statement.text, f"a raw parameter name in {where}"
                assert "{" not in statement.text, f"a raw JSON value in {where}"
            assert start.source == "default"
            if fact.source == "inferred":
                assert fact.text != assumption.text, f"{agent_id}.{fact.id}: learned and assumed read alike"
        assert agent_title(agent_id) != agent_id, f"{agent_id} has a title a person reads"


def test_a_value_of_the_wrong_shape_is_said_as_it_is_never_raised() -> None:
    (weekly,) = said(param("weekly_cycle", {"strength": "high"}))
    (hour,) = said(param("preferred_hour", "ten"))

    assert "high" in weekly.text
    assert (hour.control, hour.value) == ("", []), "no picker for a value it cannot show"


def test_an_unknown_parameter_reads_as_its_meaning() -> None:
    (new,) = said(param("nap_length", 20))
    assert new.text == "Nap length: 20."


def test_the_page_rows_flatten_each_agent_with_its_title_on_the_first_row() -> None:
    scope = prefs.ScopePrefs(
        "time-of-day",
        "Places now.",
        False,
        [],
        said(param("preferred_hour", 9), param("quiet_start", 23), param("quiet_end", 7)),
    )
    calendar = prefs.ScopePrefs("calendar", "Reads busy times.", True, [], said(param("usual_meetings", 2)))
    first, window, later = said_rows([calendar, scope])

    assert (first.heading, first.enabled, first.hour) == ("Your day", False, "9"), "their day comes first"
    assert first.about == "When in the day you get things done, and when oO leaves you alone."
    assert (later.scope, later.heading) == ("calendar", "Your calendar")
    assert (window.heading, window.hour, window.end, window.param_keys) == ("", "23", "7", ["quiet_start", "quiet_end"])
    assert window.dom_id == "said-time-of-day-quiet_window"


def test_an_agent_waiting_for_a_consent_says_which_on_its_first_row() -> None:
    calendar = prefs.ScopePrefs("calendar", "", True, [], said(param("usual_meetings", None, "default")))
    day = prefs.ScopePrefs("time-of-day", "", True, [], said(param("preferred_hour", 9)))
    consents = [
        ConsentState("calendar", False, "Your calendar", "", "v1", None, None, ["calendar"]),
        ConsentState("activity", True, "When you use oO", "", "v2", "v2", None, ["time-of-day"]),
    ]

    first, waiting = said_rows([calendar, day], consents)

    assert first.needs == "", "its consent is granted"
    assert waiting.needs == "oO learns this only with the “calendar” consent (Consents, below)."


def test_what_the_controls_send_is_parsed_at_the_boundary() -> None:
    assert whole_hour("9") == 9
    assert whole_hour(" 23 ") == 23
    assert whole_hour("nine") == "nine", "left for the parameter's rule to refuse in words"
    assert whole_hour("1e3") == "1e3"
    assert chosen_areas({"scope": "focus-area", "area:Work": True, "area:Home": False, "area:Health": "on"}) == [
        "Work",
        "Health",
    ]


def test_a_refused_control_value_is_said_in_the_controls_words_and_writes_nothing(session: Session) -> None:
    user = _person(session, "chips@example.com", 90)
    run_due(session, NOW, [user.id])
    session.commit()
    six = ["Work", "Home", "Health", "Garden", "Music", "Books"]

    with pytest.raises(InvalidInput, match=r"^Choose at most 5 of your areas\.$"):
        plainly("areas", lambda s, u: prefs.set_preference(s, u, "focus-area", "preferred_areas", six, NOW))(
            session, user
        )
    with pytest.raises(InvalidInput, match=r"^Choose both ends of your quiet hours"):
        plainly("window", lambda s, u: prefs.set_preferences(s, u, "time-of-day", {"quiet_start": 3, "quiet_end": 24}))(
            session, user
        )
    session.rollback()

    listing = prefs.list_preferences(session, user, NOW)
    assert _statement(listing, "focus-area", "preferred_areas").source == "inferred"
    assert _statement(listing, "time-of-day", QUIET_WINDOW).value == ["23", "7"], "not half-written"


# Through the profile, on real rows


def _person(session: Session, email: str, days: int) -> User:
    user = User(email=email, display_name=email.split("@")[0], tz="Europe/Berlin")
    session.add(user)
    session.flush()
    grant_consents(session, user)
    if days:
        store_history(session, user, synthetic_history(Habits(preferred_hour=9), days=days, now=NOW, seed=5))
    session.commit()
    return user


def _statement(scopes: list[prefs.ScopePrefs], scope: str, statement_id: str) -> Statement:
    found = next(item for item in scopes if item.scope == scope)
    return next(statement for statement in found.in_words if statement.id == statement_id)


def test_a_brand_new_person_is_told_oo_is_still_learning_everything(session: Session) -> None:
    user = _person(session, "new@example.com", 0)
    run_due(session, NOW, [user.id])
    session.commit()

    listing = prefs.list_preferences(session, user, NOW)

    sources = {(scope.scope, s.id): s.source for scope in listing[1:] for s in scope.in_words if s.id != "tz"}
    assert set(sources.values()) == {"default"}, f"stored cold-start defaults read as learned: {sources}"
    assert _statement(listing, "time-of-day", "preferred_hour").text.startswith("oO is still learning your best hour")
    labels = {row.id: row.source_label for row in said_rows(listing[1:])}
    assert labels["tz"] == "from your browser or sign-in", "the zone is taken, not learned"
    assert labels["preferred_hour"] == "not learned yet"


def test_a_short_history_learns_the_hours_but_not_yet_the_momentum(any_database: Session) -> None:
    session = any_database
    user = _person(session, "short@example.com", 14)
    run_due(session, NOW, [user.id])
    session.commit()

    listing = prefs.list_preferences(session, user, NOW)

    assert _statement(listing, "time-of-day", "preferred_hour").source == "inferred"
    trend = _statement(listing, "momentum", "engagement_trend")
    assert trend.source == "default", "two weeks cannot tell a trend, though the runner stored 'steady'"
    assert trend.text.startswith("oO needs about five weeks")


def test_a_person_with_history_reads_what_oo_learned_and_their_areas(session: Session) -> None:
    user = _person(session, "known@example.com", 90)
    run_due(session, NOW, [user.id])
    session.commit()

    listing = prefs.list_preferences(session, user, NOW)

    assert _statement(listing, "time-of-day", "preferred_hour").text == "You get the most done around 09:00."
    quiet = _statement(listing, "time-of-day", QUIET_WINDOW)
    assert quiet.text == "Quiet from 23:00 to 07:00: no tip reaches you then."
    areas = _statement(listing, "focus-area", "preferred_areas")
    assert areas.text == "Work and Home are where you get things done."
    assert areas.choices == ["Work", "Home", "Health"]
    assert _statement(listing, "overdue-task", "lateness_tolerance_days").text == "Your due dates slip about a day."


def test_setting_the_quiet_window_is_all_or_nothing_and_use_what_oo_learned_restores_it(any_database: Session) -> None:
    session = any_database
    user = _person(session, "quiet@example.com", 90)
    run_due(session, NOW, [user.id])
    session.commit()

    with pytest.raises(InvalidInput, match="quiet_end: expected an hour of the day"):
        prefs.set_preferences(session, user, "time-of-day", {"quiet_start": 21, "quiet_end": "six"}, NOW)
    session.rollback()
    untouched = _statement(prefs.list_preferences(session, user, NOW), "time-of-day", QUIET_WINDOW)
    assert (untouched.source, untouched.value) == ("inferred", ["23", "7"])

    scope = prefs.set_preferences(session, user, "time-of-day", {"quiet_start": 21, "quiet_end": 6}, NOW)
    window = _statement([scope], "time-of-day", QUIET_WINDOW)
    assert (window.text, window.source) == ("Quiet from 21:00 to 06:00: no tip reaches you then.", "user")
    assert window.learned == "oO learned: 23:00 to 07:00"

    scope = prefs.set_preferences(session, user, "time-of-day", dict.fromkeys(window.keys), NOW + timedelta(minutes=1))
    restored = _statement([scope], "time-of-day", QUIET_WINDOW)
    assert (restored.source, restored.value) == ("inferred", ["23", "7"])


def test_the_api_serves_the_sentences_beside_the_raw_values(session: Session) -> None:
    user = _person(session, "api@example.com", 90)
    run_due(session, NOW, [user.id])
    session.commit()

    with signed_in(user) as client:
        profile = client.get("/api/profile").json()
        changed = client.patch("/api/profile/prefs/time-of-day", json={"quiet_start": 22, "quiet_end": 6})

    time_of_day = next(scope for scope in profile["prefs"] if scope["scope"] == "time-of-day")
    hour = next(item for item in time_of_day["params"] if item["key"] == "preferred_hour")
    assert {"value", "source", "inferred", "default", "expects"} <= set(hour), "the raw contract is kept"
    assert hour["learned"] is True
    window = next(item for item in time_of_day["in_words"] if item["id"] == QUIET_WINDOW)
    assert (window["text"], window["source"]) == ("Quiet from 23:00 to 07:00: no tip reaches you then.", "inferred")
    assert changed.status_code == 200
    window = next(item for item in changed.json()["in_words"] if item["id"] == QUIET_WINDOW)
    assert (window["text"], window["source"]) == ("Quiet from 22:00 to 06:00: no tip reaches you then.", "user")
