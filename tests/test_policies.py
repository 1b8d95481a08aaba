"""Policies and shadows: the incumbent writes what is shown, candidates write beside it, promotion is explicit."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from oo_app.db import make_engine
from oo_app.errors import Conflict, InvalidInput, NotFound
from oo_app.llm.aliases import COMPOSER_MODEL, LOCAL_EMBEDDING_MODEL
from oo_app.models import AuditEvent, Policy, PolicyRole, Tip, User
from oo_app.recommender import current_tip, recommend, shadow
from oo_app.recommender.policies import (
    MIN_LOGGED_TIPS,
    MIN_SHADOW_PAIRS,
    add_candidate,
    all_policies,
    incumbent,
    promote,
    promotion_blockers,
    record_offline,
    retire,
    shadow_report,
)
from oo_app.recommender.prompts import CURRENT_VERSION
from tests.conftest import NOW

CANDIDATE_TEXT = "Finish the one task that matters most before lunch."


def _aliases(configure: Callable[..., None], candidate: dict | None = None) -> None:
    aliases = {
        "tip-generator": [{"model": COMPOSER_MODEL}],
        "tip-generator-fallback": [{"model": COMPOSER_MODEL}],
        "embedder": [{"model": LOCAL_EMBEDDING_MODEL}],
        "judge": [{"model": "oo-rules/checks"}],
    }
    if candidate is not None:
        aliases["tip-generator-candidate"] = [candidate]
    configure(OO_LLM_ALIASES=json.dumps(aliases), OO_LLM_RETRIES="0", OO_LLM_TIMEOUT_S="3")


@pytest.fixture
def candidate(session: Session, demo_user: User, configure: Callable[..., None]) -> Policy:
    """A shadow candidate whose model always answers CANDIDATE_TEXT (a grounded, generic tip)."""
    answer = json.dumps({"text": CANDIDATE_TEXT, "kind": "todo"})
    _aliases(configure, {"model": "openai/candidate", "mock_response": answer, "api_key": "test"})
    policy = add_candidate(session, "terse-v1", CURRENT_VERSION, "tip-generator-candidate")
    session.commit()
    return policy


def test_without_any_policy_row_the_built_in_incumbent_writes_the_tips(session: Session, demo_user: User) -> None:
    tip = recommend(session, demo_user, NOW)

    assert session.exec(select(Policy)).all() == []
    assert (tip.policy, tip.prompt_version, tip.model_alias, tip.shadow) == (
        "incumbent",
        CURRENT_VERSION,
        "tip-generator",
        False,
    )
    assert [policy.name for policy in all_policies(session)] == ["incumbent"]


@pytest.mark.parametrize(
    ("name", "prompt_version", "alias", "message"),
    [
        ("Bad Name!", CURRENT_VERSION, "tip-generator", "policy name"),
        ("v3", "orchestrator-v99", "tip-generator", "no prompt version"),
        ("v3", "judge-v1", "tip-generator", "not an orchestrator prompt"),
        ("v3", CURRENT_VERSION, "no-such-alias", "no alias"),
    ],
)
def test_a_malformed_candidate_is_refused_and_nothing_is_stored(
    session: Session, demo_user: User, name: str, prompt_version: str, alias: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        add_candidate(session, name, prompt_version, alias)
    assert session.exec(select(Policy)).all() == []


def test_a_candidate_name_is_unique(session: Session, candidate: Policy) -> None:
    with pytest.raises(Conflict):
        add_candidate(session, candidate.name, CURRENT_VERSION, "tip-generator")
    with pytest.raises(Conflict):
        add_candidate(session, "incumbent", CURRENT_VERSION, "tip-generator")


def test_adding_a_candidate_stores_the_built_in_incumbent_beside_it(session: Session, candidate: Policy) -> None:
    roles = {policy.name: policy.role for policy in session.exec(select(Policy))}
    assert roles == {"incumbent": PolicyRole.incumbent, "terse-v1": PolicyRole.shadow}


def test_a_shadow_candidate_writes_beside_each_shown_tip_from_the_same_inputs_after_commit(
    session: Session, demo_user: User, candidate: Policy
) -> None:
    shown = recommend(session, demo_user, NOW)
    assert session.exec(select(Tip).where(Tip.shadow == True)).all() == []  # noqa: E712  # not before the commit
    session.commit()
    assert shadow.drain(timeout=60)

    session.expire_all()
    shadows = session.exec(select(Tip).where(Tip.shadow == True)).all()  # noqa: E712
    assert len(shadows) == 1
    (written,) = shadows
    assert (written.text, written.policy, written.shadow_of) == (CANDIDATE_TEXT, "terse-v1", shown.id)
    assert written.sources == shown.sources, "the candidate saw the very snippets of the shown tip"
    assert written.model_alias == "tip-generator-candidate"
    assert written.judge_score >= 0.75, "offline, a grounded tip that reads well scores high"
    assert session.get(Tip, shown.id).judge_score is not None
    assert -1.0 <= written.agreement < 0.99, "a different text does not agree perfectly"
    assert current_tip(session, demo_user, NOW + timedelta(minutes=1)).id == shown.id, "a shadow is never shown"


def test_a_rolled_back_tip_is_not_shadowed(session: Session, demo_user: User, candidate: Policy) -> None:
    recommend(session, demo_user, NOW)
    session.rollback()
    assert shadow.drain(timeout=60)
    assert session.exec(select(Tip)).all() == []


def test_the_same_policy_in_shadow_writes_the_same_tip_and_agrees(
    session: Session, demo_user: User, configure: Callable[..., None]
) -> None:
    _aliases(configure)
    add_candidate(session, "twin", CURRENT_VERSION, "tip-generator-fallback")
    earlier = recommend(session, demo_user, NOW - timedelta(hours=2))  # the twin must see this one as recent
    shown = recommend(session, demo_user, NOW)

    (twin,) = shadow.run_shadows(session, shown.id)

    assert twin.text == shown.text != earlier.text
    assert twin.agreement == pytest.approx(1.0, abs=1e-4)
    assert shadow.run_shadows(session, twin.id) == [], "a shadow tip is never shadowed"


def test_a_failing_shadow_job_is_logged_and_leaves_the_shown_tip_alone(
    session: Session, demo_user: User, candidate: Policy, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    def broken(*args: object) -> Tip:
        raise RuntimeError("candidate exploded")

    monkeypatch.setattr(shadow, "write_shadow", broken)
    shown = recommend(session, demo_user, NOW)
    session.commit()
    with caplog.at_level(logging.ERROR, logger="oo_app.recommender.shadow"):
        assert shadow.drain(timeout=60)

    assert "shadow policies failed beside tip" in caplog.text
    session.expire_all()
    assert [tip.id for tip in session.exec(select(Tip))] == [shown.id]


def _shadowed(session: Session, user: User, count: int) -> None:
    for i in range(count):
        shown = recommend(session, user, NOW + timedelta(hours=2 * i))
        shadow.run_shadows(session, shown.id)


def test_promotion_is_refused_with_its_reasons_until_offline_and_online_evidence_exist(
    session: Session, demo_user: User, candidate: Policy
) -> None:
    with pytest.raises(Conflict, match="no offline benchmark") as refused:
        promote(session, "terse-v1", actor="ops@example.com")
    assert session.exec(select(AuditEvent)).all() == [], "a refused promotion records nothing"
    assert f"0 shadow tips online, {MIN_SHADOW_PAIRS} needed" in str(refused.value)
    assert incumbent(session).name == "incumbent"

    _shadowed(session, demo_user, MIN_SHADOW_PAIRS)
    record_offline(session, "incumbent", judge_score=0.9, pass_rate=1.0, run_id="run-a")
    record_offline(session, "terse-v1", judge_score=0.95, pass_rate=0.8, run_id="run-b")
    report = shadow_report(session, "terse-v1")
    assert report.pairs == MIN_SHADOW_PAIRS
    assert promotion_blockers(report) == []

    promoted = promote(session, "terse-v1", actor="ops@example.com", now=NOW)
    assert (promoted.role, promoted.promoted_by, promoted.promoted_at) == (PolicyRole.incumbent, "ops@example.com", NOW)
    (event,) = session.exec(select(AuditEvent)).all()
    assert (event.actor, event.action, event.target, event.at) == (
        "ops@example.com",
        "policy.promote",
        "policy:terse-v1",
        NOW,
    )
    assert event.details == {"previous_incumbent": "incumbent", "force": False, "overrode": []}
    assert session.get(Policy, "incumbent").role == PolicyRole.retired
    tip = recommend(session, demo_user, NOW + timedelta(days=3))
    assert (tip.policy, tip.text, tip.shadow) == ("terse-v1", CANDIDATE_TEXT, False)


def test_a_worse_offline_score_blocks_promotion_and_force_overrides_it(
    session: Session, demo_user: User, candidate: Policy, caplog
) -> None:
    record_offline(session, "incumbent", judge_score=0.9, pass_rate=1.0, run_id=None)
    record_offline(session, "terse-v1", judge_score=0.5, pass_rate=0.2, run_id=None)
    with pytest.raises(Conflict, match=r"offline judge score 0.50 below the incumbent's 0.90"):
        promote(session, "terse-v1", actor="ops@example.com")

    with caplog.at_level(logging.WARNING, logger="oo_app.recommender.policies"):
        promote(session, "terse-v1", actor="ops@example.com", force=True)
    assert "forced over" in caplog.text
    assert incumbent(session).name == "terse-v1"
    with pytest.raises(Conflict, match="only a shadow candidate"):
        promote(session, "incumbent", actor="ops@example.com", force=True)


def test_shadow_report_averages_the_pairs(session: Session, demo_user: User, candidate: Policy) -> None:
    base = {"user_id": demo_user.id, "kind": "advice", "prompt_version": CURRENT_VERSION, "model": "m"}
    for agreement, judged in ((0.9, 1.0), (0.5, 0.5)):
        shown = Tip(text="shown", model_alias="tip-generator", policy="incumbent", judge_score=0.75, **base)
        session.add(shown)
        session.flush()
        session.add(
            Tip(
                text="shadow",
                model_alias="tip-generator-candidate",
                policy="terse-v1",
                shadow=True,
                shadow_of=shown.id,
                agreement=agreement,
                judge_score=judged,
                **base,
            )
        )
    session.flush()

    report = shadow_report(session, "terse-v1")

    assert report.pairs == 2
    assert report.agreement_mean == pytest.approx(0.7)
    assert report.agreement_rate == pytest.approx(0.5)
    assert (report.judge_candidate, report.judge_incumbent) == (pytest.approx(0.75), pytest.approx(0.75))


def test_retiring_stops_the_shadow_and_unknown_policies_are_not_found(
    session: Session, demo_user: User, candidate: Policy
) -> None:
    retire(session, "terse-v1")
    shown = recommend(session, demo_user, NOW)
    assert shadow.run_shadows(session, shown.id) == []
    with pytest.raises(NotFound):
        retire(session, "nobody")


@pytest.mark.parametrize("backend", ["sqlite_url", "migrated_postgres_url"])
def test_the_database_holds_at_most_one_incumbent(backend: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue(backend)  # migrated, both
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            session.add(Policy(name="a", prompt_version=CURRENT_VERSION, alias="x", role=PolicyRole.incumbent))
            session.add(Policy(name="b", prompt_version=CURRENT_VERSION, alias="x", role=PolicyRole.shadow))
            session.commit()
            session.add(Policy(name="c", prompt_version=CURRENT_VERSION, alias="x", role=PolicyRole.incumbent))
            with pytest.raises(sa.exc.IntegrityError):
                session.commit()
    finally:
        engine.dispose()


def _logged(session: Session, user: User, reactions: dict[str, str], count: int) -> None:
    """``count`` answered tips of the incumbent, chosen between momentum (the composer's first) and focus-area with
    propensity 1/2, half of each, answered as ``reactions`` says per lead."""
    when = datetime.now(UTC) - timedelta(days=1)
    for index in range(count):
        lead = ("momentum", "focus-area")[index % 2]
        session.add(
            Tip(
                user_id=user.id,
                text=f"tip {index}",
                kind="todo",
                prompt_version=CURRENT_VERSION,
                model="m",
                model_alias="tip-generator",
                policy="incumbent",
                lead_agent=lead,
                candidates=["momentum", "focus-area"],
                propensity=0.5,
                reaction=reactions[lead],
                created_at=when,
            )
        )
    session.flush()


def test_a_candidate_that_chooses_in_the_composers_order_writes_its_shadows_so(
    session: Session, demo_user: User, configure: Callable[..., None]
) -> None:
    _aliases(configure)
    add_candidate(session, "order-v1", CURRENT_VERSION, "tip-generator", chooser="composer-order")
    session.commit()
    _shadowed(session, demo_user, 3)
    shadows = session.exec(select(Tip).where(Tip.policy == "order-v1", Tip.shadow == True)).all()  # noqa: E712
    assert len(shadows) == 3
    assert {tip.propensity for tip in shadows} == {1.0}, "the composer's order: no draw"
    assert all(tip.lead_agent == (tip.candidates or [None])[0] for tip in shadows), "its first candidate leads"
    with pytest.raises(InvalidInput, match="chooser 'greedy'"):
        add_candidate(session, "greedy-v1", CURRENT_VERSION, "tip-generator", chooser="greedy")


def test_a_candidate_choosing_otherwise_is_judged_off_policy_from_the_incumbents_log(
    session: Session, demo_user: User, configure: Callable[..., None]
) -> None:
    _aliases(configure)
    add_candidate(session, "order-v1", CURRENT_VERSION, "tip-generator", chooser="composer-order")
    before_any_tip = promotion_blockers(shadow_report(session, "order-v1"))
    assert any("0 answered logged tips to estimate its composer-order choices from" in b for b in before_any_tip)
    _logged(session, demo_user, {"momentum": "dismissed", "focus-area": "done"}, MIN_LOGGED_TIPS - 2)
    assert any(f"{MIN_LOGGED_TIPS} needed" in b for b in promotion_blockers(shadow_report(session, "order-v1")))

    _logged(session, demo_user, {"momentum": "dismissed", "focus-area": "done"}, 2)
    report = shadow_report(session, "order-v1")
    assert (report.offpolicy_tips, report.offpolicy_estimate, report.incumbent_acceptance) == (MIN_LOGGED_TIPS, 0, 0.5)
    assert any(
        b.startswith("off-policy estimate of its acceptance 0.00") and "below the incumbent's 0.50" in b
        for b in promotion_blockers(report)
    ), promotion_blockers(report)


def test_a_candidate_the_log_says_does_as_well_meets_no_off_policy_blocker(
    session: Session, demo_user: User, configure: Callable[..., None]
) -> None:
    _aliases(configure)
    add_candidate(session, "order-v1", CURRENT_VERSION, "tip-generator", chooser="composer-order")
    _logged(session, demo_user, {"momentum": "done", "focus-area": "dismissed"}, MIN_LOGGED_TIPS)
    report = shadow_report(session, "order-v1")
    assert report.offpolicy_estimate == 1.0
    assert not any("off-policy" in b or "logged tips" in b for b in promotion_blockers(report))
    same = add_candidate(session, "terse-v2", CURRENT_VERSION, "tip-generator")
    assert shadow_report(session, same.name).offpolicy_tips == 0, "a Thompson candidate is judged by its shadows"
