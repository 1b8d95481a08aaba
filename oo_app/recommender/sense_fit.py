"""The sense classifier's regression, fitted in a child process: scikit-learn, and the scipy and pandas it imports
(about 200 MB), never load into a web worker, which only reads the weights (:mod:`.sense`). A worker fits once per
embedder that has no committed coefficients (a hosted embedder); the child exits when done.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np

FIT_TIMEOUT_S = 300


def fit_weights(features: np.ndarray, labels: np.ndarray, c: float) -> tuple[np.ndarray, float]:
    """The weights and intercept of a balanced logistic regression of ``labels`` on ``features`` (inverse
    regularisation ``c``), fitted by ``python -m oo_app.recommender.sense_fit``. Raises RuntimeError with the child's
    last words when it fails."""
    sent = io.BytesIO()
    np.savez(sent, features=features, labels=labels, c=np.asarray(c))
    done = subprocess.run(
        [sys.executable, "-m", __name__],
        input=sent.getvalue(),
        capture_output=True,
        timeout=FIT_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"fitting the sense classifier failed: {done.stderr.decode(errors='replace')[-800:]}")
    fitted = json.loads(done.stdout)
    return np.asarray(fitted["weights"], dtype=float), float(fitted["intercept"])


def fit_here(features: np.ndarray, labels: np.ndarray, c: float) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    classifier = LogisticRegression(C=c, class_weight="balanced", max_iter=5000)
    classifier.fit(features, labels)
    return classifier.coef_[0].copy(), float(classifier.intercept_[0])


def main() -> None:
    received = np.load(io.BytesIO(sys.stdin.buffer.read()))
    weights, intercept = fit_here(received["features"], received["labels"], float(received["c"]))
    json.dump({"weights": weights.tolist(), "intercept": intercept}, sys.stdout)


if __name__ == "__main__":
    main()
