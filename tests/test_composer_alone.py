"""A tip-generator alias that only the composer answers (``OO_TIP_WRITER=rules``) writes in this thread, without the
LiteLLM Router's round, when nothing traces the call: the same tip, for a fraction of the CPU (README's "Load.")."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlmodel import Session

from oo_app.llm.aliases import COMPOSER_MODEL, TIP_GENERATOR
from oo_app.models import User
from oo_app.recommender import orchestrator, recommend, service
from oo_app.recommender.orchestrator import _ask_model, composer_alone, composer_only, write_tip
from oo_app.recommender.prompts import SignalLine, facts_of
from tests.conftest import NOW

FACTS = facts_of(
    [SignalLine("time-of-day", "It is 10:00, one of your productive hours.", {"preferred_hour": 10})],
    ["Pick one small task and finish it in the next ten minutes."],
    [],
    None,
)


def _no_router() -> None:
    raise AssertionError("the Router was asked for a tip the composer writes alone")


def test_the_composer_alone_writes_the_routers_tip_without_the_router(
    session: Session, demo_user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    routed = _ask_model("the prompt", FACTS, TIP_GENERATOR)  # the Router's oo-rules/composer deployment
    monkeypatch.setattr(orchestrator, "get_router", _no_router)
    assert composer_alone(TIP_GENERATOR)
    written = write_tip("the prompt", FACTS)
    assert (written.draft, written.model) == (routed.draft, routed.model)
    assert routed.model == COMPOSER_MODEL
    tip = recommend(session, demo_user, NOW)
    assert tip.model == COMPOSER_MODEL
    assert tip.text


def test_tracing_or_a_model_in_the_alias_keeps_the_router(configure: Callable[..., None]) -> None:
    configure(OO_TRACING_ENABLED="true")
    assert not composer_alone(TIP_GENERATOR), "tracing records the LLM span the Router's autolog writes"
    model = {"tip-generator": [{"model": "ollama_chat/llama3.2", "api_base": "http://127.0.0.1:9"}]}
    configure(OO_TRACING_ENABLED="false", OO_LLM_ALIASES=json.dumps(model))
    assert not composer_alone(TIP_GENERATOR)
    both = {"tip-generator": [{"model": "ollama_chat/llama3.2"}, {"model": COMPOSER_MODEL}]}
    configure(OO_LLM_ALIASES=json.dumps(both))
    assert not composer_alone(TIP_GENERATOR)
    configure(OO_LLM_ALIASES=json.dumps({"tip-generator": [{"model": COMPOSER_MODEL}]}))
    assert composer_alone(TIP_GENERATOR)


def test_the_persons_good_tips_are_read_as_examples_only_for_a_model(
    session: Session, demo_user: User, configure: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[int] = []
    monkeypatch.setattr(service, "good_examples", lambda _session, user_id: read.append(user_id) or [])
    recommend(session, demo_user, NOW)
    assert read == [], "the composer reads none: not asked"
    model_first = {"tip-generator": [{"model": "ollama_chat/llama3.2"}, {"model": COMPOSER_MODEL}]}
    configure(OO_LLM_ALIASES=json.dumps(model_first))
    assert not composer_only(TIP_GENERATOR)
    # The model's answer does not matter here: the composer stands in for it.
    monkeypatch.setattr(
        orchestrator, "write_tip", lambda _prompt, facts, _alias, drafts: orchestrator._composed(facts, drafts)
    )
    recommend(session, demo_user, NOW + timedelta(minutes=1))
    assert read == [demo_user.id], "a model is given the person's good tips as examples"
