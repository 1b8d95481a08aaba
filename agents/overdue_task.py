"""Overdue-task agent: how late the person usually finishes against due dates, and which projects' dates hold.

``lateness_tolerance_days``: median (completed_at - due_at) in days, negative when early. ``project_realness``: per
project with 3+ dated completions, the global median minus the project's: positive means its dates are kept (real).
:func:`overdue_open_task` names the person's most overdue open task (fetched on demand, never stored) for the tip
being written: its title is quoted data in the line, never an instruction.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from agents.base import Agent, AgentManifest, InferredParam, OpenTask, Snippet, UserHistory
from agents.history_arrays import DAY, completion_arrays, per_history
from agents.names import plain_name
from agents.population import Batched, Population
from oo_app.clock import zone

MIN_DATED = 5
MIN_PROJECT_DATED = 3
ON_TIME_DAYS = 0.25  # finishing within six hours of the due time is finishing on time
NOTABLE_DAYS = 0.5  # a project is worth naming when its dates hold or slip by this much against the usual
NAME_CHARS = 40  # a project name is cut to this in the snippet line


@dataclass(frozen=True)
class Lateness:
    dated: int  # completions with a due date
    median: float  # median lateness in days over them (NaN without any)
    project_medians: dict[str, float]  # the same per named project with at least 3 dated completions


def _median_of_sorted(values: np.ndarray) -> float:
    middle = len(values) // 2
    return float(values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2)


@per_history
def lateness(history: UserHistory) -> Lateness:
    arrays = completion_arrays(history)
    dated = ~np.isnan(arrays.due)
    days = (arrays.completed[dated] - arrays.due[dated]) / DAY
    # One sort by (project, lateness) gives every project's median by position (np.median per project costs more).
    order = np.lexsort((days, arrays.project[dated]))
    by_project, projects = days[order], arrays.project[dated][order]
    starts = np.searchsorted(projects, np.arange(len(arrays.projects) + 1))
    return Lateness(
        dated=len(days),
        median=_median_of_sorted(np.sort(days)) if len(days) else math.nan,
        project_medians={
            name: _median_of_sorted(by_project[starts[code] : starts[code + 1]])
            for code, name in enumerate(arrays.projects)
            if name and starts[code + 1] - starts[code] >= MIN_PROJECT_DATED
        },
    )


def _medians(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The median of each run ``values[starts[i]:starts[i + 1]]`` (sorted within a run), as :func:`_median_of_sorted`
    computes it; NaN for an empty run."""
    lengths = np.diff(starts)
    middle = starts[:-1] + lengths // 2
    padded = np.append(values, np.nan)
    odd, upper, lower = lengths % 2 == 1, padded[np.minimum(middle, len(values))], padded[np.maximum(middle - 1, 0)]
    return np.where(lengths == 0, np.nan, np.where(odd, upper, (lower + upper) / 2))


def lateness_many(population: Population) -> list[Lateness]:
    """:func:`lateness` of every person of ``population`` at once."""
    completions, size = population.completions, population.size
    dated = ~np.isnan(completions.due)
    days = (completions.seconds[dated] - completions.due[dated]) / DAY
    person, project = completions.person[dated], completions.project[dated]
    # Ranked by lateness once; then one integer sort by (person, rank), or by (person, project, rank), gives runs of
    # ascending lateness (ties in any order: equal values).
    by_days, total = np.argsort(days), len(days)
    rank = np.empty(total, dtype=np.int64)
    rank[by_days] = np.arange(total)
    order = by_days[np.sort(person * total + rank) % max(total, 1)]
    medians = _medians(days[order], np.searchsorted(person[order], np.arange(size + 1)))
    counts = np.bincount(person, minlength=size)
    pairs = person * len(completions.projects) + project
    order = by_days[np.sort(pairs * total + rank) % max(total, 1)]
    person, project, pairs = person[order], project[order], pairs[order]
    firsts = np.flatnonzero(np.diff(pairs, prepend=-1)) if len(pairs) else np.zeros(0, dtype=np.int64)
    bounds = np.append(firsts, len(pairs))
    pair_medians = _medians(days[order], bounds).tolist()
    project_medians: list[dict[str, float]] = [{} for _ in range(size)]
    names = completions.projects
    whose, which = person[firsts].tolist(), project[firsts].tolist()
    for owner, code, length, median in zip(whose, which, np.diff(bounds).tolist(), pair_medians, strict=True):
        if names[code] and length >= MIN_PROJECT_DATED:
            project_medians[owner][names[code]] = median
    return [
        Lateness(dated=count, median=median, project_medians=by_project)
        for count, median, by_project in zip(counts.tolist(), medians.tolist(), project_medians, strict=True)
    ]


def infer_many(population: Population) -> Batched:
    """Every parameter for every person of ``population`` at once; ``prime`` hands compute their lateness."""
    found = lateness_many(population)

    def prime(index: int) -> None:
        lateness.prime(population.histories[index], found[index])

    return Batched(
        {
            "lateness_tolerance_days": [round(late.median, 2) if late.dated >= MIN_DATED else None for late in found],
            "project_realness": [
                {project: round(late.median - median, 2) for project, median in sorted(late.project_medians.items())}
                if late.dated >= MIN_DATED
                else None
                for late in found
            ],
        },
        prime,
    )


def infer_lateness_tolerance(history: UserHistory) -> float | None:
    late = lateness(history)
    return round(late.median, 2) if late.dated >= MIN_DATED else None


def infer_project_realness(history: UserHistory) -> dict[str, float] | None:
    late = lateness(history)
    if late.dated < MIN_DATED:
        return None
    return {project: round(late.median - median, 2) for project, median in sorted(late.project_medians.items())}


def short_name(name: str) -> str:
    return name if len(name) <= NAME_CHARS else name[: NAME_CHARS - 1] + "…"


def _days(value: float) -> str:
    return f"{value} day" if value == 1 else f"{value} days"


OPEN_TASK = "open-task"  # the signal id of :func:`overdue_open_task`'s line


def overdue_open_task(tasks: Iterable[OpenTask], tz: str | None, now: datetime) -> Snippet | None:
    """The most overdue of ``tasks`` (due today counts, as 0 days), as a line quoting its title, or None.

    Days overdue are counted in calendar days of the person's zone ``tz`` (read now, never when the tasks were fetched):
    a task due yesterday is 1 day overdue.
    Ties go to the title, for a stable choice. The data holds the title, the days and the project.
    """
    person_zone = zone(tz)
    today = now.astimezone(person_zone).date()
    late = [
        ((today - task.due.day_on(person_zone)).days, task)
        for task in tasks
        if task.due is not None and task.title and task.due.day_on(person_zone) <= today
    ]
    if not late:
        return None
    days, task = min(late, key=lambda pair: (-pair[0], pair[1].title))
    where = f" in {short_name(task.project)}" if task.project else ""
    when = "is due today" if days == 0 else f"is {_days(days)} overdue"
    text = f'The open task "{task.title}"{where} {when}.'
    return Snippet(text, {"title": task.title, "days_overdue": days, "project": task.project})


def compute(history: UserHistory, params: Mapping[str, Any]) -> Snippet:
    dated = lateness(history).dated
    if dated < MIN_DATED:
        text = f"Too few tasks with a due date so far ({dated}) to tell how they treat deadlines."
        return Snippet(text, {"dated_completions": dated, "cold_start": True})
    tolerance = round(float(params["lateness_tolerance_days"]), 1)
    data: dict[str, Any] = {
        "lateness_tolerance_days": tolerance,
        "days_from_due": abs(tolerance),
        "dated_completions": dated,
    }
    if abs(tolerance) < ON_TIME_DAYS:
        text = "They usually finish tasks on the day they are due"
    else:
        side = "after" if tolerance > 0 else "before"
        text = f"They usually finish tasks about {_days(abs(tolerance))} {side} the due date"
    realness = {plain_name(project): float(value) for project, value in dict(params["project_realness"]).items()}
    if realness:
        firmest = max(sorted(realness), key=realness.__getitem__)
        softest = min(sorted(realness), key=realness.__getitem__)
        if realness[firmest] >= NOTABLE_DAYS:
            data["most_real_project"], data["most_real_by_days"] = firmest, round(realness[firmest], 1)
            shift = _days(data["most_real_by_days"])
            text += f"; {short_name(firmest)} due dates are the most real ({shift} earlier than usual)"
        if realness[softest] <= -NOTABLE_DAYS:
            data["least_real_project"], data["least_real_by_days"] = softest, round(-realness[softest], 1)
            shift = _days(data["least_real_by_days"])
            text += f"; {short_name(softest)} due dates slip the most ({shift} later than usual)"
    return Snippet(text + ".", data)


AGENT = Agent(
    manifest=AgentManifest(
        id="overdue-task",
        version="1.0.0",
        description="Tells how late the person usually finishes against due dates, and whose due dates are real.",
        ttl=timedelta(hours=12),
        schedule=timedelta(hours=2),
        consents=("tasks",),
        contexts=("work", "home"),  # slipping due dates: silent on a day off
        params=(
            InferredParam(
                "lateness_tolerance_days", 0.0, infer_lateness_tolerance, description="median days past due (p50)"
            ),
            InferredParam(
                "project_realness", {}, infer_project_realness, description="global minus project median lateness"
            ),
        ),
    ),
    compute=compute,
    batch=infer_many,
)
