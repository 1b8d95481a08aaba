"""The recommender's entry point: :func:`recommend` writes the next tip with the incumbent policy, charges the
person's bucket, records the metrics and hands the tip to the shadow candidates.

It stands above :mod:`.orchestrator` (which writes one tip from the agents' snippets) and :mod:`.shadow` (which
writes the candidates' tips from the same inputs), so neither of them imports the other's caller.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from sqlmodel import Session

from agents.eligibility import context_in_effect
from oo_app.models import Policy, Tip, User
from oo_app.ops import metrics
from oo_app.recommender import limits, shadow
from oo_app.recommender.orchestrator import (
    Inputs,
    composer_only,
    freshest_outputs,
    generate,
    good_examples,
    open_task_signals,
    recent_tip_texts,
)
from oo_app.recommender.policies import incumbent

log = logging.getLogger(__name__)


def recommend(
    session: Session,
    user: User,
    now: datetime | None = None,
    policy: Policy | None = None,
    *,
    follows: Tip | None = None,
    recent: list[str] | None = None,
) -> Tip:
    """Write, log and return the next tip for ``user`` with ``policy`` (the incumbent by default). Shadow candidates
    write theirs from the same inputs once this tip is committed (:mod:`oo_app.recommender.shadow`).

    With ``follows`` (a shown tip), the tip is written ahead of time to follow it (:mod:`~.prefetch`): it waits,
    unshown and unshadowed, until the person answers ``follows``. ``recent``: the texts of the person's recent tips
    (:func:`~.orchestrator.recent_tip_texts`) when the caller read them already.

    Inside :func:`.limits.metered` it first takes a token of the person's bucket, raising
    :class:`~.limits.TipLimitReached` with nothing written when it is empty."""
    limits.charge(user.id)
    now = now or datetime.now(UTC)
    started = time.perf_counter()
    policy = policy or incumbent(session)
    # The network first, before any agent computed inline writes: SQLite's one write lock is not held while Todoist
    # answers, and focus-area computed inline finds the tasks in memory.
    transient = open_task_signals(session, user, now)
    context = context_in_effect(session, user.id, now)  # read once: which agents speak, and what the tip is about
    inputs = Inputs(
        outputs=freshest_outputs(session, user, now, context),
        recent=recent if recent is not None else recent_tip_texts(session, user.id),
        # The person's good tips are examples for a model; the composer reads none.
        examples=[] if composer_only(policy.alias) else good_examples(session, user.id),
        context=context,
        transient=transient,
    )
    tip = generate(session, user, policy, inputs, now, started=started, follows=follows)
    if follows is not None:
        log.info("tip %s for user %s written ahead to follow tip %s", tip.id, user.id, follows.id)
        return tip
    log.info("tip %s for user %s by %s (%s) from %s", tip.id, user.id, tip.model, policy.name, tip.agent_ids)
    metrics.tip_served(tip.model, policy.name, time.perf_counter() - started)
    shadow.after_commit(session, tip)
    return tip
