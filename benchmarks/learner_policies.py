"""The learners ADR-0008 compares with the incumbent's Thompson sampling, as tip writers for
:func:`oo_app.evaluation.simulation.simulate`: epsilon-greedy and greedy over the learner agent's posteriors, and
Vowpal Wabbit's contextual bandit with action-dependent features (CB-ADF).

Each picks among the drafts the composer offers through :func:`~oo_app.recommender.learning.override_choice`, with the
propensity of its own contract, so quiet hours, consents and contexts hold as for the incumbent. Benchmark code only:
production keeps Thompson sampling, and nothing in ``oo_app`` or ``agents`` imports this module.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from agents.eligibility import context_in_effect
from agents.rewards import LEARNER, REWARDS, WEAK_PRIOR, kind_key, part_of_day
from agents.runner import latest_output
from oo_app.clock import zone
from oo_app.models import Policy, Reaction, Tip, User
from oo_app.recommender import recommend
from oo_app.recommender.composer import TipDraft
from oo_app.recommender.learning import Posterior, leads_of, override_choice, posterior_key, posterior_of
from oo_app.recommender.policies import incumbent

TipWriter = Callable[[Session, User, datetime], Tip]
Note = Callable[[str, float], None]  # (measure, value): what a policy reports beside its tips

EPSILON = 0.1
VW_ARGS = "--cb_explore_adf --quiet -q UA"  # shared features (U) crossed with each action's (A)
VW_EXPLORATION = {"squarecb": "--squarecb", "epsilon": "--epsilon 0.1"}


class VowpalWabbitMissing(RuntimeError):
    """Vowpal Wabbit's Python package is not installed."""


def require_vowpalwabbit() -> Any:
    """The ``vowpalwabbit`` module; :class:`VowpalWabbitMissing`, saying how to install it, when it is absent."""
    try:
        import vowpalwabbit
    except ImportError as error:
        raise VowpalWabbitMissing(
            "the learners' comparison needs Vowpal Wabbit: install the dev extra "
            "(uv pip install -r requirements.lock, or pip install 'vowpalwabbit>=9.10,<10')"
        ) from error
    return vowpalwabbit


def as_policy(session: Session, name: str) -> Policy:
    """The incumbent's prompt and alias under ``name`` (not stored): its tips are logged as ``name``'s."""
    base = incumbent(session)
    return Policy(name=name, prompt_version=base.prompt_version, alias=base.alias, role=base.role)


def part_of(user: User, now: datetime) -> str:
    """The part of the person's local day at ``now`` (the learner's and the incumbent's)."""
    return part_of_day(now.astimezone(zone(user.tz)).hour)


def learned_posterior(session: Session, user_id: int) -> Posterior:
    """The posterior the person's latest learner output carries (empty before any reaction anywhere)."""
    output = latest_output(session, user_id, LEARNER)
    return posterior_of({LEARNER: output.data}) if output is not None else {}


def _mean(posterior: Posterior, name: str) -> float:
    alpha, beta = posterior.get(name, WEAK_PRIOR)
    return alpha / (alpha + beta)


def greedy_position(leads: Sequence[str | None], posterior: Posterior, part: str) -> int:
    """The position among ``leads`` of the highest posterior mean in ``part`` of the day (the first on a tie)."""
    means = [_mean(posterior, posterior_key(posterior, lead, part)) for lead in leads]
    return means.index(max(means))


def draft_of_lead(drafts: Sequence[TipDraft], lead: str | None, posterior: Posterior) -> int:
    """As the incumbent: ``lead``'s draft of the kind most taken up (its posterior mean; the first on a tie)."""
    of_lead = [index for index, draft in enumerate(drafts) if draft.lead == lead]
    return max(of_lead, key=lambda index: (_mean(posterior, kind_key(str(drafts[index].kind))), -index))


def epsilon_greedy(name: str, epsilon: float, seed: int) -> TipWriter:
    """With chance ``epsilon`` a lead drawn uniformly among the k leads offered, else the one of the highest
    posterior mean (the learner's, part of the day included); propensity (1 - epsilon) + epsilon / k for that greedy
    lead, epsilon / k for another. ``epsilon`` 0 is greedy (propensity 1). Draws are keyed by ``seed``, the person
    and the moment."""

    def write(session: Session, user: User, now: datetime) -> Tip:
        rng = random.Random(f"{seed}:{user.email}:{now.isoformat()}")
        propensity = [1.0]

        def chooser(drafts: Sequence[TipDraft]) -> int:
            posterior = learned_posterior(session, user.id)
            leads = leads_of(drafts)
            greedy = greedy_position(leads, posterior, part_of(user, now))
            position = rng.randrange(len(leads)) if epsilon and rng.random() < epsilon else greedy
            explored = epsilon / len(leads)
            propensity[0] = (1.0 - epsilon) + explored if position == greedy else explored
            return draft_of_lead(drafts, leads[position], posterior)

        with override_choice(chooser, lambda _drafts: propensity[0]):
            return recommend(session, user, now, policy=as_policy(session, name))

    return write


# --- Vowpal Wabbit CB-ADF ---------------------------------------------------------------------------------------------


def _feature(value: object) -> str:
    return re.sub(r"[\s|:]", "_", str(value))


@dataclass(frozen=True)
class Decision:
    """One choice VW made: the example it was made on (the shared line first), the action taken, the probability VW
    gave it and the one it gave its lead (its actions summed)."""

    lines: tuple[str, ...]
    action: int
    probability: float
    lead_probability: float
    lead: str | None
    kind: str

    def labelled(self, cost: float) -> list[str]:
        """The example with its cost on the action taken, as VW's ``learn`` reads it."""
        lines = list(self.lines)
        lines[1 + self.action] = f"0:{cost}:{self.probability} {lines[1 + self.action]}"
        return lines


def decide(workspace: Any, shared: str, drafts: Sequence[TipDraft], rng: random.Random) -> tuple[Decision, int]:
    """VW's choice among ``drafts`` (actions: their distinct lead and kind): the decision and the index of the first
    draft of the action drawn from VW's pmf."""
    firsts: dict[tuple[str | None, str], int] = {}
    for index, draft in enumerate(drafts):
        firsts.setdefault((draft.lead, str(draft.kind)), index)
    actions = list(firsts)
    lines = (shared, *(f"|A lead={_feature(lead or 'generic')} kind={_feature(kind)}" for lead, kind in actions))
    pmf = [float(p) for p in workspace.predict(list(lines))]
    total = sum(pmf)
    action = _drawn(pmf, rng)
    lead, kind = actions[action]
    of_lead = sum(p for (other, _kind), p in zip(actions, pmf, strict=True) if other == lead)
    decision = Decision(lines, action, pmf[action] / total, min(1.0, of_lead / total), lead, kind)
    return decision, firsts[actions[action]]


def _drawn(pmf: Sequence[float], rng: random.Random) -> int:
    """An index drawn from ``pmf`` (never one of probability 0)."""
    point = rng.random() * sum(pmf)
    running = 0.0
    for index, probability in enumerate(pmf):
        running += probability
        if point < running and probability > 0:
            return index
    return max(range(len(pmf)), key=lambda index: pmf[index])


@dataclass
class Bandit:
    """One person's workspace and the choices it made that it has not learned from yet, by tip id."""

    workspace: Any
    pending: dict[int, Decision] = field(default_factory=dict)

    def learn(self, session: Session, user_id: int) -> tuple[int, int]:
        """Learn from the person's answered tips among those VW chose and has not learned from yet (cost 1 - reward,
        :data:`agents.rewards.REWARDS`); how many it learned from, and how many it skipped because the tip's lead or
        kind is not the action VW chose (the writer went its own way)."""
        if not self.pending:
            return 0, 0
        rows = session.exec(
            select(Tip.id, Tip.reaction, Tip.lead_agent, Tip.kind)
            .where(Tip.user_id == user_id, col(Tip.id).in_(list(self.pending)), col(Tip.reaction).is_not(None))
            .order_by(col(Tip.id))
        ).all()
        learned = 0
        for tip_id, reaction, lead, kind in rows:
            decision = self.pending.pop(tip_id)
            if (lead, str(kind)) == (decision.lead, decision.kind):
                self.workspace.learn(decision.labelled(1.0 - REWARDS.get(Reaction(reaction), 0.0)))
                learned += 1
        return learned, len(rows) - learned


class VowpalWabbitPolicy:
    """Vowpal Wabbit's ``--cb_explore_adf`` with ``exploration`` (a key of :data:`VW_EXPLORATION`), one workspace per
    person held in memory. Actions: the offered drafts' distinct (lead, kind), with features ``lead`` and ``kind``;
    shared: the part of the day and the kind of context in effect, if any. Before each choice it learns from the
    person's answered tips (:meth:`Bandit.learn`); the choice is drawn from VW's pmf (keyed by ``seed``, the person
    and the moment) and the tip records the chance VW gave its lead. ``note(measure, value)`` is told the seconds each
    learning took (``learn_s``) and the answered tips it could not learn from (``skipped``)."""

    def __init__(self, name: str, exploration: str, seed: int, note: Note | None = None) -> None:
        self.vw = require_vowpalwabbit()
        self.name, self.seed, self.note = name, seed, note or (lambda _measure, _value: None)
        self.args = f"{VW_ARGS} {VW_EXPLORATION[exploration]}"
        self.bandits: dict[str, Bandit] = {}

    def bandit(self, user: User) -> Bandit:
        if user.email not in self.bandits:
            self.bandits[user.email] = Bandit(self.vw.Workspace(self.args))
        return self.bandits[user.email]

    def __call__(self, session: Session, user: User, now: datetime) -> Tip:
        bandit = self.bandit(user)
        started = time.perf_counter()
        _learned, skipped = bandit.learn(session, user.id)
        self.note("learn_s", time.perf_counter() - started)
        if skipped:
            self.note("skipped", skipped)
        rng = random.Random(f"{self.seed}:{user.email}:{now.isoformat()}")
        decisions: list[Decision] = []

        def chooser(drafts: Sequence[TipDraft]) -> int:
            decision, index = decide(bandit.workspace, shared_features(session, user, now), drafts, rng)
            decisions.append(decision)
            return index

        with override_choice(chooser, lambda _drafts: decisions[-1].lead_probability):
            tip = recommend(session, user, now, policy=as_policy(session, self.name))
        if decisions:  # the first choice is the tip's own
            bandit.pending[tip.id] = decisions[0]
        return tip


def shared_features(session: Session, user: User, now: datetime) -> str:
    """VW's shared line: the part of the person's local day and the kind of context in effect, if any."""
    features = [f"part={part_of(user, now)}"]
    context = context_in_effect(session, user.id, now)
    if context is not None:
        features.append(f"context={_feature(context.kind)}")
    return "shared |U " + " ".join(features)
