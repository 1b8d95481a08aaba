"""The report of :mod:`oo_app.evaluation.simulation`: per policy the reactions its tips met, its acceptance overall, per
persona, per simulated day and over the last ten days, and its tips in true quiet hours; as a text table, as the JSON
``oo simulate`` prints, and as the plotly figure of acceptance per day (logged to MLflow by :func:`log_report`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from oo_app.models import ACCEPTING_REACTIONS, Reaction

BASELINE = "random-agent"
LAST_DAYS = 10  # "acceptance_last_10_days": what a learner reached at the end
SIMULATION_EXPERIMENT = "oo-simulation"


def _acceptance(counts: Counter[str]) -> float:
    """Accepted (done or liked) per delivered tip; 0 when none was delivered."""
    total = counts.total()
    return sum(counts[kind] for kind in ACCEPTING_REACTIONS) / total if total else 0.0


@dataclass
class PolicyResult:
    """What one policy's tips met: reactions by persona and by simulated day (0 = the first), tips delivered in a
    TRUE quiet window, and per off-policy target the sum of the true chances that the target's own choice at each of
    this policy's moments would have been taken up, with the number of moments (the truth an estimate is checked
    against)."""

    reactions_by_persona: dict[str, Counter[str]] = field(default_factory=dict)
    reactions_by_day: dict[int, Counter[str]] = field(default_factory=dict)
    quiet_violations: int = 0
    counterfactual: dict[str, list[float]] = field(default_factory=dict)

    def record(self, persona_id: str, reaction: Reaction, quiet: bool, day: int = 0) -> None:
        self.reactions_by_persona.setdefault(persona_id, Counter())[reaction.value] += 1
        self.reactions_by_day.setdefault(day, Counter())[reaction.value] += 1
        self.quiet_violations += quiet

    def merge(self, other: PolicyResult) -> None:
        """Add ``other``'s tips (the same policy, run on other personas)."""
        for persona, counts in other.reactions_by_persona.items():
            self.reactions_by_persona.setdefault(persona, Counter()).update(counts)
        for day, counts in other.reactions_by_day.items():
            self.reactions_by_day.setdefault(day, Counter()).update(counts)
        self.quiet_violations += other.quiet_violations
        for target, (chances, moments) in other.counterfactual.items():
            total = self.counterfactual.setdefault(target, [0.0, 0])
            total[0] += chances
            total[1] += moments

    def record_counterfactual(self, target: str, chance: float) -> None:
        """At one of this policy's moments, ``target``'s choice would have been taken up with ``chance``."""
        total = self.counterfactual.setdefault(target, [0.0, 0])
        total[0] += chance
        total[1] += 1

    def counterfactual_acceptance(self, target: str) -> float | None:
        """The true acceptance ``target`` would have had on this policy's moments; None when not recorded."""
        chances, moments = self.counterfactual.get(target, (0.0, 0))
        return chances / moments if moments else None

    @property
    def reactions(self) -> dict[str, int]:
        """Tips by reaction, every kind of reaction listed."""
        total = sum(self.reactions_by_persona.values(), Counter())
        return {kind.value: total[kind.value] for kind in Reaction}

    @property
    def delivered(self) -> int:
        return sum(self.reactions.values())

    @property
    def accepted(self) -> int:
        return sum(self.reactions[kind] for kind in ACCEPTING_REACTIONS)

    @property
    def acceptance(self) -> float:
        """Accepted (done or liked) per delivered tip; 0 when none was delivered."""
        return self.accepted / self.delivered if self.delivered else 0.0

    def acceptance_from(self, first_day: int) -> float:
        """Acceptance of the tips of simulated day ``first_day`` and after."""
        return _acceptance(sum((c for day, c in self.reactions_by_day.items() if day >= first_day), Counter()))

    def daily_acceptance(self, days: int) -> list[float | None]:
        """Acceptance on each simulated day (None on a day without a tip)."""
        return [
            _acceptance(self.reactions_by_day[day]) if self.reactions_by_day.get(day) else None for day in range(days)
        ]

    def persona_acceptance(self) -> dict[str, float]:
        return {persona: _acceptance(counts) for persona, counts in self.reactions_by_persona.items()}


@dataclass(frozen=True)
class SimulationReport:
    """Per policy (the baseline ``random-agent`` included): tips, reactions, acceptance, quiet-hours violations;
    ``offpolicy`` holds the estimator check (see :mod:`oo_app.evaluation.simulation`) when one was made."""

    days: int
    seed: int
    personas: tuple[str, ...]
    policies: dict[str, PolicyResult]
    offpolicy: dict[str, Any] | None = None

    def lift(self, policy: str) -> float | None:
        """``policy``'s acceptance divided by the baseline's; None when the baseline accepted nothing."""
        baseline = self.policies[BASELINE].acceptance
        return self.policies[policy].acceptance / baseline if baseline else None

    def last_days(self, policy: str) -> float:
        """``policy``'s acceptance over the last :data:`LAST_DAYS` simulated days."""
        return self.policies[policy].acceptance_from(max(0, self.days - LAST_DAYS))

    def goals(self) -> dict[str, float | None]:
        """The issue's goals as measured: incumbent / no-learning over the run, incumbent / oracle over the last
        days (None when a policy is missing or accepted nothing)."""

        def ratio(top: float | None, bottom: float | None) -> float | None:
            return top / bottom if top is not None and bottom else None

        def get(name: str, last: bool) -> float | None:
            if name not in self.policies:
                return None
            return self.last_days(name) if last else self.policies[name].acceptance

        return {
            "incumbent_over_no_learning": ratio(get("incumbent", False), get("no-learning", False)),
            "incumbent_over_oracle_last_10_days": ratio(get("incumbent", True), get("oracle", True)),
            "incumbent_over_random_agent": ratio(get("incumbent", False), get(BASELINE, False)),
        }

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "days": self.days,
            "seed": self.seed,
            "personas": list(self.personas),
            "baseline": BASELINE,
            "policies": {
                name: {
                    "delivered": result.delivered,
                    "reactions": result.reactions,
                    "accepted": result.accepted,
                    "acceptance": result.acceptance,
                    "acceptance_last_10_days": self.last_days(name),
                    "lift": self.lift(name),
                    "quiet_hours_violations": result.quiet_violations,
                    "acceptance_by_persona": result.persona_acceptance(),
                    "acceptance_by_day": result.daily_acceptance(self.days),
                }
                for name, result in self.policies.items()
            },
            "goals": self.goals(),
        }
        if self.offpolicy is not None:
            data["offpolicy"] = self.offpolicy
        return data

    def table(self) -> str:
        """A short text table: one line per policy, then acceptance per persona."""
        kinds = [kind.value for kind in Reaction if any(r.reactions[kind.value] for r in self.policies.values())]
        width = max(len(name) for name in [*self.policies, *self.personas, "persona"])
        header = ["tips", *kinds, "acceptance", f"last {LAST_DAYS} d", "lift", "quiet-hours"]
        lines = [
            f"{len(self.personas)} personas x {self.days} days, seed {self.seed}; lift = acceptance / {BASELINE}'s",
            f"{'policy':<{width}}  " + "  ".join(f"{column:>10}" for column in header),
        ]
        for name, result in self.policies.items():
            lift = self.lift(name)
            cells = [result.delivered, *(result.reactions[kind] for kind in kinds)]
            cells += [f"{result.acceptance:.1%}", f"{self.last_days(name):.1%}"]
            cells += ["-" if lift is None else f"x{lift:.2f}", result.quiet_violations]
            lines.append(f"{name:<{width}}  " + "  ".join(f"{cell:>10}" for cell in cells))
        lines += ["", f"{'persona':<{width}}  " + "  ".join(f"{name:>12}" for name in self.policies)]
        by_policy = {name: result.persona_acceptance() for name, result in self.policies.items()}
        for persona in self.personas:
            cells = [f"{by_policy[name].get(persona, 0.0):.1%}" for name in self.policies]
            lines.append(f"{persona:<{width}}  " + "  ".join(f"{cell:>12}" for cell in cells))
        goals = {key: value for key, value in self.goals().items() if value is not None}
        if goals:
            lines += ["", "  ".join(f"{key} x{value:.2f}" for key, value in goals.items())]
        return "\n".join(lines)


def acceptance_figure(report: SimulationReport) -> Any:
    """A plotly line figure: acceptance per simulated day, one line per policy."""
    import plotly.graph_objects as go

    figure = go.Figure()
    days = list(range(1, report.days + 1))
    for name, result in report.policies.items():
        figure.add_trace(go.Scatter(x=days, y=result.daily_acceptance(report.days), mode="lines+markers", name=name))
    figure.update_layout(
        title=f"Acceptance per simulated day ({len(report.personas)} personas, seed {report.seed})",
        xaxis_title="day",
        yaxis_title="acceptance",
        yaxis_range=[0, 1],
        template="plotly_white",
    )
    return figure


def log_report(report: SimulationReport, seconds: float) -> str:
    """Log ``report`` as one run of MLflow's ``oo-simulation`` experiment: each policy's figures as metrics, its
    acceptance per day as a series (``acceptance_by_day.<policy>``, one step per day) and the figure
    ``figures/acceptance_by_day.html``. Returns the run id."""
    from oo_app import tracking

    metrics: dict[str, float] = {"seconds": seconds}
    series: dict[str, list[float]] = {}
    for name, result in report.policies.items():
        metrics |= {
            f"acceptance.{name}": result.acceptance,
            f"acceptance_last_10_days.{name}": report.last_days(name),
            f"quiet_hours_violations.{name}": float(result.quiet_violations),
            f"delivered.{name}": float(result.delivered),
        }
        series[f"acceptance_by_day.{name}"] = [value or 0.0 for value in result.daily_acceptance(report.days)]
    metrics |= {f"goal.{key}": value for key, value in report.goals().items() if value is not None}
    params = {"days": report.days, "seed": report.seed, "personas": len(report.personas)}
    params |= {"policies": ",".join(report.policies)}
    return tracking.log_experiment_run(
        SIMULATION_EXPERIMENT,
        f"simulate {report.days} days",
        params,
        metrics,
        {"acceptance_by_day": acceptance_figure(report)},
        series,
    )
