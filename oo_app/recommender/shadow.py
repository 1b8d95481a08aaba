"""Shadow policies at work: each candidate writes its tip beside every shown one, off the request path.

When a shown tip is committed, one background job per shown tip lets every shadow candidate write from the very same
inputs (the agent outputs the shown tip names, the recent and good tips before it), logs that tip with ``shadow=True``
and ``shadow_of``, and scores the pair: ``agreement`` (embedder cosine between the two texts) and the ``judge`` alias
on both. Shadow tips are never shown: every query of shown tips filters ``shadow``. A job is skipped, logged, while the
person is past their tip limit (:mod:`.limits`). A failing shadow job is logged and never touches the shown tip's
request.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from agents.eligibility import context_in_effect
from oo_app.erasure import PersonGone, forget_late_work, unless_gone
from oo_app.llm.router import embed, for_person
from oo_app.models import AgentOutput, Policy, Tip, User
from oo_app.recommender import limits
from oo_app.recommender.background import BackgroundJobs
from oo_app.recommender.dedup import closest_recent
from oo_app.recommender.judge import judge
from oo_app.recommender.orchestrator import Inputs, generate, good_examples, open_task_signals, recent_tip_texts
from oo_app.recommender.policies import shadow_policies

log = logging.getLogger(__name__)

_jobs = BackgroundJobs("shadow")
SCORING_SPAN = "shadow-scoring"  # the MLflow span of the judge and embedder calls scoring a shadow tip


def inputs_of(session: Session, shown: Tip) -> Inputs:
    """The inputs ``shown`` was written from, in its sources' order (outputs deleted since are left out)."""
    ids = [source["output_id"] for source in shown.sources]
    mine = select(AgentOutput).where(AgentOutput.user_id == shown.user_id, col(AgentOutput.id).in_(ids))
    user = session.get(User, shown.user_id)
    by_id = {o.id: o for o in session.exec(mine)} if ids else {}
    return Inputs(
        outputs=[by_id[i] for i in ids if i in by_id],
        recent=recent_tip_texts(session, shown.user_id, before=shown.id),
        examples=good_examples(session, shown.user_id, before=shown.id),
        context=context_in_effect(session, shown.user_id, shown.created_at),  # as it stood when it was written
        # Open tasks are never stored: the cached ones (or a fresh fetch) stand in for those the shown tip saw.
        transient=open_task_signals(session, user, shown.created_at) if user is not None else (),
    )


def write_shadow(session: Session, shown: Tip, policy: Policy) -> Tip:
    """``policy``'s tip from the inputs of ``shown``, logged as its shadow, scored against it."""
    user = session.get(User, shown.user_id)
    inputs = inputs_of(session, shown)
    tip = generate(session, user, policy, inputs, shown.created_at, shadow_of=shown)
    lines = [signal.text for signal in inputs.signals]
    with for_person(shown.user_id, SCORING_SPAN):
        for scored in (shown, tip):
            if scored.judge_score is None:
                verdict = judge(scored.text, lines, inputs.recent)
                scored.judge_score = verdict.score if verdict else None
        try:
            closest = closest_recent(tip.text, [shown.text], embed)
            tip.agreement = closest[1] if closest else None
        except Exception:
            log.warning("the embedder failed; shadow tip %s has no agreement score", tip.id, exc_info=True)
    session.add_all([shown, tip])
    session.flush()
    return tip


def run_shadows(session: Session, shown_id: int) -> list[Tip]:
    """Every shadow candidate's tip beside the shown tip ``shown_id`` (none for a shadow tip or a missing one).

    Raises :class:`~oo_app.erasure.PersonGone` when the person was deleted while their shadows were written."""
    shown = session.get(Tip, shown_id)
    if shown is None or shown.shadow:
        return []
    with unless_gone(session, shown.user_id):
        return [write_shadow(session, shown, policy) for policy in shadow_policies(session)]


def _job(engine: Engine, shown_id: int, user_id: int) -> None:
    from oo_app.db import session_scope

    if not limits.within_limit(user_id):
        log.info("no shadow beside tip %s: its person is past their tip limit", shown_id)
        return
    try:
        with session_scope(engine) as session:
            written = run_shadows(session, shown_id)
        if written:
            log.info("tip %s shadowed by %s", shown_id, ", ".join(tip.policy for tip in written))
    except PersonGone as gone:
        log.info("no shadow beside tip %s: its person %s was deleted meanwhile", shown_id, gone.user_id)
        forget_late_work(engine, gone.user_id)
    except Exception:
        log.exception("shadow policies failed beside tip %s", shown_id)


def submit(engine: Engine, shown_id: int, user_id: int) -> Future[None]:
    """Run the shadow candidates beside tip ``shown_id`` of person ``user_id`` of the database behind ``engine``, in
    the background, unless that person is past their tip limit (:mod:`.limits`, logged)."""
    return _jobs.submit(_job, engine, shown_id, user_id)


def after_commit(session: Session, shown: Tip) -> None:
    """Once ``session`` commits, let the shadow candidates write beside ``shown``; nothing when there are none or
    when the session rolls back."""
    if shown.shadow or not shadow_policies(session):
        return
    shown_id, user_id, engine = shown.id, shown.user_id, session.get_bind()
    event.listen(session, "after_commit", lambda _session: submit(engine, shown_id, user_id), once=True)


def drain(timeout: float | None = None) -> bool:
    """Wait for the jobs submitted so far; True when all finished within ``timeout`` seconds."""
    return _jobs.drain(timeout)
