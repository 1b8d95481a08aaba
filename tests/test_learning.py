"""Choosing a tip's lead: Thompson sampling over Beta posteriors, only among the composer's drafts, with the
propensity of each choice; learning off follows the composer's order; an evaluation chooser overrides it."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from oo_app.models import TipKind
from oo_app.recommender.composer import TipDraft, candidates, compose, options
from oo_app.recommender.learning import (
    DRAWS,
    Choice,
    choose,
    learning_off,
    override_choice,
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
    assert [draft.lead for draft in drafts[:3]] == ["momentum", "momentum", "focus-area"]
    assert all(draft.lead is None for draft in drafts[3:]), "the generic tips lead with no agent"


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
