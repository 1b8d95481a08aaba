"""Choosing which agent leads a tip: Thompson sampling over each lead's Beta posterior of being taken up.

:func:`choose` picks one of the drafts the composer offers (never anything else, so quiet hours, consents, contexts
and low energy hold) and says with which probability it picked that lead (its propensity, logged on the tip for
off-policy evaluation). :func:`learning_off` and :func:`override_choice` replace the choice (no-learning,
evaluation); :func:`observe_choices` shows an evaluation which drafts each choice was made among.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from sqlmodel import Session, col, func, select

from agents.rewards import LEARNER, REWARDS, WEAK_PRIOR, context_key, key, kind_key, part_key
from oo_app.models import Reaction, Tip

if TYPE_CHECKING:
    from oo_app.recommender.composer import TipDraft

DRAWS = 2_000  # Thompson draws that estimate a choice's propensity

# A lead's Beta posterior (alpha, beta) of being taken up, by lead (GENERIC for the generic drafts).
Posterior = Mapping[str, tuple[float, float]]
Chooser = Callable[[Sequence["TipDraft"]], int]
Observer = Callable[[Sequence["TipDraft"], "Choice"], None]
Propensity = Callable[[Sequence["TipDraft"]], float]


@dataclass(frozen=True)
class Choice:
    """The draft chosen (``index`` into the drafts given), the chance its lead was chosen, its lead, and the
    distinct leads it was chosen among (the composer's order; None for the generic drafts): only those a choice could
    pick (a lead whose every draft was shown recently is not one), so that the log supports off-policy estimates."""

    index: int
    propensity: float
    lead: str | None
    candidates: list[str | None]


_off: ContextVar[bool] = ContextVar("learning_off", default=False)
_override: ContextVar[tuple[Chooser, Propensity | None] | None] = ContextVar("override_choice", default=None)
_observer: ContextVar[Observer | None] = ContextVar("observe_choices", default=None)


@contextmanager
def learning_off() -> Iterator[None]:
    """Inside it, choices follow the composer's order with propensity 1.0 (the "no-learning" policy)."""
    token = _off.set(True)
    try:
        yield
    finally:
        _off.reset(token)


@contextmanager
def override_choice(chooser: Chooser, propensity: Propensity | None = None) -> Iterator[None]:
    """Evaluation only: inside it ``chooser(drafts)`` picks the index among the drafts :func:`choose` may pick (not
    shown recently); the tip records ``propensity(drafts)`` (1.0 when not given: a deterministic chooser; a uniform
    pick among the leads passes :func:`uniform_over_leads`)."""
    token = _override.set((chooser, propensity))
    try:
        yield
    finally:
        _override.reset(token)


@contextmanager
def observe_choices(observer: Observer) -> Iterator[None]:
    """Evaluation only: inside it each choice calls ``observer(offered, choice)`` with the drafts it was made among
    (those not shown recently, or the one left when all were) and the choice."""
    token = _observer.set(observer)
    try:
        yield
    finally:
        _observer.reset(token)


def is_learning_off() -> bool:
    return _off.get()


def _mean(posterior: Posterior, key: str) -> float:
    alpha, beta = posterior.get(key, WEAK_PRIOR)
    return alpha / (alpha + beta)


def leads_of(drafts: Sequence[TipDraft]) -> list[str | None]:
    """The distinct leads of ``drafts``, in their order."""
    return list(dict.fromkeys(draft.lead for draft in drafts))


def uniform_over_leads(drafts: Sequence[TipDraft]) -> float:
    """The propensity of a pick uniform over the distinct leads of ``drafts``."""
    return 1.0 / max(1, len(leads_of(drafts)))


def _normalized(text: str) -> str:
    return " ".join(text.lower().split())


def in_order(drafts: Sequence[TipDraft], recent: Sequence[str]) -> int:
    """The composer's own pick: the first draft not recent; when all were shown, the one shown longest ago."""
    shown = [_normalized(text) for text in recent]  # newest first
    for index, draft in enumerate(drafts):
        if _normalized(draft.text) not in shown:
            return index
    return max(range(len(drafts)), key=lambda index: shown.index(_normalized(drafts[index].text)))


def posterior_key(posterior: Posterior, lead: str | None, part: str | None, context: str | None = None) -> str:
    """The key of ``lead``'s posterior: the one of the person's ``context`` when the learner has one (enough answers
    there), else the one of its ``part`` of the day, else the lead's own."""
    specific = [context_key(lead, context) if context else None, part_key(lead, part) if part else None]
    return next((name for name in specific if name is not None and name in posterior), key(lead))


def thompson(
    leads: Sequence[str | None],
    posterior: Posterior,
    rng: random.Random,
    part: str | None = None,
    context: str | None = None,
) -> tuple[int, float]:
    """Thompson sampling among ``leads`` (each by its :func:`posterior_key` in ``part`` of the day and ``context``):
    the position of the lead drawn and the chance it is drawn, estimated from :data:`DRAWS` vectorised draws of a
    generator seeded by ``rng`` (the first draw is the one acted on, so the chosen lead's estimate is never 0, and the
    same ``rng`` state gives the same choice)."""
    if len(leads) == 1:
        return 0, 1.0
    keys = [posterior_key(posterior, lead, part, context) for lead in leads]
    params = np.array([posterior.get(name, WEAK_PRIOR) for name in keys], dtype=float)
    generator = np.random.default_rng(rng.getrandbits(64))
    draws = generator.beta(params[:, 0], params[:, 1], size=(DRAWS, len(leads)))
    winners = np.argmax(draws, axis=1)
    chosen = int(winners[0])
    return chosen, float(np.count_nonzero(winners == chosen)) / DRAWS


def posterior_of(signals: Mapping[str, object]) -> Posterior:
    """The person's posterior as the learner agent's facts carry it (``tastes``: ``{lead: {"alpha", "beta"}}``);
    empty when the learner has none (no reactions anywhere yet, no consent): then the composer's order decides."""
    learned = signals.get(LEARNER)
    tastes = learned.get("tastes") if isinstance(learned, Mapping) else None
    if not isinstance(tastes, Mapping):
        return {}
    found: dict[str, tuple[float, float]] = {}
    for lead, taste in tastes.items():
        try:
            alpha, beta = float(taste["alpha"]), float(taste["beta"])
        except (KeyError, TypeError, ValueError):
            continue  # facts from an older learner version
        if alpha > 0 and beta > 0:
            found[str(lead)] = (alpha, beta)
    return found


def choose(
    drafts: Sequence[TipDraft],
    posterior: Posterior,
    rng: random.Random,
    recent: Sequence[str] = (),
    part: str | None = None,
    context: str | None = None,
) -> Choice:
    """Which of ``drafts`` (best first, from the composer) to write: Thompson sampling over the distinct leads of the
    drafts not among ``recent`` (texts, newest first; in ``part`` of the day and the person's ``context``,
    :func:`posterior_key`), then the lead's
    draft of the kind most taken up (the first on a tie). When every draft was shown recently, nothing is learned
    yet (an empty posterior), or learning is off, the composer's order decides (propensity 1.0)."""
    if not drafts:
        raise ValueError("choose needs at least one draft; the composer always offers the generic tips")
    shown = {_normalized(text) for text in recent}
    fresh = [index for index, draft in enumerate(drafts) if _normalized(draft.text) not in shown]
    if fresh:
        choice = _choose_among(drafts, fresh, posterior, rng, (part, context))
    else:  # every draft was shown recently: the one shown longest ago, the only choice
        index = in_order(drafts, recent)
        choice = Choice(index, 1.0, drafts[index].lead, [drafts[index].lead])
    observer = _observer.get()
    if observer is not None:
        observer([drafts[index] for index in fresh] or [drafts[choice.index]], choice)
    return choice


def _choose_among(
    drafts: Sequence[TipDraft],
    fresh: list[int],
    posterior: Posterior,
    rng: random.Random,
    situation: tuple[str | None, str | None],
) -> Choice:
    offered = [drafts[index] for index in fresh]
    fresh_leads = leads_of(offered)
    override = _override.get()
    if override is not None:
        chooser, propensity = override
        picked = chooser(offered)
        if not 0 <= picked < len(offered):
            raise ValueError(f"the chooser picked {picked}, outside the {len(offered)} drafts offered")
        index = fresh[picked]
        return Choice(index, propensity(offered) if propensity else 1.0, drafts[index].lead, fresh_leads)
    if _off.get() or not posterior:
        index = fresh[0]  # the composer's order: its first draft not shown recently
        return Choice(index, 1.0, drafts[index].lead, fresh_leads)
    position, propensity = thompson(fresh_leads, posterior, rng, *situation)
    lead = fresh_leads[position]
    # Within the lead, the kind the person takes up most (its posterior mean); on a tie, the composer's order.
    of_lead = [index for index in fresh if drafts[index].lead == lead]
    index = max(of_lead, key=lambda index: (_mean(posterior, kind_key(str(drafts[index].kind))), -index))
    return Choice(index, propensity, lead, fresh_leads)


# --- the population prior ---------------------------------------------------------------------------------------------

PRIOR_TTL_S = 600.0  # the prior is recomputed at most every 10 minutes per database
PRIOR_WEIGHT = 5.0  # what most people do weighs as this many of a person's own reactions (fewer while few reacted)
_priors: dict[str, tuple[float, dict[str, tuple[float, float]]]] = {}
_priors_lock = threading.Lock()


def compute_prior(session: Session, policy: str | None = None) -> dict[str, tuple[float, float]]:
    """Per lead (:data:`GENERIC` for tips no agent led) and per kind (:func:`kind_key`), across everyone's answered
    shown tips (only ``policy``'s when given: the simulation keeps its policies' populations apart): Beta(1 + w * mean
    reward, 1 + w * (1 - mean reward)), ``w`` = min(:data:`PRIOR_WEIGHT`, answers). Empty while nobody has answered a
    tip (then every lead starts at Beta(1, 1))."""
    answered = select(Tip.lead_agent, Tip.kind, Tip.reaction, func.count()).where(
        Tip.shadow == False,  # noqa: E712
        col(Tip.reaction).is_not(None),
    )
    if policy is not None:
        answered = answered.where(Tip.policy == policy)
    rows = session.exec(answered.group_by(Tip.lead_agent, Tip.kind, Tip.reaction)).all()
    totals: dict[str, list[float]] = {}
    for lead, kind, reaction, count in rows:
        reward = REWARDS.get(Reaction(reaction), 0.0) if reaction in {r.value for r in Reaction} else 0.0
        for name in (key(lead), kind_key(str(kind))):
            total = totals.setdefault(name, [0.0, 0.0])
            total[0] += reward * count
            total[1] += count
    prior = {}
    for name, (rewarded, answered) in sorted(totals.items()):
        weight, mean = min(PRIOR_WEIGHT, answered), rewarded / answered
        prior[name] = (round(1.0 + weight * mean, 3), round(1.0 + weight * (1.0 - mean), 3))
    return prior


def population_prior(session: Session) -> dict[str, tuple[float, float]]:
    """:func:`compute_prior`, cached in the process per database for :data:`PRIOR_TTL_S`."""
    database = session.get_bind().url.render_as_string(hide_password=True)
    now = time.monotonic()
    with _priors_lock:
        cached = _priors.get(database)
        if cached is not None and now - cached[0] < PRIOR_TTL_S:
            return cached[1]
    prior = compute_prior(session)
    with _priors_lock:
        _priors[database] = (now, prior)
    return prior


def forget_priors() -> None:
    """Drop the cached priors (tests; a deleted database)."""
    with _priors_lock:
        _priors.clear()
