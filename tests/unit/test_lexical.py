"""The lexical cause classifier (service/lexical.py), how it is combined with the embedding classifier, and how
training stacks it."""

from __future__ import annotations

import random
from types import SimpleNamespace

import numpy as np
import pytest

from service.learn import Stacked
from service.lexical import LexicalClassifier, Vocabulary, combine, lexical_path, terms
from service.models import Line, Parsed

# Three made-up causes, each with its own words, and filler every report shares.
_WORDS = {
    "overlap": ["overlap_comm", "zero2", "nondeterministic", "重叠通信"],
    "eos": ["never stops", "eos_token", "repeats", "停不下来"],
    "out-of-scope": ["how do i", "support", "请问", "feature request"],
}
_FILLER = ["training", "qwen2.5", "llamafactory", "loss", "gpu", "训练", "the run", "config"]


def _reports(seed: int = 5, per_class: int = 24) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    texts, labels = [], []
    for label, words in _WORDS.items():
        for _ in range(per_class):
            picked = rng.sample(words, 2) + rng.sample(_FILLER, 4)
            rng.shuffle(picked)
            texts.append(" ".join(picked))
            labels.append(label)
    return texts, labels


def test_it_learns_which_words_mark_a_cause():
    texts, labels = _reports()
    classifier = LexicalClassifier.fit(texts, labels)
    probs = classifier.probabilities("LLaMA-Factory run with overlap_comm on ZeRO-2: the loss is nondeterministic")
    assert max(probs, key=probs.get) == "overlap" and sum(probs.values()) == pytest.approx(1.0, abs=1e-4)
    zh = classifier.probabilities("训练完的模型停不下来，一直 repeats")
    assert max(zh, key=zh.get) == "eos"
    # A paste with no known term gets the prior (the intercepts), not an error.
    assert set(classifier.probabilities("zzz qqq")) == set(_WORDS)


def test_the_vectoriser_is_sklearns_sublinear_smoothed_tfidf():
    """Written out so that no pickled object is needed: it must compute what TfidfVectorizer computes."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts, _ = _reports()
    documents = [terms(t) for t in texts]
    vocabulary = Vocabulary.fit(documents, min_df=3)
    reference = TfidfVectorizer(analyzer=lambda t: list(terms(t).elements()), sublinear_tf=True, min_df=3)
    expected = reference.fit_transform(texts)
    assert sorted(reference.vocabulary_) == list(vocabulary.index)
    np.testing.assert_allclose(vocabulary.matrix(documents).toarray(), expected.toarray(), atol=1e-12)


def test_terms_are_bm25_tokens_and_word_bigrams_and_a_term_needs_three_reports():
    counts = terms("Set overlap_comm false 模板")
    assert {"overlap_comm", "overlap", "comm", "set overlap_comm", "overlap_comm false", "模板", "模", "板"} <= set(counts)
    vocabulary = Vocabulary.fit([terms("rare word"), terms("rare thing"), terms("common"), terms("common"),
                                 terms("common")])
    assert "common" in vocabulary.index and "rare" not in vocabulary.index


def test_narration_of_a_digest_is_not_a_term():
    """Case digests say who asked; pastes do not. Only what the report is about may count."""
    digest = terms("The reporter asks whether overlap_comm matters; 用户询问 overlap_comm 是否有影响")
    paste = terms("does overlap_comm matter? overlap_comm 是否有影响")
    assert {"reporter", "asks", "用户", "询问", "the reporter"}.isdisjoint(digest)
    assert {"overlap_comm", "是否", "whether"} <= set(digest) and {"overlap_comm", "是否"} <= set(paste)
    assert "user" in terms("<|user|> hello")  # a chat template's role is content, not narration


def test_a_case_renders_as_a_paste_without_its_narration():
    """Retrieval, the classifiers and cross-validation all read a case through render(): in the first person."""
    from service.cases import parse_case

    row = {"url": "https://example.org/t/1", "date": "2025-01-01", "cause": "out-of-scope", "lang": "en",
           "source": "forum", "repo": None, "framework": None, "model": None, "hardware": None, "lines": [],
           "settings": {}, "versions": {},
           "symptom": {"en": "The reporter asks whether overlap_comm slows ZeRO-2 down.",
                       "zh": "用户询问 overlap_comm 是否会让 ZeRO-2 变慢。"},
           "why": "A question.", "confidence": "high"}
    case = parse_case(row)
    assert "reporter" not in case.render("en") and "asks" not in case.render("en")
    assert "whether overlap_comm slows ZeRO-2 down" in case.render("en")
    assert "用户" not in case.render("zh") and "询问" not in case.render("zh") and "overlap_comm" in case.render("zh")


def test_saved_weights_load_back_to_the_same_answers(tmp_path):
    texts, labels = _reports()
    classifier = LexicalClassifier.fit(texts, labels)
    path = lexical_path(tmp_path / "model" / "fusion.json")
    classifier.save(path)
    loaded = LexicalClassifier.load(path)
    assert loaded is not None and loaded.classes == classifier.classes
    for text in texts[::9]:
        got, want = loaded.probabilities(text), classifier.probabilities(text)
        assert all(abs(got[c] - want[c]) < 1e-4 for c in want)
    path.write_text("\n".join(path.read_text(encoding="utf-8").splitlines()[:-1]), encoding="utf-8")  # a class lost
    assert LexicalClassifier.load(path) is None
    path.write_text("not json", encoding="utf-8")
    assert LexicalClassifier.load(path) is None
    assert LexicalClassifier.load(tmp_path / "missing.json") is None


def test_combining_keeps_what_both_find_likely_and_passes_either_alone_through():
    semantic = {"a": 0.6, "b": 0.3, "out-of-scope": 0.1}
    lexical = {"a": 0.2, "b": 0.7, "out-of-scope": 0.1}
    mixed = combine(semantic, lexical)
    assert mixed is not None and sum(mixed.values()) == pytest.approx(1.0, abs=1e-4)
    assert mixed["out-of-scope"] < min(mixed["a"], mixed["b"])
    assert 0.2 < mixed["a"] < 0.6 and 0.3 < mixed["b"] < 0.7  # between the two, renormalised
    assert combine(semantic, None) == semantic and combine(None, lexical) == lexical and combine(None, None) is None
    # A class only one of them knows is unlikely, not impossible.
    assert 0 < combine({"a": 0.5, "c": 0.5}, {"a": 1.0})["c"] < 0.01


def _prepared(texts: list[str], labels: list[str], folds: int = 5) -> list:
    rng = random.Random(1)
    return [SimpleNamespace(case=SimpleNamespace(id=f"case{i}", cause=label), fold=i % folds,
                            analysis=SimpleNamespace(vector=[rng.random() for _ in range(4)],
                                                     parsed=Parsed([Line("input", 1, text)], [], [], [])))
            for i, (text, label) in enumerate(zip(texts, labels, strict=True))]


def test_stacking_never_shows_a_report_a_lexical_classifier_that_saw_its_fold(monkeypatch):
    texts, labels = _reports()
    items = _prepared(texts, labels)
    fold_of_text = {t: p.fold for t, p in zip(texts, items, strict=True)}
    fitted_on: list[set[int]] = []
    real_fit = LexicalClassifier.fit

    def recording_fit(rows, causes, c=10.0, meta=None):
        fitted_on.append({fold_of_text[r] for r in rows})
        return real_fit(rows, causes, c, meta)

    monkeypatch.setattr(LexicalClassifier, "fit", staticmethod(recording_fit))
    stacked = Stacked(items)
    for item in items[:12]:
        for fold_under_test in (None, (item.fold + 2) % 5):
            probs = stacked.of(item, fold_under_test)
            assert probs is not None and sum(probs.values()) == pytest.approx(1.0, abs=1e-3)
    assert fitted_on and all(len(folds) in (3, 4) for folds in fitted_on)
    for held_out, folds in zip(stacked._lexical, fitted_on, strict=True):
        assert not held_out & folds
    # Without the lexical classifier, the embedding classifier's output passes through unchanged.
    plain = Stacked(items, lexical=False)
    assert plain.of(items[0], None) == plain._classifier(frozenset({items[0].fold})).probabilities(
        items[0].analysis.vector)
