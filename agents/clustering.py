"""Semantic clustering of open task titles through the ``embedder`` alias, for the focus-area agent.

Titles are fetched on demand from an integration and live only in memory: this module returns derivatives (how many
themes, their sizes and projects), never a title, so nothing a provider sent us is stored.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from agents.base import OpenTask

Embed = Callable[[list[str]], list[list[float]]]

# Average cosine distance under which titles share a theme. With all-MiniLM-L6-v2, related chores ("Buy milk",
# "Get groceries", "Pick up bread") sit at 0.3-0.4 similarity and unrelated ones near 0; 0.6 split every chore apart.
THEME_DISTANCE = 0.7


@dataclass(frozen=True)
class Theme:
    size: int
    main_project: str


def cluster_labels(vectors: np.ndarray, distance_threshold: float = THEME_DISTANCE) -> list[int]:
    """Average-linkage agglomerative clustering on cosine distance; one label per vector."""
    if len(vectors) < 2:
        return [0] * len(vectors)
    from sklearn.cluster import AgglomerativeClustering

    model = AgglomerativeClustering(
        n_clusters=None, metric="cosine", linkage="average", distance_threshold=distance_threshold
    )
    return [int(label) for label in model.fit_predict(vectors)]


def themes(tasks: Sequence[OpenTask], embed: Embed) -> list[Theme]:
    """The themes of ``tasks``, largest first; each with its size and the project most of its tasks belong to."""
    if not tasks:
        return []
    vectors = np.asarray(embed([task.title for task in tasks]), dtype=float)
    groups: dict[int, list[OpenTask]] = {}
    for task, label in zip(tasks, cluster_labels(vectors), strict=True):
        groups.setdefault(label, []).append(task)
    found = [
        Theme(size=len(members), main_project=Counter(t.project for t in members).most_common(1)[0][0])
        for members in groups.values()
    ]
    return sorted(found, key=lambda theme: (-theme.size, theme.main_project))
