"""Where to put the duplicate threshold: cosine similarity of salient-line embeddings for
(a) different trigger fixtures of the same article (related reports, not duplicates) and
(b) one fixture against a re-paste of itself with other numbers, ids and log noise (duplicates).

Usage: .venv/bin/python -m benchmarks.duplicate_threshold
"""

from __future__ import annotations

import random
import re
import statistics

import numpy as np

from service.config import apply_offline_env, get_settings
from service.embeddings import PackagedEmbeddings
from service.kb import Catalogue
from service.models import Part
from service.parse import parse
from service.salient import salient_text
from service.signals import extract_signals


def salient(text: str) -> str:
    parsed = parse([Part("input", text)])
    return salient_text(parsed, extract_signals(parsed))


def repaste(text: str, rng: random.Random) -> str:
    text = re.sub(r"\d+", lambda m: str(int(m.group(0)) + rng.randint(1, 9)), text)
    noise = [f"[INFO|trainer.py:{rng.randint(1, 3000)}] >> step {rng.randint(1, 900)}" for _ in range(3)]
    return "\n".join(noise + [text])


def main() -> None:
    apply_offline_env()
    rng = random.Random(0)
    embed = PackagedEmbeddings(get_settings().embedding_model)
    catalogue = Catalogue.load()
    same_cause, repasted = [], []
    for fixtures in catalogue.fixtures.values():
        triggers = [f.text for f in fixtures if f.kind == "trigger"]
        if not triggers:
            continue
        vectors = np.array(embed.embed_documents([salient(t) for t in triggers]
                                                 + [salient(repaste(t, rng)) for t in triggers]))
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        n = len(triggers)
        repasted += [float(vectors[i] @ vectors[n + i]) for i in range(n)]
        same_cause += [float(vectors[i] @ vectors[j]) for i in range(n) for j in range(i + 1, n)]
    for name, values in (("different reports, same cause", same_cause), ("same report re-pasted", repasted)):
        q = statistics.quantiles(values, n=20)
        above = "  ".join(f">={t}: {sum(v >= t for v in values) / len(values):.0%}" for t in (0.8, 0.85, 0.88, 0.9))
        print(f"{name:32s} n={len(values):3d} median {statistics.median(values):.3f} "
              f"p5 {q[0]:.3f} p95 {q[-1]:.3f}  {above}")


if __name__ == "__main__":
    main()
