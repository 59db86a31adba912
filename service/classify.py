"""A cause classifier over the query embedding: the case base read as one supervised problem.

The nearest-neighbour votes in fusion look at a handful of reports; this looks at all of them. A multinomial
logistic regression maps the embedding of what retrieval searches with (the salient text of a paste) to a
probability for each cause and for "out of scope". Fusion reads its output as features (stacked: in training each
report's probabilities come from a classifier that never saw that report's fold), so the calibrated model still
decides how much it counts. The weights are fitted by `tunedoc train` on every case and stored as plain JSON
(`kb/model/classifier.json`), for the embedding model they were fitted with.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# L2 strength 1/C: chosen by grouped cross-validation over the case base (C in 1, 3, 10, 30: 10 gave fusion the best
# log loss; the weakest C overfits the few reports of the thin causes).
CLASSIFIER_C = 10.0


def classifier_path(fusion_model: Path) -> Path:
    """The classifier is stored next to the fusion model that was stacked on it."""
    return fusion_model.with_name("classifier.json")


def _unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    return rows / np.where(norms == 0, 1.0, norms)


def fit_softmax(x, labels: Sequence[str], c: float) -> tuple[list[str], np.ndarray, np.ndarray]:  # noqa: ANN001
    """A multinomial logistic regression of `labels` on the rows of `x` (dense or sparse), L2 strength 1/c: its
    classes, a (classes x features) weight matrix and the intercepts, one row per class even for two classes."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=3000)  # lbfgs: deterministic for the same rows
    with warnings.catch_warnings():  # a small sample of a case base has many causes per report: that is fine
        warnings.filterwarnings("ignore", message="The number of unique classes")
        model.fit(x, list(labels))
    classes = [str(k) for k in model.classes_]
    coef, intercept = model.coef_, model.intercept_
    if len(classes) == 2:  # sklearn keeps one row for two classes: spell out both sides of the softmax
        coef, intercept = np.vstack([-coef / 2, coef / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
    return classes, coef, intercept


def softmax(classes: list[str], z: np.ndarray) -> dict[str, float]:
    """Class probabilities from their scores, rounded so that float noise from a different BLAS split cannot change
    an answer's bytes."""
    z = np.exp(z - z.max())
    return {c: round(float(p), 5) for c, p in zip(classes, z / z.sum(), strict=True)}


@dataclass
class CauseClassifier:
    classes: list[str]
    coef: np.ndarray  # classes x embedding dimensions
    intercept: np.ndarray
    meta: dict[str, object] = field(default_factory=dict)

    @classmethod
    def fit(cls, vectors: Sequence[Sequence[float]], labels: Sequence[str], c: float = CLASSIFIER_C,
            meta: dict[str, object] | None = None) -> CauseClassifier:
        classes, coef, intercept = fit_softmax(_unit(np.asarray(vectors, dtype=np.float64)), labels, c)
        return cls(classes, coef, intercept, dict(meta or {}))

    def probabilities(self, vector: Sequence[float] | np.ndarray) -> dict[str, float]:
        return softmax(self.classes, self.coef @ _unit(np.asarray(vector, dtype=np.float64)) + self.intercept)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # One class per line: weights rounded to 6 decimals (a smaller diff, and no difference a query can see).
        rows = [json.dumps({"class": c, "intercept": round(float(b), 6), "coef": [round(float(w), 6) for w in row]})
                for c, b, row in zip(self.classes, self.intercept, self.coef, strict=True)]
        path.write_text(json.dumps({"meta": self.meta}, sort_keys=True) + "\n" + "\n".join(rows) + "\n",
                        encoding="utf-8")

    @classmethod
    def load(cls, path: Path, embedding_model: str | None = None) -> CauseClassifier | None:
        """None when there is none, or it was fitted for another embedding model (its weights mean nothing there)."""
        try:
            head, *rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
            meta = head["meta"]
            if embedding_model is not None and meta.get("embedding_model") not in (None, embedding_model):
                return None
            return cls([r["class"] for r in rows], np.asarray([r["coef"] for r in rows], dtype=np.float64),
                       np.asarray([r["intercept"] for r in rows], dtype=np.float64), meta)
        except (OSError, ValueError, KeyError, TypeError):
            return None
