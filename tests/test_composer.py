"""The rule-based composer only says what the agents' facts say, for every persona at every hour of a day."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from agents.base import UserHistory
from agents.inference import run_inference
from agents.registry import registry
from oo_app.recommender.composer import candidates, compose
from oo_app.recommender.grounding import ungrounded

PERSONAS = sorted((Path(__file__).parent / "personas").glob("persona-*.json"))


@pytest.mark.parametrize("path", PERSONAS, ids=lambda p: p.stem)
def test_every_composer_candidate_is_grounded_in_the_snippets(path: Path) -> None:
    data = json.loads(path.read_text())
    base = UserHistory.from_mapping(data)
    for hour in range(0, 24, 3):
        history = UserHistory(base.events, base.task_completions, base.tz, base.now + timedelta(hours=hour))
        signals, lines = {}, []
        for agent_id, agent in registry().items():
            snippet = agent.compute(history, run_inference(agent.manifest, history))
            signals[agent_id], lines = snippet.data, [*lines, snippet.text]
        for draft in candidates({"signals": signals}):
            assert not ungrounded(draft.text, lines), (hour, draft.text, ungrounded(draft.text, lines))


def test_compose_avoids_recent_tips_then_reuses_the_oldest() -> None:
    facts = {"signals": {}, "recent_tips": []}
    first = compose(facts)
    second = compose({**facts, "recent_tips": [first.text]})
    assert second.text != first.text
    generic = [draft.text for draft in candidates(facts)]
    assert compose({**facts, "recent_tips": list(reversed(generic))}).text == generic[0]


def test_a_fact_from_an_older_agent_version_does_not_break_the_composer() -> None:
    assert compose({"signals": {"time-of-day": {"phase": "peak"}}, "recent_tips": []}).text
