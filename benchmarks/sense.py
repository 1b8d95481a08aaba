"""Benchmark: the sense check on the held-apart part of its labelled set, and on tips the local model writes now.

Run on demand: ``python benchmarks/sense.py [--hours 6] [--seeds 2] [--no-model] [--save]``. It fits the classifier
on the train part of ``oo_app/recommender/sense_set.jsonl`` through the configured ``embedder`` alias (as the app
does on first use for an embedder without committed coefficients; ``--save`` commits them to
``oo_app/recommender/sense_fitted.json``) and prints:
- precision and recall of "reads badly" on the held-apart part (and per bad kind, the share caught; of the good
  tips, the share kept), with the cross-validated balanced accuracy of a few regularisations on the train part;
- the local model's samples over the sample personas (``--hours`` moments per persona, ``--seeds`` samples each,
  seeds the labelled set was not drawn with): of those that pass the other checks (length, grounding, no repeat),
  the share the sense check passes, and some of each;
- the cost: fitting once, and one check (one embedding and a regression) per candidate.
Nothing here is a test: the figures depend on the machine and on the model's draws.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

# Run as a script, this file's folder is on the path, where ``calendar.py`` would shadow the standard ``calendar``.
HERE = str(Path(__file__).resolve().parent)
sys.path[:] = [entry for entry in sys.path if entry != HERE]
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OO_ENV", "test")

from oo_app.bootstrap import bootstrap  # noqa: E402
from oo_app.llm.router import embed  # noqa: E402
from oo_app.recommender import sense  # noqa: E402

FIRST_SEED = 1000  # the labelled local-model tips were drawn with seeds 0-3


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, default=6, help="moments per persona, spread over one day")
    parser.add_argument("--seeds", type=int, default=2, help="local-model samples per moment")
    parser.add_argument("--no-model", action="store_true", help="only the held-apart part, no local model")
    parser.add_argument("--save", action="store_true", help="commit the fitted coefficients for this embedder")
    return parser.parse_args(argv)


class Remembered:
    """The embedder, each text embedded once per run (the set is read by the fit, the cross-validation and the
    scoring)."""

    def __init__(self) -> None:
        self.vectors: dict[str, list[float]] = {}

    def __call__(self, texts: list[str]) -> list[list[float]]:
        missing = [text for text in dict.fromkeys(texts) if text not in self.vectors]
        if missing:
            self.vectors.update(zip(missing, embed(missing), strict=True))
        return [self.vectors[text] for text in texts]


def held_apart_figures(model: sense.SenseModel, vectors: Remembered) -> None:
    train, test = sense.split(sense.labelled_set())
    probabilities = model.probabilities([tip.text for tip in test], vectors)
    flagged = [p < sense.THRESHOLD for p in probabilities]
    bad = [not tip.good for tip in test]
    caught = sum(f and b for f, b in zip(flagged, bad, strict=True))
    print(f"labelled set: {len(train) + len(test)} tips, train {len(train)}, held apart {len(test)} ({sum(bad)} bad)")
    print(f"held apart, 'reads badly' at p < {sense.THRESHOLD}:")
    print(f"  precision {caught / max(1, sum(flagged)):.2f}  recall {caught / max(1, sum(bad)):.2f}")
    kept = sum(not f for f, b in zip(flagged, bad, strict=True) if not b)
    print(f"  good tips kept {kept}/{len(bad) - sum(bad)}")
    for kind in sense.KINDS[1:]:
        of_kind = [f for f, tip in zip(flagged, test, strict=True) if tip.kind == kind]
        print(f"  {kind:<15} caught {sum(of_kind)}/{len(of_kind)}")


def cross_validated(train: list[sense.LabelledTip], vectors: Remembered) -> None:
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    texts = [tip.text for tip in train]
    x = sense.features(texts, sense.embed_in_batches(texts, vectors))
    y = np.asarray([int(tip.good) for tip in train])
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    scores = []
    for c in (0.25, 1.0, 4.0, 16.0):
        classifier = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
        scores.append(f"C={c:g}: {cross_val_score(classifier, x, y, cv=folds, scoring='balanced_accuracy').mean():.3f}")
    print(f"train part, 5-fold balanced accuracy ({sense.C:g} in use): " + ", ".join(scores))


def local_model_figures(model: sense.SenseModel, hours: int, seeds: int) -> None:
    from oo_app.evaluation.bench import DEFAULT_PERSONAS, load_moments
    from oo_app.llm.local import LocalSampler
    from oo_app.recommender.local_writer import examples_from, fact_lines, few_shot_prompt, problems
    from oo_app.recommender.prompts import facts_of

    sample = LocalSampler()
    drawn, candidates, sampling = 0, [], []
    for moment in load_moments(DEFAULT_PERSONAS, hours):
        facts = facts_of(moment.signals, [])
        lines, shots = fact_lines(facts), examples_from(facts)
        prompt = few_shot_prompt(lines, shots)
        for seed in range(FIRST_SEED, FIRST_SEED + seeds):
            started = time.perf_counter()
            text = sample(prompt, seed).strip()
            sampling.append(time.perf_counter() - started)
            drawn += 1
            if not problems(text, lines, [], shots):
                candidates.append(text)
    checks = []
    passed = []
    for text in candidates:
        started = time.perf_counter()
        (probability,) = model.probabilities([text], embed)
        checks.append(time.perf_counter() - started)
        passed.append(probability >= sense.THRESHOLD)
    print(f"local model: {drawn} samples ({statistics.median(sampling):.2f} s median each), {len(candidates)} pass")
    print(f"  the other checks; the sense check passes {sum(passed)}/{len(candidates)}", end="")
    print(f" ({sum(passed) / max(1, len(candidates)):.0%})")
    shown = Counter()
    for text, ok in zip(candidates, passed, strict=True):
        if shown[ok] < 8:
            print(f"  {'pass' if ok else 'FAIL'}  {text}")
            shown[ok] += 1
    if checks:
        print(f"  one sense check: median {statistics.median(checks) * 1000:.1f} ms, max {max(checks) * 1000:.1f} ms")


def main() -> None:
    args = parse_args()
    bootstrap()
    embed(["warm-up"])  # loading the embedder is not the classifier's cost
    vectors = Remembered()
    train = sense.split(sense.labelled_set())[0]
    started = time.perf_counter()
    model = sense.fit(train, vectors, sense.embedder_key())
    print(f"fitted in {time.perf_counter() - started:.2f} s for embedder {model.embedder} (embedding the set included)")
    committed = sense.fitted_for(model.embedder)
    if committed is not None:
        drift = float(abs(committed.weights - model.weights).max())
        print(f"committed coefficients match the set and this embedder; largest weight difference {drift:.1e}")
    if args.save:
        sense.save_fitted(model)
        print(f"saved to {sense.FITTED_PATH.relative_to(ROOT)}")
    cross_validated(train, vectors)
    held_apart_figures(model, vectors)
    if not args.no_model:
        local_model_figures(model, args.hours, args.seeds)


if __name__ == "__main__":
    main()
