"""Distinct, realistic pastes for load and throughput benchmarks: the KB's own trigger fixtures, each made unique
by a run id, varied metric values and a few lines of ordinary log noise (so no cache can answer two requests)."""

from __future__ import annotations

import random

from service.kb import Catalogue

NOISE = [
    "[INFO|trainer.py:{n}] >> ***** Running training *****",
    "[INFO|trainer.py:{n}] >>   Num examples = {m}",
    "  {p}%|{bar}| {n}/{m} [01:{s:02d}<10:00, 1.{s}s/it]",
    "[2024-05-{d:02d} 10:{s:02d}:00,123] [INFO] [logging.py:96:log_dist] [Rank 0] step={n}, skipped=0, lr=[1e-05]",
    "{{'loss': {loss:.4f}, 'grad_norm': {gn:.4f}, 'learning_rate': 1e-05, 'epoch': 0.{d}}}",
]


def paste_factory(seed: int = 0):  # noqa: ANN201 - returns a callable
    rng = random.Random(seed)
    catalogue = Catalogue.load()
    base = [f.text for fixtures in catalogue.fixtures.values() for f in fixtures if f.kind == "trigger"]
    counter = 0

    def make() -> str:
        nonlocal counter
        counter += 1
        lines = [f"run {seed}-{counter}: training report"]
        for _ in range(rng.randint(2, 8)):
            lines.append(rng.choice(NOISE).format(n=rng.randint(1, 5000), m=rng.randint(100, 90000),
                                                  p=rng.randint(0, 99), bar="#" * rng.randint(0, 20),
                                                  s=rng.randint(0, 59), d=rng.randint(1, 28),
                                                  loss=rng.uniform(0.5, 3.0), gn=rng.uniform(0.1, 2.0)))
        lines.append(rng.choice(base))
        return "\n".join(lines)

    return make


def real_paste_factory(seed: int = 0, median_chars: int = 470, max_chars: int = 12_000):  # noqa: ANN201
    """Distinct pastes of real-report size: a case-base report (symptom prose, settings, versions, machine lines) or
    a KB trigger fixture, padded with log noise towards a length drawn from a log-normal distribution (at most `max_chars`), each made
    unique by a run id. Real reports are ~700 characters at the median with a long tail to ~12 KB; with the default
    `median_chars` the pastes made here have a median of ~700 characters and a 95th percentile of ~2.2 KB (the
    synthetic `paste_factory` pastes are ~300)."""
    import math

    from service.cases import CaseBase

    rng = random.Random(seed)
    catalogue = Catalogue.load()
    fixtures = [f.text for fixtures in catalogue.fixtures.values() for f in fixtures if f.kind == "trigger"]
    cases = CaseBase.load(catalogue.root).cases
    bodies = [c.render() for c in cases] + fixtures
    counter = 0

    def noise_line() -> str:
        return rng.choice(NOISE).format(n=rng.randint(1, 5000), m=rng.randint(100, 90000), p=rng.randint(0, 99),
                                        bar="#" * rng.randint(0, 20), s=rng.randint(0, 59), d=rng.randint(1, 28),
                                        loss=rng.uniform(0.5, 3.0), gn=rng.uniform(0.1, 2.0))

    def make() -> str:
        nonlocal counter
        counter += 1
        target = min(max_chars, max(160, int(median_chars * math.exp(rng.gauss(0.0, 0.9)))))
        body = rng.choice(bodies)
        if rng.random() < 0.3:
            body += "\n" + rng.choice(fixtures)
        head = [f"run {seed}-{counter}: training report"]
        size = len(head[0]) + len(body) + 1
        noise: list[str] = []
        while size < target:
            line = noise_line()
            noise.append(line)
            size += len(line) + 1
        cut = rng.randint(0, len(noise))  # noise before and after the report, as in a pasted log
        return "\n".join(head + noise[:cut] + [body] + noise[cut:])[:max_chars]

    return make
