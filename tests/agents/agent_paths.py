"""One agent's answer for one history by either path: alone (:func:`agents.inference.infer_params` and its compute)
and in a batch (:func:`agents.batch.compute_many`), so a test of an agent's promise holds it on both."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from agents.base import Agent, Snippet, UserHistory
from agents.batch import compute_many
from agents.inference import Inferred, infer_params
from agents.population import Population

Answer = Callable[[Agent, UserHistory], tuple[Inferred, Snippet]]


def alone(agent: Agent, history: UserHistory) -> tuple[Inferred, Snippet]:
    inferred = infer_params(agent.manifest, history)
    return inferred, agent.compute(history, inferred.params())


def batched(agent: Agent, history: UserHistory) -> tuple[Inferred, Snippet]:
    (outcome,) = compute_many(agent, Population([history]))
    assert outcome.snippet is not None, outcome.error
    return outcome.inferred, outcome.snippet


# Parametrizes a test's ``answer`` argument with both.
BOTH_PATHS = pytest.mark.parametrize("answer", [alone, batched], ids=["per-person", "batch"])
