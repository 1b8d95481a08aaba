"""The batch path: one agent over many persons at once, with the same answers as the per-person path.

The histories are packed once into columns (:class:`agents.population.Population`) that every agent's batch
inference reads (``Agent.batch``: numpy group-bys over person, hour and day); only the snippet's text is written
person by person. An agent without a batch inference (calendar, learner: they read per-person data that is not in
the columns) is inferred person by person inside the same call. :func:`agents.inference.infer_params` with the
agent's ``compute`` stays the path for a single person; the two agree to the last bit (tests/agents/test_batch.py).
"""

from __future__ import annotations

import copy
import gc
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

from agents.base import Agent, Snippet, UserHistory
from agents.inference import Inferred, infer_params
from agents.population import Batched, Population

log = logging.getLogger(__name__)


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Python's cycle collector paused while a group is read and computed (process-wide, for that fraction of a
    second). A group builds hundreds of thousands of containers (rows, histories, snippets' data), and each batch of
    new ones made the collector scan everything still alive again: 5% of a 5,000-person shard's CPU
    (``benchmarks/agents.py``). Reference counting frees the rest as usual; a cycle waits for the next collection
    after the group. An outer pause (or a process that runs without the collector) is left as it was."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass(frozen=True)
class Outcome:
    """One person's answer from an agent: its parameters, and its snippet or the error that stopped it."""

    inferred: Inferred
    snippet: Snippet | None = None
    error: Exception | None = None


def infer_many(agent: Agent, population: Population) -> list[Inferred]:
    """``infer_params(agent.manifest, history)`` for every history of ``population``, computed at once.

    Below a parameter's ``min_history`` events, or where nothing was inferred, the cold-start default (assumed). A
    batch inference that raises is logged and the population is inferred person by person instead, as
    :func:`agents.inference.infer_params` would (which logs and defaults per parameter, never raises).
    """
    found = _batched(agent, population)
    if found is None:
        return [infer_params(agent.manifest, history) for history in population.histories]
    return [_settled(agent, found, index, events) for index, events in enumerate(population.event_counts.tolist())]


def compute_many(
    agent: Agent,
    population: Population,
    own: Sequence[Mapping[str, Any]] | None = None,
    around: Sequence[AbstractContextManager[object]] | None = None,
) -> list[Outcome]:
    """Every person's parameters and snippet: ``agent.compute(history, inferred.params(own))``, with ``own`` each
    person's values set by themselves (none when not given), each compute inside the person's ``around`` (e.g. the
    trace of their model calls). A compute that raises is that person's error only."""
    found = _batched(agent, population)
    outcomes = []
    for index, history in enumerate(population.histories):
        if found is None:
            inferred = infer_params(agent.manifest, history)
        else:
            inferred = _settled(agent, found, index, len(history.events))
            found.prime(index)
        person_own = own[index] if own is not None else {}
        with around[index] if around is not None else nullcontext():
            outcomes.append(_computed(agent, history, inferred, person_own))
    return outcomes


def _computed(agent: Agent, history: UserHistory, inferred: Inferred, own: Mapping[str, Any]) -> Outcome:
    try:
        return Outcome(inferred, agent.compute(history, inferred.params(own)))
    except Exception as error:
        return Outcome(inferred, error=error)


def _batched(agent: Agent, population: Population) -> Batched | None:
    if agent.batch is None:
        return None
    try:
        return agent.batch(population)
    except Exception:
        log.exception("batch inference of %s failed; inferring person by person", agent.manifest.id)
        return None


def _settled(agent: Agent, found: Batched, index: int, events: int) -> Inferred:
    """Person ``index``'s parameters from ``found``, with the rules of :func:`agents.inference.infer_params`."""
    values: dict[str, Any] = {}
    assumed: set[str] = set()
    for param in agent.manifest.params:
        value = found.values[param.key][index] if events >= param.min_history else None
        if value is None:
            default = param.cold_start_default
            value = copy.deepcopy(default) if isinstance(default, list | dict | set) else default
            assumed.add(param.key)
        values[param.key] = value
    return Inferred(values, frozenset(assumed))
