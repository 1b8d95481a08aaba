"""Choosing a tip's lead: Thompson sampling over Beta posteriors, only among the composer's drafts, with the
propensity of each choice; learning off follows the composer's order; an evaluation chooser overrides it."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from agents.rewards import LEARNER
from oo_app.models import Tip, TipKind
from oo_app.recommender.composer import TipDraft, candidates, compose, options
from oo_app.recommender.learning import (
    DRAWS,
    Choice,
    choose,
    learning_off,
    override_choice,
    posterior_key,
    uniform_over_leads,
)

DRAFTS = [
    TipDraft(text="Momentum dipped. Finish the smallest task.", kind=TipKind.todo, lead="momentum"),
    TipDraft(text="A slow week is fine.", lead="momentum"),
    TipDraft(text="Most of your wins are in Work. Give Home ten minutes.", kind=TipKind.todo, lead="focus-area"),
    TipDraft(text="Choose the one thing that would make today feel done."),
]


def test_every_rule_draft_names_its_agent_and_generic_drafts_none() -> None:
    signals = {"momentum": {"trend": "falling", "done_last_7_days": 2}, "focus-area": {"preferred_areas": ["a", "b"]}}
    drafts = candidates({"signals": signals})
    leads = [draft.lead for draft in drafts]
    ruled = leads.count("momentum") + leads.count("focus-area")
    assert leads[:ruled] == ["momentum"] * leads.count("momentum") + ["focus-area"] * leads.count("focus-area")
    assert leads.count("momentum") >= 3, "a lead has phrasings to vary"
    assert leads.count("focus-area") >= 3, "a lead has phrasings to vary"
    assert all(lead is None for lead in leads[ruled:]), "the generic tips lead with no agent"


def test_a_strong_posterior_wins_almost_always_and_its_propensity_says_so() -> None:
    posterior = {"momentum": (2.0, 30.0), "focus-area": (40.0, 2.0), "generic": (1.0, 1.0)}
    choice = choose(DRAFTS, posterior, random.Random(1))
    assert choice.lead == "focus-area"
    assert choice.index == 2
    assert choice.propensity > 0.9
    assert choice.candidates == ["momentum", "focus-area", None]


def test_propensity_matches_how_often_thompson_picks_the_lead() -> None:
    posterior = {"momentum": (3.0, 3.0), "focus-area": (3.0, 3.0), "generic": (3.0, 3.0)}
    rng = random.Random(7)
    picks = [choose(DRAFTS, posterior, rng) for _ in range(600)]
    for lead in ("momentum", "focus-area", None):
        share = sum(choice.lead == lead for choice in picks) / len(picks)
        assert share == pytest.approx(1 / 3, abs=0.07)
    assert all(choice.propensity == pytest.approx(1 / 3, abs=0.05) for choice in picks)
    assert all(choice.propensity >= 1 / DRAWS for choice in picks)


def test_the_same_rng_state_gives_the_same_choice() -> None:
    posterior = {"momentum": (2.0, 2.0), "focus-area": (2.0, 2.0)}
    first = [choose(DRAFTS, posterior, random.Random(seed)) for seed in range(20)]
    again = [choose(DRAFTS, posterior, random.Random(seed)) for seed in range(20)]
    assert first == again
    assert len({choice.lead for choice in first}) > 1, "different seeds explore different leads"


def test_recent_drafts_are_never_chosen_and_a_lead_with_only_recent_drafts_does_not_compete() -> None:
    posterior = {"focus-area": (50.0, 1.0), "momentum": (1.0, 50.0), "generic": (1.0, 50.0)}
    recent = [DRAFTS[2].text, DRAFTS[0].text]
    for seed in range(30):
        choice = choose(DRAFTS, posterior, random.Random(seed), recent)
        assert DRAFTS[choice.index].text not in recent
        assert choice.lead != "focus-area"
    only = choose(DRAFTS, posterior, random.Random(0), [draft.text for draft in DRAFTS])
    assert only.propensity == 1.0, "all shown: the composer's order, the one shown longest ago"
    assert only.index == len(DRAFTS) - 1


def test_learning_off_follows_the_composers_order() -> None:
    posterior = {"focus-area": (50.0, 1.0)}
    with learning_off():
        choice = choose(DRAFTS, posterior, random.Random(0), [DRAFTS[0].text])
    assert choice == Choice(1, 1.0, "momentum", ["momentum", "focus-area", None])
    assert choose(DRAFTS, posterior, random.Random(0)).lead == "focus-area", "learning is back on outside"


def test_an_evaluation_chooser_picks_among_the_fresh_drafts_with_the_propensity_it_declares() -> None:
    seen = []

    def last(drafts):
        seen.append([draft.text for draft in drafts])
        return len(drafts) - 1

    with override_choice(last, uniform_over_leads):
        choice = choose(DRAFTS, {}, random.Random(0), [DRAFTS[3].text])
    assert seen == [[draft.text for draft in DRAFTS[:3]]]
    assert (choice.index, choice.lead, choice.propensity) == (2, "focus-area", pytest.approx(1 / 2))
    with override_choice(lambda drafts: 0):
        assert choose(DRAFTS, {}, random.Random(0)).propensity == 1.0
    with override_choice(lambda drafts: 9), pytest.raises(ValueError, match="outside"):
        choose(DRAFTS, {}, random.Random(0))


def test_compose_writes_the_option_a_choice_names_and_ignores_a_stale_one() -> None:
    facts = {"signals": {"momentum": {"trend": "falling"}, "focus-area": {"preferred_areas": ["a", "b"]}}}
    found = options(facts)
    choice = choose(found, {"focus-area": (60.0, 1.0)}, random.Random(3))
    assert compose(facts, choice).lead == "focus-area"
    assert compose({**facts, "choice": {"index": choice.index, "lead": "focus-area"}}).lead == "focus-area"
    stale = {**facts, "choice": {"index": choice.index, "lead": "calendar"}}
    assert compose(stale) == found[0], "a choice that no longer names its option falls back to the composer's order"


def test_every_tip_records_its_lead_its_candidates_and_its_propensity(session, demo_user) -> None:
    from oo_app.recommender import recommend
    from tests.conftest import NOW

    tip = recommend(session, demo_user, NOW)
    assert tip.candidates, "the leads it was chosen among"
    assert tip.lead_agent in tip.candidates
    assert tip.propensity == 1.0, "nothing learned yet: the composer's order, chosen for sure"
    with override_choice(lambda drafts: len(drafts) - 1, uniform_over_leads):
        other = recommend(session, demo_user, NOW + timedelta(minutes=5))
    assert other.lead_agent is None, "the last option is a generic tip"
    assert other.propensity == pytest.approx(1 / len(other.candidates))


def test_exploration_stays_among_what_the_composer_offers_in_quiet_hours_and_low_energy() -> None:
    quiet = {"phase": "quiet", "preferred_hour": 9, "quiet_start": 22, "quiet_end": 7}
    calendar = {"free_now": True, "free_until": "23:30", "free_minutes": 90, "free_until_today": True}
    wants_calendar = {"calendar": (500.0, 1.0), "generic": (1.0, 500.0), "time-of-day": (1.0, 500.0)}
    facts = {"signals": {"time-of-day": quiet, "calendar": calendar}, "recent_tips": []}
    for seed in range(20):
        drafts = options(facts)
        choice = choose(drafts, wants_calendar, random.Random(seed))
        assert choice.lead != "calendar", "free time in the quiet hours is never offered, however much it is liked"
        low = {**facts, "signals": {**facts["signals"], "mood": {"energy_now": "low"}}}
        gentle = options(low)
        picked = gentle[choose(gentle, wants_calendar, random.Random(seed)).index]
        assert picked.kind is TipKind.advice or picked.lead is None, "a low moment gets only the gentle tips"
        assert picked in candidates(low)


def test_within_the_chosen_lead_the_kind_the_person_takes_up_is_written() -> None:
    prefers_advice = {"momentum": (9.0, 1.0), "generic": (1.0, 9.0), "kind:todo": (1.0, 6.0), "kind:advice": (6.0, 1.0)}
    assert DRAFTS[choose(DRAFTS, prefers_advice, random.Random(0)).index].text == "A slow week is fine."
    prefers_todo = {**prefers_advice, "kind:todo": (6.0, 1.0), "kind:advice": (1.0, 6.0)}
    assert choose(DRAFTS, prefers_todo, random.Random(0)).index == 0


def test_the_population_prior_is_what_works_for_most_people_and_is_cached(session, demo_user, monkeypatch) -> None:
    from oo_app.models import Tip
    from oo_app.recommender import learning

    def tip(lead, reaction, **fields):
        base = {"user_id": demo_user.id, "text": "t", "prompt_version": "v", "model_alias": "a", "model": "m"}
        return Tip(**{**base, "policy": "p", "lead_agent": lead, "reaction": reaction, **fields})

    assert learning.population_prior(session) == {}, "nobody has reacted yet: every lead starts at Beta(1, 1)"
    session.add_all(
        [tip("momentum", "done") for _ in range(8)]
        + [tip("momentum", "dismissed") for _ in range(2)]
        + [tip(None, "snoozed", kind="advice"), tip("focus-area", "done", shadow=True)]
    )
    session.flush()
    assert learning.population_prior(session) == {}, "cached for ten minutes"
    clock = learning.time.monotonic()
    monkeypatch.setattr(learning.time, "monotonic", lambda: clock + learning.PRIOR_TTL_S + 1)
    prior = learning.population_prior(session)
    assert prior["momentum"] == (1.0 + 5 * 0.8, 1.0 + 5 * 0.2), "weighs as five of a person's own reactions"
    assert prior["generic"] == (1.25, 1.75), "one snooze: a weight of one"
    assert "focus-area" not in prior, "shadow tips were never shown"
    assert prior["kind:advice"] == (1.0 + 5 * 0.75, 1.0 + 5 * 0.25), "8.25 rewarded of 11 advice tips answered"


def _leads_of_next_tips(session, user, start, count: int) -> list:
    from oo_app.recommender import react, recommend

    tips = []
    for step in range(count):
        tip = recommend(session, user, start + timedelta(minutes=20 * step))
        react(session, user, tip.id, "dismissed", start + timedelta(minutes=20 * step + 1))
        tips.append(tip)
    return tips


def test_reactions_teach_the_next_tips(session, demo_user) -> None:
    from oo_app.models import AgentOutput
    from tests.conftest import NOW

    tips = _leads_of_next_tips(session, demo_user, NOW, 4)
    learner = session.exec(
        select(AgentOutput).where(AgentOutput.agent_id == "learner").order_by(AgentOutput.id.desc())
    ).first()
    assert learner.data["reactions"] == 4, "each reaction recomputes the learner at once"
    assert tips[0].propensity == 1.0, "nothing learned before the first reaction"
    assert all(0 < tip.propensity <= 1 for tip in tips)
    assert any(tip.propensity < 1 for tip in tips[1:]), "once something is learned, oO explores"


def test_a_persons_own_tastes_win_over_what_oo_learned(session, demo_user) -> None:
    from agents.registry import registry
    from oo_app.models import Tip
    from oo_app.profile.prefs import set_preference
    from tests.conftest import NOW

    # What oO learned: general tips dismissed, every agent's tips done.
    base = {"user_id": demo_user.id, "prompt_version": "v", "model_alias": "a", "model": "m", "policy": "p"}
    answered = NOW - timedelta(days=1)
    session.add_all(
        [Tip(**base, text=f"g{i}", reaction="dismissed", reacted_at=answered, created_at=answered) for i in range(6)]
        + [
            Tip(**base, text=f"{lead}{i}", lead_agent=lead, reaction="done", reacted_at=answered, created_at=answered)
            for lead in registry()
            for i in range(2)
        ]
    )
    session.flush()
    tastes = {"generic": 1.0, **dict.fromkeys(registry(), 0.0)}
    set_preference(session, demo_user, "learner", "tastes", tastes)
    later = _leads_of_next_tips(session, demo_user, NOW, 3)
    assert [tip.lead_agent for tip in later] == [None] * 3, "the person said: general tips only"


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ({"momentum": 0.2, "kind:todo": 1}, {"momentum": 0.2, "kind:todo": 1.0}),
        ({"generic": {"alpha": 3, "beta": 1.5}}, {"generic": {"alpha": 3.0, "beta": 1.5}}),
        (
            {"momentum@morning": 0.9, "focus-area@in:" + "w" * 64: 0.1},
            {"momentum@morning": 0.9, "focus-area@in:" + "w" * 64: 0.1},
        ),
    ],
)
def test_tastes_set_by_hand_are_checked(value, stored) -> None:
    from oo_app.profile.param_rules import rule_for

    rule = rule_for("tastes", {})
    assert rule(value) == stored
    for wrong in ({"momentum": 1.5}, {"momentum": {"alpha": 0, "beta": 1}}, {"x" * 101: 0.5}, ["momentum"], {"m": "a"}):
        with pytest.raises(ValueError, match="share of their tips"):
            rule(wrong)


def learned_about(session: Session, tip: Tip) -> str | None:
    """What oO learned about tips like ``tip``, read apart from "why this tip?": the learner agent's words on the
    person's latest learner output (None until it has enough answers)."""
    from agents.learner import why
    from agents.runner import latest_output

    output = latest_output(session, tip.user_id, LEARNER)
    return why(output.data, tip.lead_agent) if output is not None else None


def test_why_this_tip_says_what_oo_learned_about_tips_like_it(session, demo_user) -> None:
    from oo_app.recommender import react, recommend
    from oo_app.recommender.reasons import NO_FACTS, why_this_tip
    from tests.conftest import NOW

    first = recommend(session, demo_user, NOW)
    assert learned_about(session, first) is None, "nothing learned before any answer"
    assert why_this_tip(session, first).learned == ""
    lead = first.lead_agent
    for step in range(6):  # six tips of the same lead, all done
        tip = recommend(session, demo_user, NOW + timedelta(minutes=20 * step))
        tip.lead_agent = lead
        session.add(tip)
        react(session, demo_user, tip.id, "done", NOW + timedelta(minutes=20 * step + 1))
    latest = recommend(session, demo_user, NOW + timedelta(hours=3))
    latest.lead_agent = lead
    said = learned_about(session, latest)
    assert said is not None, "enough answers to say something"
    assert said.startswith("You finish most tips like this one ("), said
    assert lead is None or lead not in said, f"plain words, never the agent id: {said}"
    assert why_this_tip(session, latest).learned == said, "the page's answer says it"
    # A general tip written from no output: the learner's output, read beside its outputs, is no fact of it.
    latest.sources, latest.lead_agent = [], None
    assert why_this_tip(session, latest).because == NO_FACTS


def test_a_lead_is_chosen_by_its_posterior_for_the_part_of_the_day_when_the_learner_has_one() -> None:
    posterior = {"momentum": (5.0, 5.0), "momentum@morning": (60.0, 2.0), "focus-area": (30.0, 8.0), "generic": (1, 30)}
    rng = random.Random(3)
    mornings = [choose(DRAFTS, posterior, rng, part="morning").lead for _ in range(50)]
    evenings = [choose(DRAFTS, posterior, rng, part="evening").lead for _ in range(50)]
    assert mornings.count("momentum") >= 45, "in the morning momentum is what they take up"
    assert evenings.count("focus-area") >= 40, "without a part's posterior the lead's own decides"


def test_the_candidates_logged_are_the_leads_a_choice_could_pick() -> None:
    recent = [draft.text for draft in DRAFTS if draft.lead == "momentum"]
    posterior = {"momentum": (60.0, 2.0), "focus-area": (2.0, 9.0)}
    choice = choose(DRAFTS, posterior, random.Random(1), recent)
    assert choice.lead != "momentum", "every momentum draft was shown recently"
    assert choice.candidates == ["focus-area", None]
    assert choice.propensity == pytest.approx(
        sum(choose(DRAFTS, posterior, random.Random(s), recent).lead == choice.lead for s in range(400)) / 400,
        abs=0.08,
    )


def test_a_contexts_posterior_comes_before_the_part_of_the_days_and_the_leads() -> None:
    posterior = {"momentum": (5.0, 5.0), "momentum@morning": (9.0, 1.0), "momentum@in:home": (1.0, 9.0)}
    assert posterior_key(posterior, "momentum", "morning", "home") == "momentum@in:home"
    assert posterior_key(posterior, "momentum", "morning", "work") == "momentum@morning"
    assert posterior_key(posterior, "momentum", "evening", "work") == "momentum"
    assert posterior_key(posterior, None, "morning", None) == "generic"
