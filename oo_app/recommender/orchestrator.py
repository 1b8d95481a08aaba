"""Writing one tip: eligible agents -> freshest snippets -> versioned prompt -> ``tip-generator`` -> logged tip.

Contract of :func:`generate` (and so of :func:`oo_app.recommender.service.recommend`): it always returns a stored
tip. When the model alias fails or answers something that breaks the output contract, the rule-based composer writes
the tip from the same facts, and the tip says so in ``model``. It never returns a blank tip and never shows a tip
that repeats one of the person's recent tips.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlmodel import Session, col, select

from agents.contexts import InEffect
from agents.eligibility import UNREAD, eligible_agents
from agents.learner import TASTES
from agents.learner import posterior as learned
from agents.overdue_task import OPEN_TASK, overdue_open_task
from agents.rewards import part_of_day
from agents.runner import compute_outputs, one_history_per_moment, open_tasks_of
from oo_app.clock import zone
from oo_app.llm.aliases import COMPOSER_MODEL, SAMPLES_DRAWN, TIP_GENERATOR
from oo_app.llm.router import embed, get_router
from oo_app.models import ACCEPTING_REACTIONS, AgentOutput, Chooser, Policy, PrefSource, Tip, User, UserPreference
from oo_app.ops import metrics
from oo_app.recommender.composer import TipDraft, compose, options
from oo_app.recommender.dedup import repeat_of
from oo_app.recommender.grounding import is_grounded, links_in, ungrounded
from oo_app.recommender.guardrails import rejection_reason
from oo_app.recommender.learning import LEARNER, Choice, choose, learning_off, posterior_of
from oo_app.recommender.prompts import SignalLine, fact_lines, facts_of, render
from oo_app.recommender.sense import sense_failure
from oo_app.settings import get_settings

log = logging.getLogger(__name__)

RECENT_TIPS = 10
PROXY_MODEL_HEADER = "llm_provider-x-litellm-model-name"
MAX_SYNC_COMPUTES = 8  # agents computed inline when none of their outputs is fresh (the eight, the learner included)


@dataclass(frozen=True)
class Written:
    draft: TipDraft
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    samples_drawn: int | None = None  # how many samples a local model drew for it


@dataclass(frozen=True)
class Inputs:
    """What a tip is written from: the agents' outputs, the person's recent tips and their good tips, the context
    in effect (:func:`agents.eligibility.context_in_effect`), and signals of the moment that are never stored (the
    most overdue open task: :func:`open_task_signals`)."""

    outputs: list[AgentOutput]
    recent: list[str]
    examples: list[dict[str, str]]
    context: InEffect | None = None
    transient: tuple[SignalLine, ...] = ()

    @property
    def signals(self) -> list[SignalLine]:
        return [SignalLine(o.agent_id, o.snippet, o.data) for o in self.outputs] + list(self.transient)


def freshest_outputs(
    session: Session, user: User, now: datetime, in_effect: InEffect | None = UNREAD
) -> list[AgentOutput]:
    """The newest non-expired output of each agent eligible at ``now`` (the context then in effect included: pass it
    as ``in_effect`` when it was read), computing (bounded) those that have none, from one reading of the person's
    history."""
    with one_history_per_moment():
        return _freshest_outputs(session, user, now, in_effect)


def _freshest_outputs(session: Session, user: User, now: datetime, in_effect: InEffect | None) -> list[AgentOutput]:
    eligible = eligible_agents(session, user.id, now, in_effect=in_effect)
    newest = newest_unexpired(session, user.id, [agent.manifest.id for agent in eligible], now)
    missing = [agent for agent in eligible if agent.manifest.id not in newest][:MAX_SYNC_COMPUTES]
    newest |= {
        agent.manifest.id: output
        for agent, output in zip(missing, compute_outputs(session, user, missing, now), strict=True)
        if output is not None
    }
    return [newest[agent.manifest.id] for agent in eligible if agent.manifest.id in newest]


# The statements every tip runs are built once, their values bound at each call: building a statement costs
# SQLAlchemy more CPU than running it (benchmarks/react_path.py).
_UNEXPIRED = (
    select(AgentOutput)
    .where(
        AgentOutput.user_id == sa.bindparam("user_id"),
        col(AgentOutput.agent_id).in_(sa.bindparam("agent_ids", expanding=True)),
        AgentOutput.expires_at > sa.bindparam("now"),
    )
    .order_by(col(AgentOutput.computed_at).desc(), col(AgentOutput.id).desc())
)


def newest_unexpired(session: Session, user_id: int, agent_ids: list[str], now: datetime) -> dict[str, AgentOutput]:
    """The newest output (by ``computed_at``, then id) not expired at ``now`` of each of ``agent_ids`` that has one,
    in one query."""
    rows = session.exec(_UNEXPIRED, params={"user_id": user_id, "agent_ids": agent_ids, "now": now}).all()
    newest: dict[str, AgentOutput] = {}
    for row in rows:
        newest.setdefault(row.agent_id, row)
    return newest


def open_task_signals(session: Session, user: User, now: datetime) -> tuple[SignalLine, ...]:
    """The person's most overdue open task as a signal (its title quoted), or none: fetched on demand through the
    wired provider (which checks the ``tasks`` consent), held in memory for this tip only, never stored."""
    snippet = overdue_open_task(open_tasks_of(session, user.id), user.tz, now)
    return (SignalLine(OPEN_TASK, snippet.text, snippet.data),) if snippet is not None else ()


def is_waiting() -> sa.ColumnElement[bool]:
    """A tip written ahead to follow another and not taken yet (:mod:`~oo_app.recommender.prefetch`): not shown."""
    return sa.and_(col(Tip.follows).is_not(None), col(Tip.shown_at).is_(None))


def _shown_tips(before: bool) -> Any:
    """A person's shown tips, newest first (``user_id``, ``limit``), those older than tip ``before`` when asked."""
    query = select(Tip).where(Tip.user_id == sa.bindparam("user_id"), Tip.shadow == False, sa.not_(is_waiting()))  # noqa: E712
    if before:
        query = query.where(Tip.id < sa.bindparam("before"))
    return query.order_by(col(Tip.created_at).desc(), col(Tip.id).desc()).limit(sa.bindparam("limit"))


_RECENT_TEXTS = {before: _shown_tips(before).with_only_columns(Tip.text) for before in (False, True)}
_GOOD_TIPS = {
    before: _shown_tips(before).where(col(Tip.reaction).in_(sorted(ACCEPTING_REACTIONS))) for before in (False, True)
}
_SNIPPETS = select(AgentOutput.id, AgentOutput.snippet).where(
    AgentOutput.user_id == sa.bindparam("user_id"), col(AgentOutput.id).in_(sa.bindparam("ids", expanding=True))
)


def recent_tip_texts(session: Session, user_id: int, limit: int = RECENT_TIPS, before: int | None = None) -> list[str]:
    """The texts of the person's latest shown tips, newest first (those older than tip ``before`` when given)."""
    bound = {"user_id": user_id, "limit": limit, "before": before}
    return list(session.exec(_RECENT_TEXTS[before is not None], params=bound))


def good_examples(session: Session, user_id: int, limit: int = 2, before: int | None = None) -> list[dict[str, str]]:
    """The person's latest done or liked tips with the snippet lines they were written from (while those exist)."""
    bound = {"user_id": user_id, "limit": limit * 3, "before": before}
    tips = session.exec(_GOOD_TIPS[before is not None], params=bound).all()
    ids = sorted({source["output_id"] for tip in tips for source in tip.sources})
    snippets = dict(session.exec(_SNIPPETS, params={"user_id": user_id, "ids": ids}).all()) if ids else {}
    examples: list[dict[str, str]] = []
    for tip in tips:
        by_agent = {s["agent_id"]: snippets[s["output_id"]] for s in tip.sources if s["output_id"] in snippets}
        lines = [by_agent[agent_id] for agent_id in sorted(by_agent)]
        if lines and is_grounded(tip.text, lines):
            examples.append({"facts": " ".join(lines), "tip": tip.text})
            if len(examples) == limit:
                break
    return examples


def _within_contract(draft: TipDraft, facts: dict[str, Any]) -> TipDraft:
    """``draft``, unless it names what the facts do not support or writes a link (ValueError)."""
    invented = ungrounded(draft.text, fact_lines(facts))
    if invented:
        log.debug("ungrounded terms in the tip-generator's draft: %s", ", ".join(invented))
        raise ValueError(f"the model invented {len(invented)} term(s) the facts do not support")
    if links_in(draft.text):
        raise ValueError("the model wrote a link or a domain name")
    return draft


def _ask_model(prompt: str, facts: dict[str, Any], alias: str) -> Written:
    """One call of the alias; raises on any failure or contract breach so the caller can fall back."""
    response = get_router().completion(
        model=alias, messages=[{"role": "user", "content": prompt}], metadata={"oo_facts": facts}
    )
    content = response.choices[0].message.content or ""
    draft = _within_contract(TipDraft.model_validate(json.loads(content)), facts)
    # The composer picks its own unused candidate (the one shown longest ago once all were shown) from phrasings that
    # read well: only model answers are checked for repeats and sense, and only they pay for embeddings.
    if response.model != COMPOSER_MODEL:
        repeated = repeat_of(draft.text, facts["recent_tips"], embed)
        if repeated:
            raise ValueError(f"the model's tip {repeated}")
        senseless = sense_failure(draft.text)
        if senseless:
            raise ValueError(f"the model's tip {senseless}")
    usage = getattr(response, "usage", None)
    hidden = getattr(response, "_hidden_params", None) or {}
    # Behind a LiteLLM proxy the response names the alias; the proxy's header names the model that answered.
    served = (hidden.get("additional_headers") or {}).get(PROXY_MODEL_HEADER)
    return Written(
        draft=draft,
        model=str(served or response.model or "unknown"),
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        samples_drawn=hidden.get(SAMPLES_DRAWN),
    )


def composer_only(alias: str) -> bool:
    """Whether the composer alone answers ``alias`` (``OO_TIP_WRITER=rules``, or a table that says so)."""
    deployments = get_settings().alias_table.get(alias) or []
    return [params.get("model") for params in deployments] == [COMPOSER_MODEL]


def composer_alone(alias: str) -> bool:
    """Whether the composer alone answers ``alias`` and tracing is off: then it writes in this thread, without the
    LiteLLM Router's round (a fresh event loop per call, deployment selection, logging and cost objects: four fifths
    of a composer tip's CPU under load, README's "Load."). The tip is the same; with tracing on the Router is kept,
    whose MLflow autolog records the LLM span of every tip."""
    return not get_settings().tracing_enabled and composer_only(alias)


def _composed(facts: dict[str, Any], drafts: Sequence[TipDraft] | None) -> Written:
    """The composer's tip, held to the contract a model's answer is held to (grounded, no link), as the Router's
    ``oo-rules/composer`` deployment answers it."""
    return Written(draft=_within_contract(compose(facts, found=drafts), facts), model=COMPOSER_MODEL)


def write_tip(
    prompt: str, facts: dict[str, Any], alias: str = TIP_GENERATOR, drafts: Sequence[TipDraft] | None = None
) -> Written:
    """The alias's tip, or the composer's when the model fails or breaks the contract (logged). ``drafts``: the
    composer's options for these facts when the caller has them (:func:`~.composer.options`)."""
    try:
        return _composed(facts, drafts) if composer_alone(alias) else _ask_model(prompt, facts, alias)
    except (ValidationError, ValueError) as error:
        log.warning("tip-generator answer rejected (%s); the composer writes this tip", rejection_reason(error))
        metrics.llm_failed(alias, metrics.REJECTED)
    except Exception as error:
        log.warning("tip-generator failed (%s: %s); the composer writes this tip", type(error).__name__, error)
        metrics.llm_failed(alias, type(error).__name__)
    metrics.llm_fell_back(alias)
    return Written(draft=compose(facts, found=drafts), model=COMPOSER_MODEL)


_OWN_TASTES = select(UserPreference.value).where(
    UserPreference.user_id == sa.bindparam("user_id"),
    UserPreference.scope == LEARNER,
    UserPreference.key == TASTES,
    UserPreference.source == PrefSource.user,
)


def own_tastes(session: Session, user_id: int) -> dict[str, Any] | None:
    """The ``tastes`` the person set by hand on /settings (they replace the learned ones), or None."""
    return session.exec(_OWN_TASTES, params={"user_id": user_id}).first()


def choose_lead(
    facts: dict[str, Any],
    rng: random.Random,
    tastes: dict[str, Any] | None = None,
    part: str | None = None,
    context: str | None = None,
    drafts: Sequence[TipDraft] | None = None,
) -> Choice:
    """The lead of this tip among the composer's options (``drafts`` when the caller has them; else read from the
    facts) (:func:`~oo_app.recommender.learning.choose`) in ``part`` of the person's day and their ``context``, with
    their own ``tastes`` when they set some, else the learner agent's posterior when its facts carry one."""
    posterior = posterior_of({LEARNER: {"tastes": learned(tastes)}} if tastes else facts["signals"])
    drafts = options(facts) if drafts is None else drafts
    return choose(drafts, posterior, rng, facts["recent_tips"], part, context)


@contextmanager
def _traced(user_id: int, policy: Policy, shadow: bool, agents: list[str]) -> Iterator[Any]:
    """An MLflow trace of one generation when tracing is on (mlflow is imported only then), else a plain record."""
    if not get_settings().tracing_enabled:
        yield SimpleNamespace()
        return
    from oo_app import tracking

    with tracking.traced_generation(
        user_id,
        prompt_version=policy.prompt_version,
        policy=policy.name,
        shadow=shadow,
        alias=policy.alias,
        inputs={"policy": policy.name, "prompt_version": policy.prompt_version, "agents": agents},
    ) as generation:
        yield generation


def generate(
    session: Session,
    user: User,
    policy: Policy,
    inputs: Inputs,
    now: datetime,
    *,
    shadow_of: Tip | None = None,
    started: float | None = None,
    follows: Tip | None = None,
) -> Tip:
    """Write one tip with ``policy`` from ``inputs`` and log it; a shadow tip when ``shadow_of`` (the shown tip of
    the same inputs) is given."""
    started = started if started is not None else time.perf_counter()
    signals = inputs.signals
    with _traced(user.id, policy, shadow_of is not None, [s.agent_id for s in signals]) as generation:
        facts = facts_of(signals, inputs.recent, inputs.examples, inputs.context)
        rng = random.Random(f"{user.id}:{now.isoformat()}")  # a shadow leads as its shown tip: same inputs, same lead
        part = part_of_day(now.astimezone(zone(user.tz)).hour)
        context = inputs.context.name if inputs.context is not None else None
        drafts = options(facts)  # once: the lead is chosen among them, and the composer writes one of them
        with learning_off() if policy.chooser == Chooser.composer_order else nullcontext():
            choice = choose_lead(facts, rng, own_tastes(session, user.id), part, context, drafts)
        facts["choice"] = {"index": choice.index, "lead": choice.lead}
        # The prompt is a model's: the composer alone writes from the facts (write_tip asks no model then).
        alone = composer_alone(policy.alias)
        prompt = "" if alone else render(signals, inputs.recent, policy.prompt_version, inputs.context, choice.lead)
        written = write_tip(prompt, facts, policy.alias, drafts)
        generation.text, generation.kind, generation.model = written.draft.text, written.draft.kind, written.model
        generation.prompt_tokens, generation.completion_tokens = written.prompt_tokens, written.completion_tokens
        generation.fallback = written.model == COMPOSER_MODEL
        generation.latency_ms = (time.perf_counter() - started) * 1000
    tip = Tip(
        user_id=user.id,
        text=written.draft.text,
        kind=written.draft.kind,
        prompt_version=policy.prompt_version,
        model_alias=policy.alias,
        model=written.model,
        sources=[{"agent_id": o.agent_id, "agent_version": o.agent_version, "output_id": o.id} for o in inputs.outputs],
        policy=policy.name,
        shadow=shadow_of is not None,
        shadow_of=shadow_of.id if shadow_of is not None else None,
        follows=follows.id if follows is not None else None,
        latency_ms=(time.perf_counter() - started) * 1000,
        prompt_tokens=written.prompt_tokens,
        completion_tokens=written.completion_tokens,
        created_at=now,
        # The composer writes the chosen option (or, when the choice went stale, its own: its draft says which);
        # a model is asked to lead with the chosen lead's line.
        lead_agent=written.draft.lead if written.model == COMPOSER_MODEL else choice.lead,
        candidates=choice.candidates,
        propensity=choice.propensity,
        context=context,
    )
    session.add(tip)
    session.flush()
    return tip
