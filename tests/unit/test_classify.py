"""The cause classifier (service/classify.py) and how training stacks it under the fusion model."""

from __future__ import annotations

import random
from types import SimpleNamespace

import numpy as np
import pytest

from service.classify import CauseClassifier, classifier_path
from service.fusion import FusionModel
from service.learn import Stacked


def _blobs(seed: int = 3, per_class: int = 30) -> tuple[list[list[float]], list[str]]:
    """Three causes, each a cloud around its own direction in 8 dimensions."""
    rng = random.Random(seed)
    centres = {"a": [1, 0, 0, 0, 0, 0, 0, 0], "b": [0, 1, 0, 0, 0, 0, 0, 0], "out-of-scope": [0, 0, 1, 0, 0, 0, 0, 0]}
    vectors, labels = [], []
    for label, centre in centres.items():
        for _ in range(per_class):
            vectors.append([c + rng.gauss(0, 0.3) for c in centre])
            labels.append(label)
    return vectors, labels


def test_it_learns_the_cause_of_a_direction_and_its_probabilities_sum_to_one():
    vectors, labels = _blobs()
    classifier = CauseClassifier.fit(vectors, labels, c=10.0)
    probs = classifier.probabilities([0.1, 2.0, 0.0, 0, 0, 0, 0, 0])
    assert max(probs, key=probs.get) == "b" and probs["b"] > 0.8
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-4)
    # The length of the embedding does not matter (cosine geometry, as retrieval's).
    assert classifier.probabilities([0.05, 1.0, 0, 0, 0, 0, 0, 0]) == probs


def test_two_classes_give_a_proper_two_way_softmax():
    vectors, labels = _blobs()
    keep = [i for i, label in enumerate(labels) if label != "b"]
    classifier = CauseClassifier.fit([vectors[i] for i in keep], [labels[i] for i in keep])
    probs = classifier.probabilities([1.0, 0, 0.1, 0, 0, 0, 0, 0])
    assert set(probs) == {"a", "out-of-scope"} and probs["a"] > 0.8


def test_saved_weights_load_back_to_the_same_answers_and_not_for_another_embedding_model(tmp_path):
    vectors, labels = _blobs()
    classifier = CauseClassifier.fit(vectors, labels, meta={"embedding_model": "use-multilingual"})
    path = classifier_path(tmp_path / "model" / "fusion.json")
    classifier.save(path)
    loaded = CauseClassifier.load(path, "use-multilingual")
    assert loaded is not None and loaded.classes == classifier.classes
    for vector in vectors[::7]:
        got, want = loaded.probabilities(vector), classifier.probabilities(vector)
        assert all(abs(got[c] - want[c]) < 1e-4 for c in want)
    assert CauseClassifier.load(path, "minilm") is None
    path.write_text("not json", encoding="utf-8")
    assert CauseClassifier.load(path) is None
    assert CauseClassifier.load(tmp_path / "missing.json") is None


def _prepared(vectors: list[list[float]], labels: list[str], folds: int = 5) -> list:
    return [SimpleNamespace(case=SimpleNamespace(id=f"case{i}", cause=label), fold=i % folds,
                            analysis=SimpleNamespace(vector=vector))
            for i, (vector, label) in enumerate(zip(vectors, labels, strict=True))]


def test_stacking_never_shows_a_report_a_classifier_that_saw_its_fold_or_the_fold_under_test(monkeypatch):
    vectors, labels = _blobs()
    items = _prepared(vectors, labels)
    fold_of_vector = {tuple(p.analysis.vector): p.fold for p in items}
    fitted_on: list[set[int]] = []
    real_fit = CauseClassifier.fit

    def recording_fit(rows, causes, c=10.0, meta=None):
        fitted_on.append({fold_of_vector[tuple(r)] for r in rows})
        return real_fit(rows, causes, c, meta)

    monkeypatch.setattr(CauseClassifier, "fit", staticmethod(recording_fit))
    stacked = Stacked(items, lexical=False)
    for item in items[:10]:
        for fold_under_test in (None, (item.fold + 1) % 5, item.fold):
            before = len(fitted_on)
            stacked.of(item, fold_under_test)
            used = stacked._fitted[frozenset({item.fold} | ({fold_under_test} - {None}))]
            assert used is not None and len(fitted_on) - before <= 1
    assert fitted_on and all(len(folds) in (3, 4) for folds in fitted_on)
    for item in items[:10]:
        assert all(item.fold not in folds for folds, key in zip(fitted_on, stacked._fitted, strict=True)
                   if item.fold in key)
    monkeypatch.undo()
    # Out-of-fold is not in-sample: a report mislabelled against its cloud is not fitted back to its own label.
    liar = items[0]
    liar.case.cause = "b"
    probs = Stacked(items, lexical=False).of(liar, None)
    assert probs is not None and max(probs, key=probs.get) == "a"


def test_a_report_without_a_query_has_no_classifier_output():
    items = _prepared(*_blobs())
    items[0].analysis.vector = None
    assert Stacked(items, lexical=False).of(items[0], None) is None


def test_a_missing_classifier_feature_counts_as_average():
    model = FusionModel(weights={"clf": 2.0, "case_vote": 1.0}, none_weights={}, none_bias=0.0, threshold=0.5,
                        mean={"clf": -3.0, "case_vote": 0.2}, scale={"clf": 2.0, "case_vote": 0.5})
    without = model.probabilities([{"case_vote": 0.7}], {})
    average = model.probabilities([{"case_vote": 0.7, "clf": -3.0}], {})
    assert without == average
    assert model.probabilities([{"case_vote": 0.7, "clf": 0.0}], {})[0] > without[0]
    assert np.isfinite(without).all()
