"""The sense check: does a tip read as oO speaks (to the person, concretely, in whole sentences, without preaching)?

A logistic regression over the ``embedder`` alias's vector of the tip plus a few surface features (who it speaks to,
a doubled word, an unfinished sentence, a leaked prompt label), fitted on the train part of the labelled set
``sense_set.jsonl`` beside this module. For the embedded embedder its coefficients are committed beside it
(``sense_fitted.json``, written by ``python benchmarks/sense.py --save``; a test refits them from the set); for any
other embedder, or once the set changed, it is fitted on first use in the process from the set through that embedder
and kept per embedder deployment (the alias table's ``embedder`` entry): swapping the embedder is configuration.
Grounding is not its job (:mod:`.grounding` checks the facts); it judges only how a tip reads.

Never logs a tip's text above DEBUG. When the embedder cannot answer, :func:`sense_failure` logs it and lets the
tip through (as the near-duplicate guard does); :func:`reads_well` raises, so a judge gives no verdict.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

SET_PATH = Path(__file__).with_name("sense_set.jsonl")
FITTED_PATH = Path(__file__).with_name("sense_fitted.json")
KINDS = ("good", "nonsense", "wrong person", "broken grammar", "vague", "preachy")
SOURCES = ("written", "local model")  # by hand (oO's voice, its composer's phrasings), or sampled from the model
TEST_SHARE = 5  # one labelled tip in TEST_SHARE is held apart (by a hash of its text, so additions never reshuffle)
THRESHOLD = 0.4  # a candidate less likely than this to read well is overruled (keeps ~95% of good tips)
C = 4.0  # inverse regularisation of the regression, chosen by cross-validation on the train part (benchmarks/sense.py)
EMBED_BATCH = 64

Embed = Callable[[list[str]], list[list[float]]]

# Who the tip speaks to: oO speaks to the person ("you"), never about them ("they", "the user") nor as itself ("I").
# ("them" is left out: it is most often the person's tasks, "one of them").
_THIRD = re.compile(r"(?i)\b(?:they|their|theirs|themselves|he|she|his|him|her|the user|the person)\b")
_FIRST = re.compile(r"(?i)\b(?:i|me|my|mine|we|our|us)\b")
_SECOND = re.compile(r"(?i)\b(?:you|your|yours|yourself)\b")
_DOUBLED = re.compile(r"(?i)\b(\w+)\s+\1\b")
_LABEL = re.compile(r"(?i)\b(?:tip|facts)\s*:")
_FINISHED = re.compile(r"[.!?)'\"\u2019\u201d]\s*$")


@dataclass(frozen=True)
class LabelledTip:
    text: str
    kind: str  # "good", or the way it reads badly (one of KINDS)
    source: str  # one of SOURCES

    @property
    def good(self) -> bool:
        return self.kind == "good"


def labelled_set(path: Path = SET_PATH) -> list[LabelledTip]:
    """The labelled tips of ``path`` (one JSON object per line: ``text``, ``kind``, ``source``). Raises ValueError
    naming the line of a malformed or mislabelled entry, or of a text that appears twice."""
    tips: list[LabelledTip] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            tip = LabelledTip(str(entry["text"]).strip(), str(entry["kind"]), str(entry["source"]))
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path.name} line {number}: not a labelled tip ({error})") from None
        if not tip.text or tip.kind not in KINDS or tip.source not in SOURCES:
            raise ValueError(f"{path.name} line {number}: needs a text, a kind in {KINDS} and a source in {SOURCES}")
        key = " ".join(tip.text.lower().split())
        if key in seen:
            raise ValueError(f"{path.name} line {number}: the same text as line {seen[key]}")
        seen[key] = number
        tips.append(tip)
    return tips


def held_apart(text: str) -> bool:
    """Whether ``text`` belongs to the held-apart test part: decided by a hash of the text alone."""
    digest = hashlib.sha256(" ".join(text.lower().split()).encode()).digest()
    return digest[0] % TEST_SHARE == 0


def split(tips: Sequence[LabelledTip]) -> tuple[list[LabelledTip], list[LabelledTip]]:
    """The train and the held-apart test parts of ``tips``."""
    train = [tip for tip in tips if not held_apart(tip.text)]
    test = [tip for tip in tips if held_apart(tip.text)]
    return train, test


def surface_features(text: str) -> list[float]:
    """What a sentence encoder barely sees: whom the tip addresses, a doubled word, an unfinished sentence, a leaked
    prompt label (each 0 or 1)."""
    return [
        float(bool(_THIRD.search(text))),
        float(bool(_FIRST.search(text))),
        float(not _SECOND.search(text)),
        float(bool(_DOUBLED.search(text))),
        float(not _FINISHED.search(text.strip())),
        float(bool(_LABEL.search(text))),
    ]


def embed_in_batches(texts: Sequence[str], embed: Embed) -> np.ndarray:
    """Unit vectors of ``texts`` through ``embed``, :data:`EMBED_BATCH` at a time (hosted embedders cap a batch)."""
    rows: list[list[float]] = []
    for start in range(0, len(texts), EMBED_BATCH):
        rows.extend(embed(list(texts[start : start + EMBED_BATCH])))
    vectors = np.asarray(rows, dtype=float)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def features(texts: Sequence[str], vectors: np.ndarray) -> np.ndarray:
    return np.hstack([vectors, np.asarray([surface_features(text) for text in texts], dtype=float)])


@dataclass(frozen=True)
class SenseModel:
    """A fitted sense classifier (the regression's weights) and the embedder deployment whose vectors it reads."""

    embedder: str
    weights: np.ndarray
    intercept: float

    def probabilities(self, texts: Sequence[str], embed: Embed) -> list[float]:
        """The probability that each of ``texts`` reads well."""
        if not texts:
            return []
        scores = features(texts, embed_in_batches(texts, embed)) @ self.weights + self.intercept
        return [float(p) for p in 1.0 / (1.0 + np.exp(-scores))]


def fit(tips: Sequence[LabelledTip], embed: Embed, embedder: str = "", c: float = C) -> SenseModel:
    """A sense classifier fitted on ``tips`` (balanced classes: the set holds fewer good tips than bad), in a child
    process (:mod:`.sense_fit`)."""
    from oo_app.recommender.sense_fit import fit_weights

    texts = [tip.text for tip in tips]
    labels = np.asarray([int(tip.good) for tip in tips])
    if len(set(labels.tolist())) < 2:
        raise ValueError("the sense classifier needs good and bad tips to learn from")
    weights, intercept = fit_weights(features(texts, embed_in_batches(texts, embed)), labels, c)
    return SenseModel(embedder, weights, intercept)


def set_digest(path: Path = SET_PATH) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_fitted(model: SenseModel, path: Path = FITTED_PATH) -> None:
    """Commit ``model`` for its embedder: loaded instead of fitted while the set and :data:`C` stay as they are."""
    entry = {
        "embedder": model.embedder,
        "set_sha256": set_digest(),
        "c": C,
        "intercept": model.intercept,
        "weights": model.weights.tolist(),
    }
    path.write_text(json.dumps(entry, indent=1) + "\n", encoding="utf-8")


def fitted_for(embedder: str, path: Path = FITTED_PATH) -> SenseModel | None:
    """The committed classifier when it was fitted for ``embedder`` on the set as it is, else None."""
    if not path.is_file():
        return None
    entry = json.loads(path.read_text(encoding="utf-8"))
    if (entry.get("embedder"), entry.get("set_sha256"), entry.get("c")) != (embedder, set_digest(), C):
        return None
    return SenseModel(embedder, np.asarray(entry["weights"], dtype=float), float(entry["intercept"]))


def embedder_key() -> str:
    """The configured ``embedder`` deployment(s), as a key: a classifier reads only the vectors it was fitted on."""
    from oo_app.llm.aliases import EMBEDDER
    from oo_app.settings import get_settings

    return json.dumps(get_settings().alias_table.get(EMBEDDER), sort_keys=True, default=str)


_models: dict[str, SenseModel] = {}
_models_lock = threading.Lock()


def sense_model(embed: Embed | None = None) -> SenseModel:
    """The classifier of the configured embedder: the committed one when it fits (:func:`fitted_for`), else fitted on
    the set's train part on first use in the process (a few hundred short texts through ``embed``, the ``embedder``
    alias by default); then kept per embedder."""
    from oo_app.llm.router import embed as alias_embed

    key = embedder_key()
    with _models_lock:
        model = _models.get(key)
        if model is None:
            model = fitted_for(key)
        if model is None:
            train, _test = split(labelled_set())
            model = fit(train, embed or alias_embed, key)
            log.info("sense classifier fitted on %d labelled tips for embedder %s", len(train), key)
        _models[key] = model
        return model


def forget_models() -> None:
    """Drop the fitted classifiers (tests; a changed labelled set)."""
    with _models_lock:
        _models.clear()


def reads_well(texts: Sequence[str], embed: Embed | None = None) -> list[float]:
    """The probability that each of ``texts`` reads well, through the configured embedder. Raises when the embedder
    cannot answer."""
    from oo_app.llm.router import embed as alias_embed

    return sense_model(embed).probabilities(texts, embed or alias_embed)


def sense_failure(text: str, embed: Embed | None = None) -> str | None:
    """Why ``text`` reads too badly to be shown ("reads badly: sense 0.12 below 0.5"), or None when it reads well
    enough, or when the embedder cannot answer (logged: the other checks still stand)."""
    try:
        (probability,) = reads_well([text], embed)
    except Exception:
        log.warning("the embedder failed; sense check skipped for this tip", exc_info=True)
        return None
    if probability < THRESHOLD:
        log.debug("sense %.2f for %r", probability, text)
        return f"reads badly: sense {probability:.2f} below {THRESHOLD}"
    return None
