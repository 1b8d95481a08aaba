"""Policies: which prompt version and which alias write the tips, how they choose a tip's lead, the shown one and the
shadow candidates.

Exactly one policy is the incumbent: its tips are shown. Until an operator registers a candidate, the incumbent is
built in (``settings.policy``, the current prompt, ``tip-generator``) and no row exists. A candidate starts in the
shadow role: on every shown tip it writes its own from the same snippets (``shadow=True``, never shown), which is
judged and compared with the shown one. Promotion is an explicit operator action, refused (unless forced) until the
candidate agrees with the incumbent offline (``oo bench models``) and online (its shadow tips). A candidate that
chooses the lead differently (``chooser``) is also judged off-policy from the incumbent's logged tips
(:mod:`oo_app.recommender.offpolicy`): refused while its estimated acceptance is surely below the incumbent's.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, func, select

from oo_app import audit
from oo_app.errors import Conflict, InvalidInput, NotFound
from oo_app.llm.aliases import TIP_GENERATOR
from oo_app.models import Chooser, Policy, PolicyRole, Tip
from oo_app.recommender.offpolicy import CHOOSERS, logged_tips, snips
from oo_app.recommender.prompts import CURRENT_VERSION, template
from oo_app.settings import get_settings

log = logging.getLogger(__name__)

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MIN_SHADOW_PAIRS = 20  # online evidence a promotion needs
OFFPOLICY_DAYS = 30  # the incumbent's logged tips an off-policy estimate reads
MIN_LOGGED_TIPS = 50  # answered logged tips an off-policy estimate needs
JUDGE_MARGIN = 0.05  # a candidate may score this much below the incumbent and still be promoted
AGREEMENT = 0.7  # embedder cosine at which a shadow tip says the same as the shown one


def builtin_incumbent() -> Policy:
    """The incumbent while no policy is registered (not stored)."""
    return Policy(
        name=get_settings().policy, prompt_version=CURRENT_VERSION, alias=TIP_GENERATOR, role=PolicyRole.incumbent
    )


# Every tip reads them: built once (building a statement costs SQLAlchemy more CPU than running it).
_INCUMBENT = select(Policy).where(Policy.role == PolicyRole.incumbent)
_SHADOWS = select(Policy).where(Policy.role == PolicyRole.shadow).order_by(Policy.name)


def incumbent(session: Session) -> Policy:
    stored = session.exec(_INCUMBENT).first()
    return stored or builtin_incumbent()


def without_waiting(session: Session) -> Policy | None:
    """The incumbent writing through its alias's fallback (``<alias>-fallback``, the composer by design), for a tip
    that must not wait on the model; None when the alias table has no such fallback. Not stored."""
    policy = incumbent(session)
    fallback = f"{policy.alias}-fallback"
    if fallback not in get_settings().alias_table:
        return None
    return Policy(name=policy.name, prompt_version=policy.prompt_version, alias=fallback, role=policy.role)


def shadow_policies(session: Session) -> list[Policy]:
    return list(session.exec(_SHADOWS))


def all_policies(session: Session) -> list[Policy]:
    """Every policy, the incumbent first (the built-in one when none is stored)."""
    stored = list(session.exec(select(Policy).order_by(Policy.created_at, Policy.name)))
    if not any(policy.role == PolicyRole.incumbent for policy in stored):
        stored.insert(0, builtin_incumbent())
    return sorted(stored, key=lambda policy: policy.role != PolicyRole.incumbent)


def get_policy(session: Session, name: str) -> Policy:
    policy = session.get(Policy, name)
    if policy is not None:
        return policy
    current = incumbent(session)
    if current.name == name:
        return current  # the built-in incumbent
    raise NotFound(f"no policy {name!r}; `oo policy list` shows them")


def validate(name: str, prompt_version: str, alias: str) -> None:
    """Raise InvalidInput unless ``name`` is well formed, the prompt version exists and the alias is configured."""
    if not NAME.match(name):
        raise InvalidInput(f"policy name {name!r}: lowercase letters, digits, '.', '_' or '-', at most 64")
    try:
        template(prompt_version)
    except KeyError:
        raise InvalidInput(f"no prompt version {prompt_version!r} in oo_app/recommender/prompts/") from None
    if not prompt_version.startswith("orchestrator-"):
        raise InvalidInput(f"{prompt_version!r} is not an orchestrator prompt")
    aliases = get_settings().alias_table
    if alias not in aliases:
        raise InvalidInput(f"no alias {alias!r} in the configured alias table ({', '.join(sorted(aliases))})")


def add_candidate(
    session: Session, name: str, prompt_version: str, alias: str, chooser: Chooser | str = Chooser.thompson
) -> Policy:
    """Register a shadow candidate choosing leads by ``chooser``; the built-in incumbent is stored beside it (so a
    promotion can retire it)."""
    validate(name, prompt_version, alias)
    try:
        chooser = Chooser(chooser)
    except ValueError:
        raise InvalidInput(f"chooser {chooser!r}: one of {', '.join(c.value for c in Chooser)}") from None
    if session.get(Policy, name) is not None or name == incumbent(session).name:
        raise Conflict(f"a policy named {name!r} exists already")
    current = incumbent(session)
    if session.get(Policy, current.name) is None:
        session.add(current)
    candidate = Policy(name=name, prompt_version=prompt_version, alias=alias, role=PolicyRole.shadow, chooser=chooser)
    session.add(candidate)
    session.flush()
    log.info("policy %s (%s via %s) shadows the incumbent", name, prompt_version, alias)
    return candidate


def retire(session: Session, name: str) -> Policy:
    """Stop a shadow candidate (its tips stay in the log)."""
    policy = get_policy(session, name)
    if policy.role != PolicyRole.shadow:
        raise Conflict(f"policy {name!r} is {policy.role}, only a shadow candidate can be retired")
    policy.role = PolicyRole.retired
    session.add(policy)
    session.flush()
    return policy


@dataclass(frozen=True)
class ShadowReport:
    """How a candidate's shadow tips compare with the shown tips they were written beside."""

    policy: str
    incumbent: str
    pairs: int
    agreement_mean: float | None  # mean embedder cosine between the shadow and the shown tip
    agreement_rate: float | None  # share of pairs at or above AGREEMENT
    judge_candidate: float | None  # mean judge score of the shadow tips
    judge_incumbent: float | None  # mean judge score of the shown tips of the same pairs
    offline_judge_candidate: float | None
    offline_judge_incumbent: float | None
    offline_pass_rate_candidate: float | None
    # When the candidate chooses leads otherwise than the incumbent: its acceptance estimated (self-normalised IPS
    # with its 95% interval) from the incumbent's answered logged tips of the last OFFPOLICY_DAYS, and the
    # incumbent's own acceptance on them; None when both choose alike or it cannot be estimated.
    chooser: str = Chooser.thompson.value
    incumbent_chooser: str = Chooser.thompson.value
    offpolicy_tips: int = 0
    offpolicy_estimate: float | None = None
    offpolicy_low: float | None = None
    offpolicy_high: float | None = None
    incumbent_acceptance: float | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def shadow_report(session: Session, name: str) -> ShadowReport:
    policy = get_policy(session, name)
    current = incumbent(session)
    shown = aliased(Tip)
    pairs, agreement_mean, agreed, agreements, judge_candidate, judge_shown = session.exec(
        select(
            func.count(Tip.id),
            func.avg(Tip.agreement),
            func.sum(sa.case((col(Tip.agreement) >= AGREEMENT, 1), else_=0)),
            func.count(Tip.agreement),
            func.avg(Tip.judge_score),
            func.avg(shown.judge_score),
        )
        .join(shown, shown.id == Tip.shadow_of)
        .where(Tip.policy == policy.name, Tip.shadow == True)  # noqa: E712
    ).one()
    return ShadowReport(
        policy=policy.name,
        incumbent=current.name,
        pairs=int(pairs or 0),
        agreement_mean=_rounded(agreement_mean),
        agreement_rate=_rounded(agreed / agreements) if agreements else None,
        judge_candidate=_rounded(judge_candidate),
        judge_incumbent=_rounded(judge_shown),
        offline_judge_candidate=policy.offline_judge_score,
        offline_judge_incumbent=current.offline_judge_score,
        offline_pass_rate_candidate=policy.offline_pass_rate,
        chooser=str(policy.chooser),
        incumbent_chooser=str(current.chooser),
        **_offpolicy(session, policy, current),
    )


def _offpolicy(session: Session, candidate: Policy, current: Policy) -> dict[str, float | int | None]:
    """The off-policy fields of :class:`ShadowReport` for ``candidate`` from ``current``'s logged tips."""

    if Chooser(candidate.chooser) == Chooser(current.chooser):
        return {}
    since = datetime.now(UTC) - timedelta(days=OFFPOLICY_DAYS)
    tips = logged_tips(session, since=since, policy=current.name)
    found: dict[str, float | int | None] = {"offpolicy_tips": len(tips)}
    target = CHOOSERS.get(Chooser(candidate.chooser))
    if target is None or not tips:
        return found
    estimate = snips(tips, target)
    found |= {"offpolicy_estimate": _rounded(estimate.value), "offpolicy_low": _rounded(estimate.low)}
    found |= {"offpolicy_high": _rounded(estimate.high)}
    found["incumbent_acceptance"] = _rounded(sum(tip.reward for tip in tips) / len(tips))
    return found


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def promotion_blockers(report: ShadowReport) -> list[str]:
    """Why the candidate of ``report`` may not be promoted yet (empty when it may)."""
    blockers: list[str] = []
    if report.offline_judge_candidate is None:
        blockers.append("no offline benchmark yet: run `oo bench models`")
    elif (
        report.offline_judge_incumbent is not None
        and report.offline_judge_candidate < report.offline_judge_incumbent - JUDGE_MARGIN
    ):
        blockers.append(
            f"offline judge score {report.offline_judge_candidate:.2f} below the incumbent's "
            f"{report.offline_judge_incumbent:.2f}"
        )
    blockers += _offpolicy_blockers(report)
    if report.pairs < MIN_SHADOW_PAIRS:
        blockers.append(f"{report.pairs} shadow tips online, {MIN_SHADOW_PAIRS} needed")
    elif report.judge_candidate is None or report.judge_incumbent is None:
        blockers.append("the shadow tips are not judged yet")
    elif report.judge_candidate < report.judge_incumbent - JUDGE_MARGIN:
        blockers.append(
            f"online judge score {report.judge_candidate:.2f} below the incumbent's {report.judge_incumbent:.2f}"
        )
    return blockers


def _offpolicy_blockers(report: ShadowReport) -> list[str]:
    """Off-policy evidence against a candidate that chooses leads otherwise than the incumbent."""
    if report.chooser == report.incumbent_chooser:
        return []  # it chooses as the incumbent does: its shadow tips are the evidence
    if Chooser(report.chooser) not in CHOOSERS:
        return [f"its {report.chooser} choices cannot be estimated from the incumbent's log (measure: oo simulate)"]
    if report.offpolicy_estimate is None or report.offpolicy_tips < MIN_LOGGED_TIPS:
        return [
            f"{report.offpolicy_tips} answered logged tips to estimate its {report.chooser} choices from, "
            f"{MIN_LOGGED_TIPS} needed"
        ]
    if report.incumbent_acceptance is not None and (report.offpolicy_high or 0.0) < report.incumbent_acceptance:
        return [
            f"off-policy estimate of its acceptance {report.offpolicy_estimate:.2f} "
            f"[{report.offpolicy_low:.2f}, {report.offpolicy_high:.2f}] below the incumbent's "
            f"{report.incumbent_acceptance:.2f} on the same {report.offpolicy_tips} tips"
        ]
    return []


def promote(session: Session, name: str, *, actor: str, force: bool = False, now: datetime | None = None) -> Policy:
    """Make the shadow candidate ``name`` the incumbent and retire the old one; the one domain action behind the CLI
    and the operator hub, recorded in the audit log (who, the previous incumbent, what a forced promotion overrode).
    Refused with the reasons (Conflict) while :func:`promotion_blockers` has any, unless ``force``."""
    candidate = get_policy(session, name)
    if candidate.role != PolicyRole.shadow:
        raise Conflict(f"policy {name!r} is {candidate.role}; only a shadow candidate can be promoted")
    blockers = promotion_blockers(shadow_report(session, name))
    if blockers and not force:
        raise Conflict(f"policy {name!r} cannot be promoted yet: " + "; ".join(blockers))
    previous = incumbent(session).name
    current = session.get(Policy, previous)
    if current is not None:
        current.role = PolicyRole.retired
        session.add(current)
        session.flush()  # the partial unique index allows one incumbent at a time
    candidate.role = PolicyRole.incumbent
    candidate.promoted_at = now or datetime.now(UTC)
    candidate.promoted_by = actor
    session.add(candidate)
    session.flush()
    audit.record(
        session,
        actor,
        audit.PROMOTE_POLICY,
        audit.policy_target(name),
        {"previous_incumbent": previous, "force": force, "overrode": blockers},
        now=candidate.promoted_at,
    )
    log.warning("policy %s promoted by %s%s", name, actor, f" (forced over: {'; '.join(blockers)})" if blockers else "")
    return candidate


def record_offline(session: Session, name: str, *, judge_score: float, pass_rate: float, run_id: str | None) -> None:
    """Store a policy's latest offline benchmark figures (the built-in incumbent is stored for it)."""
    policy = get_policy(session, name)
    policy.offline_judge_score, policy.offline_pass_rate, policy.offline_run_id = judge_score, pass_rate, run_id
    session.add(policy)
    session.flush()
