"""A cause classifier over the words of a paste: the case base read as one supervised problem, lexically.

The embedding classifier (service/classify.py) sees what the salient text means; this one sees which words and
identifiers the whole paste uses (`overlap_comm`, `save_only_model`, `lr`, `模板`, `不停`), weighted by TF-IDF,
through a multinomial logistic regression. Measured on the case base (grouped cross-validation), it tells
out-of-scope reports from in-scope ones better than the embedding classifier, which ranks causes better: fusion
reads the two together (`combine`), as one product of experts.

Tokens are BM25's (service/bm25.tokenize: identifiers, their `_`/`-` parts, Chinese unigrams and bigrams) plus
adjacent-word bigrams; a term enters the vocabulary when at least MIN_DF reports use it. The vectoriser is written
out here rather than taken from scikit-learn so that training and serving compute the same floats with no pickled
object: term frequency 1 + ln(count), times the smoothed idf, L2-normalised; terms are summed in vocabulary order.
The weights are stored as plain JSON next to the fusion model (`kb/model/lexical.json`).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from service.bm25 import _WORD, tokenize
from service.classify import fit_softmax, softmax
from service.text import strip_issue_form, strip_narration

MIN_DF = 3  # a term two reports share is as likely one thread's wording as a fact about a cause
# Chosen together by fusion's log loss in grouped cross-validation over the case base (1,115 reports; ad hoc runs of
# learn.cross_validate, not a committed command): C in 3, 10, 30 and the weight in 0.5, 0.65, 0.8; C 10 with 0.65
# had the lowest (0.620; 0.626 at 0.5, 0.625 at 0.8, 0.638 at C 3). Without the lexical classifier: 0.674.
LEXICAL_C = 10.0  # L2 strength 1/C
WEIGHT = 0.65  # the lexical classifier's exponent in `combine` (the embedding classifier's: 1 - WEIGHT)
# The characters of the paste it reads: the reports it learned from are at most ~1,100
# characters, a paste's description sits at its top, and the dev reports scored the same with 20,000.
MAX_CHARS = 4_000


def lexical_path(fusion_model: Path) -> Path:
    return fusion_model.with_name("lexical.json")


def terms(text: str) -> Counter[str]:
    """The paste's term counts: BM25's tokens and the bigrams of adjacent ASCII words, narration removed."""
    text = strip_narration(strip_issue_form(text[:MAX_CHARS]))
    counts = Counter(tokenize(text))
    words = _WORD.findall(text.lower())
    counts.update(f"{a} {b}" for a, b in zip(words, words[1:], strict=False))
    return counts


@dataclass
class Vocabulary:
    index: dict[str, int]  # term -> column, columns in sorted term order
    idf: np.ndarray

    @classmethod
    def fit(cls, documents: Sequence[Counter[str]], min_df: int = MIN_DF) -> Vocabulary:
        df: Counter[str] = Counter()
        for counts in documents:
            df.update(counts.keys())
        kept = sorted(t for t, f in df.items() if f >= min_df)
        n = len(documents)
        idf = np.asarray([math.log((1 + n) / (1 + df[t])) + 1.0 for t in kept], dtype=np.float64)
        return cls({t: j for j, t in enumerate(kept)}, idf)

    def vector(self, counts: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray]:
        """(columns, values) of one document's normalised TF-IDF vector, columns ascending."""
        present = sorted((self.index[t], c) for t, c in counts.items() if t in self.index)
        if not present:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        cols = np.asarray([j for j, _ in present], dtype=np.int64)
        values = (1.0 + np.log(np.asarray([c for _, c in present], dtype=np.float64))) * self.idf[cols]
        return cols, values / float(np.linalg.norm(values))

    def matrix(self, documents: Sequence[Counter[str]]):  # noqa: ANN201 - scipy.sparse.csr_matrix
        from scipy import sparse

        rows, cols, values = [], [], []
        for i, counts in enumerate(documents):
            c, v = self.vector(counts)
            rows += [i] * len(c)
            cols.append(c)
            values.append(v)
        return sparse.csr_matrix((np.concatenate(values) if values else np.zeros(0),
                                  (np.asarray(rows, dtype=np.int64),
                                   np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64))),
                                 shape=(len(documents), len(self.index)))


@dataclass
class LexicalClassifier:
    classes: list[str]
    vocabulary: Vocabulary
    coef: np.ndarray  # terms x classes (one row per term: a paste reads only the rows of its own terms)
    intercept: np.ndarray
    meta: dict[str, object] = field(default_factory=dict)

    @classmethod
    def fit(cls, texts: Sequence[str], labels: Sequence[str], c: float = LEXICAL_C,
            meta: dict[str, object] | None = None) -> LexicalClassifier:
        documents = [terms(t) for t in texts]
        vocabulary = Vocabulary.fit(documents)
        classes, coef, intercept = fit_softmax(vocabulary.matrix(documents), labels, c)
        return cls(classes, vocabulary, np.ascontiguousarray(coef.T), intercept,
                   {"cases": len(texts), "C": c, "terms": len(vocabulary.index), **(meta or {})})

    def probabilities(self, text: str) -> dict[str, float]:
        cols, values = self.vocabulary.vector(terms(text))
        return softmax(self.classes, self.intercept + values @ self.coef[cols] if len(cols) else self.intercept)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # A header line (classes, intercepts), a line of terms with their idf, then one line per class with its
        # weight for each term: 5 decimals, compact (the file is a few MB; the rounding moves a paste's
        # probabilities by about 1e-5 at most). A row per class parses in a tenth of a second, a row per term in
        # a quarter.
        head = {"meta": self.meta, "classes": self.classes, "intercept": [round(float(b), 6) for b in self.intercept]}
        vocabulary = {"terms": list(self.vocabulary.index), "idf": [round(float(v), 9) for v in self.vocabulary.idf]}
        rows = [json.dumps([round(float(w), 5) for w in column], separators=(",", ":")) for column in self.coef.T]
        path.write_text("\n".join([json.dumps(head, sort_keys=True, ensure_ascii=False),
                                   json.dumps(vocabulary, ensure_ascii=False, separators=(",", ":")), *rows]) + "\n",
                        encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> LexicalClassifier | None:
        try:
            head, vocabulary, *rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
                                       if line]
            terms_, classes = vocabulary["terms"], list(head["classes"])
            coef = np.asarray(rows, dtype=np.float64).T
            if coef.shape != (len(terms_), len(classes)) or len(vocabulary["idf"]) != len(terms_):
                return None
            return cls(classes, Vocabulary({t: j for j, t in enumerate(terms_)},
                                           np.asarray(vocabulary["idf"], dtype=np.float64)),
                       np.ascontiguousarray(coef), np.asarray(head["intercept"], dtype=np.float64),
                       head.get("meta", {}))
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            return None


def combine(semantic: Mapping[str, float] | None, lexical: Mapping[str, float] | None) -> dict[str, float] | None:
    """One distribution from the two classifiers: their weighted geometric mean, renormalised (a cause both find
    likely stays likely; one either finds implausible drops). Either alone passes through."""
    if semantic is None or lexical is None:
        alone = semantic if semantic is not None else lexical
        return dict(alone) if alone is not None else None
    classes = sorted(set(semantic) | set(lexical))
    floor = 1e-6  # a class one classifier never saw is unlikely to it, not impossible
    mixed = [math.exp((1 - WEIGHT) * math.log(max(semantic.get(c, 0.0), floor))
                      + WEIGHT * math.log(max(lexical.get(c, 0.0), floor))) for c in classes]
    total = sum(mixed)
    return {c: round(m / total, 5) for c, m in zip(classes, mixed, strict=True)}
