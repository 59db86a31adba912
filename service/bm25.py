"""A small, deterministic BM25 (Okapi) over articles, with tokenization that handles Chinese.

ASCII words are lower-cased identifiers (`grad_norm`, `overlap_comm` stay whole and also split on `_`); CJK runs
become unigrams and bigrams, which works for Chinese without a segmentation dictionary.
"""

from __future__ import annotations

import math
import re
from collections import Counter

_WORD = re.compile(r"[a-z0-9][a-z0-9_.+\-]*[a-z0-9]|[a-z0-9]")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]+")
_STOP = frozenset("the a an and or of to in is it for on with this that be as at by from are was were i my we you "
                  "not but if when have has had do does can will would should".split())


def tokenize(text: str) -> list[str]:
    low = text.lower()
    tokens: list[str] = []
    for word in _WORD.findall(low):
        if word in _STOP:
            continue
        tokens.append(word)
        if "_" in word or "-" in word:
            tokens.extend(p for p in re.split(r"[_\-]", word) if p and p not in _STOP)
    for run in _CJK_RUN.findall(text):
        tokens.extend(run)
        tokens.extend(run[i:i + 2] for i in range(len(run) - 1))
    return tokens


class BM25:
    def __init__(self, docs: dict[str, str], k1: float = 1.2, b: float = 0.75):
        self.ids = sorted(docs)
        self.k1, self.b = k1, b
        self.tf = [Counter(tokenize(docs[i])) for i in self.ids]
        self.len = [sum(tf.values()) for tf in self.tf]
        self.avg = sum(self.len) / max(1, len(self.len))
        df: Counter[str] = Counter()
        for tf in self.tf:
            df.update(tf.keys())
        n = len(self.ids)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    def scores(self, query: str) -> list[tuple[str, float]]:
        terms = [t for t in set(tokenize(query)) if t in self.idf]
        out = []
        for doc_id, tf, length in zip(self.ids, self.tf, self.len):
            score = 0.0
            for term in terms:
                f = tf.get(term)
                if f:
                    score += self.idf[term] * f * (self.k1 + 1) / (f + self.k1 * (1 - self.b + self.b * length / self.avg))
            if score > 0:
                out.append((doc_id, round(score, 6)))
        return sorted(out, key=lambda x: (-x[1], x[0]))
