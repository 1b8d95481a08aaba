"""Focus-area agent: the projects this person gets the most done in.

``preferred_areas``: the two named projects with the most completions, most first; a tie goes to the one completed
last, then to the name. Needs 5 completions. When an integration supplies open tasks, compute() clusters their titles
through the ``embedder`` alias (agents/clustering.py) and adds the themes' sizes and projects, never a title.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import numpy as np

from agents.base import Agent, AgentManifest, InferredParam, Snippet, UserHistory
from agents.clustering import themes
from agents.history_arrays import completion_arrays, per_history
from agents.names import plain_name
from agents.population import Batched, Population

AREAS = 2
MIN_COMPLETIONS = 5
NAME_CHARS = 40  # a project name is cut to this in the snippet line


def short_name(name: str) -> str:
    return name if len(name) <= NAME_CHARS else name[: NAME_CHARS - 1] + "…"


@per_history
def project_counts(history: UserHistory) -> dict[str, tuple[int, float]]:
    """Per named project: how many completions, and when the latest was (epoch seconds)."""
    arrays = completion_arrays(history)
    counts = np.bincount(arrays.project, minlength=len(arrays.projects))
    latest = np.full(len(arrays.projects), -np.inf)
    np.maximum.at(latest, arrays.project, arrays.completed)
    return {name: (int(counts[code]), float(latest[code])) for code, name in enumerate(arrays.projects) if name}


def infer_preferred_areas(history: UserHistory) -> list[str] | None:
    counts = project_counts(history)
    if sum(count for count, _ in counts.values()) < MIN_COMPLETIONS:
        return None
    ranked = sorted(sorted(counts), key=lambda project: (counts[project][0], counts[project][1]), reverse=True)
    return ranked[:AREAS]


def project_counts_many(population: Population) -> list[dict[str, tuple[int, float]]]:
    """:func:`project_counts` of every person of ``population`` at once."""
    completions = population.completions
    pairs = completions.person * len(completions.projects) + completions.project
    found, counts = np.unique(pairs, return_counts=True)
    # np.unique sorts the pairs; reduceat needs the moments in that order, and takes each run's first index there.
    order = np.argsort(pairs, kind="stable")
    runs = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    latest = np.maximum.reduceat(completions.seconds[order], runs) if len(pairs) else np.zeros(0)
    by_person: list[dict[str, tuple[int, float]]] = [{} for _ in range(population.size)]
    names, width = completions.projects, max(len(completions.projects), 1)
    for pair, count, last in zip(found.tolist(), counts.tolist(), latest.tolist(), strict=True):
        owner, code = divmod(pair, width)
        if names[code]:
            by_person[owner][names[code]] = (count, last)
    return by_person


def infer_many(population: Population) -> Batched:
    """Every parameter for every person of ``population``; ``prime`` hands compute their project counts."""
    found = project_counts_many(population)

    def prime(index: int) -> None:
        project_counts.prime(population.histories[index], found[index])

    areas = []
    for counts in found:
        ranked = sorted(sorted(counts), key=lambda project: counts[project], reverse=True)
        areas.append(ranked[:AREAS] if sum(count for count, _ in counts.values()) >= MIN_COMPLETIONS else None)
    return Batched({"preferred_areas": areas}, prime)


def compute(history: UserHistory, params: Mapping[str, Any]) -> Snippet:
    counts = project_counts(history)
    areas = [plain_name(area) for area in params["preferred_areas"]]  # the person may have typed them
    done = {area: counts.get(area, (0, None))[0] for area in areas}
    data: dict[str, Any] = {"preferred_areas": areas, "completions": done}
    theme_line = ""
    if history.open_tasks:
        # Titles come from an integration on demand and stay in memory; only theme sizes and projects go further.
        from oo_app.llm.router import embed

        found = themes(history.open_tasks, embed)
        data["themes"] = [{"size": theme.size, "main_project": theme.main_project} for theme in found]
        largest = found[0]
        theme_line = (
            f" Open tasks form {len(found)} themes; the largest ({largest.size} tasks) is mostly "
            f"{short_name(largest.main_project)}."
        )
    if not areas:
        data["cold_start"] = True
        return Snippet("Not enough completed tasks yet to tell their main areas." + theme_line, data)
    named = [f"{short_name(area)} ({done[area]} done)" for area in areas]
    return Snippet(f"Their main areas: {', then '.join(named)}." + theme_line, data)


AGENT = Agent(
    manifest=AgentManifest(
        id="focus-area",
        version="1.0.0",
        description="Names the projects the person gets the most done in.",
        ttl=timedelta(hours=24),
        schedule=timedelta(hours=6),
        consents=("tasks",),
        open_tasks=True,
        contexts=("work", "home"),  # which area to give time to: silent on a day off
        params=(
            InferredParam(
                "preferred_areas", [], infer_preferred_areas, description="top two projects by completions, most first"
            ),
        ),
    ),
    compute=compute,
    batch=infer_many,
)
