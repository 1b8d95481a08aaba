"""The first run: a new person answers once what oO may learn from, and their first tip comes from it at once.

Domain functions on a real migrated database, the sign-in's account creation, export and deletion, and ``oo seed-demo
--fresh-person`` as an operator runs it.
"""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select

from oo_app.auth.accounts import person_for_claims
from oo_app.demo import seed_fresh_person
from oo_app.errors import Conflict, InvalidInput
from oo_app.models import AgentOutput, Consent, User
from oo_app.profile.consents import list_consents
from oo_app.profile.deletion import delete_account
from oo_app.profile.export import export_person
from oo_app.profile.first_run import answer_first_run, first_run_pending, first_tip, offered_consents
from tests.conftest import NOW
from tests.test_cli import _oo


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
    assert set(offered) == {"activity", "mood", "tasks"}
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
    assert granted == {"activity": True, "mood": False, "push": False, "tasks": False}
    computed = set(session.exec(select(AgentOutput.agent_id).where(AgentOutput.user_id == person.id)))
    assert computed == {"time-of-day"}, "only the agent the granted consent allows ran, with no history yet"
    assert first.agents == ["time-of-day"]
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


def test_oo_seed_demo_fresh_person_prints_what_it_made_and_refuses_an_existing_email(sqlite_url: str) -> None:
    made = _oo("seed-demo", "--fresh-person", "fresh@example.com", database_url=sqlite_url)
    assert made.returncode == 0, made.stderr
    body = json.loads(made.stdout)
    assert body["created"]["email"] == "fresh@example.com"
    assert (body["consents"], body["history"]) == ([], {"events": 0, "task_completions": 0})

    again = _oo("seed-demo", "--fresh-person", "fresh@example.com", database_url=sqlite_url)
    assert again.returncode == 1
    assert again.stdout == ""
    assert "a person with the email fresh@example.com exists already" in again.stderr
    assert "Traceback" not in again.stderr

    demo = _oo("seed-demo", database_url=sqlite_url)
    assert "nothing seeded" in demo.stderr, "the demo seed still never touches a database that holds people"
