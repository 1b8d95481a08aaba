"""The first run: a new person answers once what oO may learn from, and their first tip comes from it at once.

Domain functions on a real migrated database, the sign-in's account creation, export and deletion, and ``oo seed-demo
--fresh-person`` as an operator runs it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime

import pytest
from click.testing import Result
from sqlmodel import Session, select

from oo_app.auth.accounts import person_for_claims
from oo_app.demo import seed_fresh_person
from oo_app.errors import Conflict, InvalidInput
from oo_app.models import AgentOutput, Consent, PrefSource, User, UserPreference
from oo_app.profile.consents import list_consents
from oo_app.profile.deletion import delete_account
from oo_app.profile.export import export_person
from oo_app.profile.first_run import answer_first_run, first_run_pending, first_tip, offered_consents
from oo_app.profile.prefs import scope_preferences, set_preference
from oo_app.recommender.timing import is_quiet, timing_params
from tests.conftest import NOW


def _new_person(session: Session, email: str = "ada@example.com") -> User:
    """A person as a first sign-in makes them."""
    claims = {"sub": f"sub-{email}", "email": email, "email_verified": True, "name": "Ada"}
    person = person_for_claims(session, "oidc", claims)
    session.commit()
    return person


def test_a_person_made_by_their_first_sign_in_meets_the_first_run(session: Session, demo_user: User) -> None:
    assert first_run_pending(_new_person(session))
    assert not first_run_pending(demo_user), "the demo person (a seed) never meets the first run"


def test_the_first_run_offers_every_agent_consent_in_plain_words_and_not_notifications() -> None:
    offered = {consent.key: consent for consent in offered_consents()}
    assert set(offered) == {"activity", "calendar", "mood", "tasks"}
    for consent in offered.values():
        assert consent.title, "a title a person reads"
        assert consent.title != consent.key, "a title a person reads, not the key"
        assert "Lets oO" in consent.text, "what it lets oO do"
        assert "never" in consent.text, "what oO never does with it"


def test_continuing_with_some_consents_runs_their_agents_at_once_and_the_first_tip_comes_from_them(
    session: Session,
) -> None:
    person = _new_person(session)
    answer = answer_first_run(session, person, {"activity": True, "tasks": False}, now=NOW)
    first = first_tip(session, person, now=NOW)
    session.commit()

    assert answer.granted == ["activity"]
    assert not first_run_pending(person)
    granted = {state.key: state.granted for state in list_consents(session, person)}
    assert granted == {"activity": True, "calendar": False, "mood": False, "push": False, "tasks": False}
    computed = set(session.exec(select(AgentOutput.agent_id).where(AgentOutput.user_id == person.id)))
    assert computed == {"learner", "time-of-day"}, "only the agents the granted consent allows ran, with no history yet"
    assert first.agents == ["learner", "time-of-day"]
    assert first.tip.agent_ids, "the first tip is written from the agents' outputs, not a generic tip"
    assert set(first.tip.agent_ids) <= computed


def test_not_now_records_the_answer_grants_nothing_and_the_tip_is_generic(session: Session) -> None:
    person = _new_person(session)
    answer = answer_first_run(session, person, None, now=NOW)
    first = first_tip(session, person, now=NOW)
    session.commit()

    assert (answer.granted, answer.personal) == ([], False)
    assert not first_run_pending(person), "not now counts as answered: the first run is never shown again"
    rows = session.exec(select(Consent).where(Consent.user_id == person.id)).all()
    assert rows, "the answer is recorded"
    assert not any(row.granted for row in rows), "nothing granted"
    assert (first.agents, first.tip.agent_ids) == ([], [])


# 07:30 in Paris on the test's day (UTC+1): a morning hour, but inside the default quiet hours on the UTC clock.
PARIS_MORNING = datetime.fromisoformat("2026-11-20T06:30:00+00:00")


def test_the_browsers_zone_becomes_a_new_persons_zone_and_their_morning_is_not_quiet(session: Session) -> None:
    person = _new_person(session)
    assert person.tz == "UTC", "no zoneinfo claim: the sign-in starts the person in UTC"
    assert is_quiet(timing_params(session, person), PARIS_MORNING), "07:30 in Paris is 06:30 on the UTC clock"

    answer_first_run(session, person, {"activity": True}, now=NOW, zone="Europe/Paris")
    first_tip(session, person, now=NOW)
    session.commit()

    assert session.get(User, person.id).tz == "Europe/Paris"
    inferred = session.exec(
        select(UserPreference).where(UserPreference.user_id == person.id, UserPreference.key == "tz")
    ).one()
    assert (inferred.value, inferred.source) == ("Europe/Paris", PrefSource.inferred), "the agents read the new zone"
    assert not is_quiet(timing_params(session, person), PARIS_MORNING), "07:30 in Paris is no longer a quiet hour"


def test_not_now_takes_the_browsers_zone_too_and_settings_show_it(session: Session) -> None:
    person = _new_person(session)
    answer_first_run(session, person, None, now=NOW, zone="America/New_York")
    session.commit()
    assert session.get(User, person.id).tz == "America/New_York"
    zone = next(param for param in scope_preferences(session, person, "time-of-day", NOW).params if param.key == "tz")
    assert (zone.value, zone.source) == ("America/New_York", "default"), "the settings page shows the zone oO uses"

    set_preference(session, person, "time-of-day", "tz", "Europe/Lisbon", NOW)
    assert timing_params(session, person)["tz"] == "Europe/Lisbon", "the person can still change it there"


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../../etc/passwd", "Europe/" + "x" * 80])
def test_a_zone_oo_does_not_know_is_ignored_with_a_log_line_never_an_error(
    session: Session, zone: str, caplog: pytest.LogCaptureFixture
) -> None:
    person = _new_person(session)
    with caplog.at_level(logging.INFO, logger="oo_app.profile.zone"):
        answer = answer_first_run(session, person, {"tasks": True}, now=NOW, zone=zone)
    session.commit()
    assert answer.granted == ["tasks"], "the answer is recorded all the same"
    assert session.get(User, person.id).tz == "UTC"
    assert "ignored a browser time zone" in caplog.text


def test_a_zone_the_person_set_themselves_is_never_overwritten_by_the_browsers(session: Session) -> None:
    person = _new_person(session)
    set_preference(session, person, "time-of-day", "tz", "Asia/Tokyo", NOW)
    answer_first_run(session, person, {"activity": True}, now=NOW, zone="Europe/Paris")
    first_tip(session, person, now=NOW)
    session.commit()

    assert session.get(User, person.id).tz == "UTC", "the browser's zone is not taken over the person's own"
    assert timing_params(session, person)["tz"] == "Asia/Tokyo", "their own zone governs their quiet hours"


def test_a_zone_the_provider_sent_is_the_persons_own_and_the_browsers_does_not_replace_it(session: Session) -> None:
    claims = {"sub": "sub-eve", "email": "eve@example.com", "email_verified": True, "zoneinfo": "Europe/Berlin"}
    person = person_for_claims(session, "oidc", claims)
    assert person.tz == "Europe/Berlin", "the sign-in starts the person in their provider's zone"
    answer_first_run(session, person, None, now=NOW, zone="Europe/Paris")
    session.commit()
    assert session.get(User, person.id).tz == "Europe/Berlin"


def test_a_browser_that_reports_no_zone_changes_nothing(session: Session) -> None:
    person = _new_person(session)
    answer_first_run(session, person, None, now=NOW, zone=None)
    assert person.tz == "UTC"


def test_answering_twice_changes_nothing(session: Session) -> None:
    person = _new_person(session)
    answer_first_run(session, person, None, now=NOW)
    again = answer_first_run(session, person, {"activity": True, "tasks": True}, now=NOW)
    assert not again.recorded
    assert not any(state.granted for state in list_consents(session, person))


@pytest.mark.parametrize("answer", [{"push": True}, {"location": True}, {"tasks": "yes"}])
def test_an_answer_the_first_run_does_not_offer_is_refused_and_changes_nothing(session: Session, answer) -> None:
    person = _new_person(session)
    with pytest.raises(InvalidInput):
        answer_first_run(session, person, answer, now=NOW)
    assert first_run_pending(person)
    assert session.exec(select(Consent).where(Consent.user_id == person.id)).all() == []


def test_the_answer_is_in_the_export_and_goes_with_the_account(session: Session) -> None:
    person = _new_person(session)
    assert export_person(session, person)["person"]["onboarded_at"] is None
    answer_first_run(session, person, None, now=NOW)
    session.commit()
    assert export_person(session, person)["person"]["onboarded_at"] == "2026-11-20T12:00:00Z"
    delete_account(session, person, person.email)
    session.commit()
    assert session.exec(select(User).where(User.email == "ada@example.com")).first() is None


def test_the_fresh_person_seed_makes_a_person_with_nothing_and_refuses_an_existing_email(session: Session) -> None:
    person = seed_fresh_person(session, " New@Example.com ")
    session.commit()
    assert (person.email, first_run_pending(person)) == ("new@example.com", True)
    assert session.exec(select(Consent).where(Consent.user_id == person.id)).all() == []
    with pytest.raises(Conflict, match="exists already"):
        seed_fresh_person(session, "new@example.com")


def test_oo_seed_demo_fresh_person_prints_what_it_made_and_refuses_an_existing_email(
    oo: Callable[..., Result], sqlite_url: str
) -> None:
    made = oo("seed-demo", "--fresh-person", "fresh@example.com", database_url=sqlite_url)
    assert made.exit_code == 0, made.stderr
    body = json.loads(made.stdout)
    assert body["created"]["email"] == "fresh@example.com"
    assert (body["consents"], body["history"]) == ([], {"events": 0, "task_completions": 0})

    again = oo("seed-demo", "--fresh-person", "fresh@example.com", database_url=sqlite_url)
    assert again.exit_code == 1
    assert again.stdout == ""
    assert "a person with the email fresh@example.com exists already" in again.stderr
    assert "Traceback" not in again.stderr

    demo = oo("seed-demo", database_url=sqlite_url)
    assert "nothing seeded" in demo.stderr, "the demo seed still never touches a database that holds people"
