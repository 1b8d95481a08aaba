"""The repeat guards: a tip must be neither one of the person's recent tips nor a paraphrase of one.

Exact repeats are compared as normalised text; paraphrases by cosine similarity of embeddings through the ``embedder``
alias. When the embedder cannot answer, the guard logs it and lets the tip through: the exact-repeat check still
stands, and a missing guard must not blank the page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np

from oo_app.recommender.composer import normalized

log = logging.getLogger(__name__)

# all-MiniLM-L6-v2 scores paraphrases 0.92-0.98 ("Pick one big task." / "Pick the one big task."), distinct tips < 0.6.
NEAR_DUPLICATE = 0.9


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def closest_recent(
    text: str, recent: Sequence[str], embed: Callable[[list[str]], list[list[float]]]
) -> tuple[str, float] | None:
    """The recent tip most similar to ``text`` and their cosine similarity; None without recent tips."""
    if not recent:
        return None
    vectors = _unit(np.asarray(embed([text, *recent]), dtype=float))
    similarities = vectors[1:] @ vectors[0]
    best = int(np.argmax(similarities))
    return recent[best], float(similarities[best])


def is_near_duplicate(text: str, recent: Sequence[str], embed: Callable[[list[str]], list[list[float]]]) -> bool:
    try:
        closest = closest_recent(text, recent, embed)
    except Exception:
        log.warning("the embedder failed; near-duplicate guard skipped for this tip", exc_info=True)
        return False
    return closest is not None and closest[1] >= NEAR_DUPLICATE


def repeat_of(text: str, recent: Sequence[str], embed: Callable[[list[str]], list[list[float]]]) -> str | None:
    """Why ``text`` may not follow ``recent`` ("repeats a recent tip", "paraphrases a recent tip"), or None when it is
    new to them (or when only the embedder could tell and it failed: logged)."""
    if normalized(text) in {normalized(tip) for tip in recent}:
        return "repeats a recent tip"
    if is_near_duplicate(text, recent, embed):
        return "paraphrases a recent tip"
    return None
