"""Where to put the near-duplicate threshold of `tunedoc triage` (service/triage/textdup.py): the Jaccard similarity
of word 3-shingles for

- re-posts of one report (should link): numbers changed and log noise added; retitled with a "same here, any
  update?" line; the same text pasted into an issue template;
- pairs of different reports (should not link): two trigger fixtures of the same KB article (same cause, different
  report), two different fixtures both pasted into the same issue template, and every pair of the real public reports
  in ../shared/cases-dev*.jsonl when that folder is present.

Usage: .venv/bin/python -m benchmarks.text_duplicate_threshold

Measured (196 trigger fixtures of kb/ plus 125 real reports; Jaccard of word 3-shingles):

    re-post: numbers + log noise       n=  321 median 0.910 p5 0.785   >=0.4: 100.0%  >=0.5: 100.0%  >=0.6: 100.0%
    re-post: retitled + 'any update?'  n=  321 median 0.848 p5 0.660   >=0.4: 100.0%  >=0.5:  99.7%  >=0.6:  98.4%
    re-post: pasted into a template    n=  321 median 0.627 p5 0.373   >=0.4:  93.1%  >=0.5:  80.4%  >=0.6:  56.4%
    different: same cause              n=  261 median 0.022 max 0.462  >=0.4:   1.1%  >=0.5:   0.0%
    different: same template           n=  500 median 0.245 max 0.479  >=0.4:   1.4%  >=0.5:   0.0%
    different: real reports            n= 7750 median 0.000 max 0.686  >=0.4:   0.1%  >=0.5:   0.1%

At 0.5 (NEAR_DUPLICATE_JACCARD) TextDuplicates links 100% / 99.7% / 80.4% of the three kinds of re-post and no pair
of different fixtures; the real pairs at or above 0.5 (4 of 7,750) all quote the same long error (three reports with
`size mismatch for ... lora_A/lora_B` dumps, two with the 8-bit `ValueError`): the same failure, worth one look.
At 0.4 the template re-posts rise to 93% but different reports in the same template start to link (1.4%).
"""

from __future__ import annotations

import json
import random
import re
import statistics
from itertools import combinations

import yaml

from service.config import REPO_ROOT
from service.triage.textdup import NEAR_DUPLICATE_JACCARD, TextDuplicates, jaccard, shingles, tokens

THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)
TEMPLATE = ("### Reminder\n\n- [X] I have read the above rules and searched the existing issues.\n\n"
            "### System Info\n\n- Platform: Linux-5.15-x86_64-with-glibc2.35\n- Python version: 3.10.14\n"
            "- PyTorch version: 2.3.1 (GPU)\n- Transformers version: 4.43.3\n\n"
            "### Reproduction\n\n```text\n{body}\n```\n\n"
            "### Expected behavior\n\nTraining should run normally.\n\n### Others\n\n_No response_\n")


def renumbered(text: str, rng: random.Random) -> str:
    text = re.sub(r"\d+", lambda m: str(int(m.group(0)) + rng.randint(1, 9)), text)
    noise = [f"[INFO|trainer.py:{rng.randint(1, 3000)}] >> step {rng.randint(1, 900)}" for _ in range(3)]
    return "\n".join(noise + [text])


def retitled(text: str, rng: random.Random) -> str:
    first, _, rest = text.partition("\n")
    return f"[Bug] {first} (again)\n{rest}\nSame problem here, is there any update? Thanks."


def templated(text: str, rng: random.Random) -> str:
    return TEMPLATE.format(body=text)


def _triggers() -> dict[str, list[str]]:
    """Article fixture file -> its trigger texts (read directly: the benchmark needs no rules)."""
    out = {}
    for path in sorted((REPO_ROOT / "kb").rglob("*.fixtures.yaml")):
        out[path.name] = [f["text"] for f in yaml.safe_load(path.read_text(encoding="utf-8")) or []
                          if f.get("kind") == "trigger"]
    return out


def _real_reports() -> list[str]:
    texts = []
    for path in sorted((REPO_ROOT.parent / "shared").glob("cases-dev*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                texts.append(f"{row.get('title') or ''}\n\n{row.get('body') or ''}")
    return texts


def _sim(a: str, b: str) -> float:
    return jaccard(shingles(tokens(a)), shingles(tokens(b)))


def measure() -> dict[str, list[float]]:
    rng = random.Random(0)
    fixtures = _triggers()
    all_triggers = [t for ts in fixtures.values() for t in ts]
    real = _real_reports()
    out: dict[str, list[float]] = {}
    for name, variant in (("numbers + log noise", renumbered), ("retitled + 'any update?'", retitled),
                          ("pasted into a template", templated)):
        out[f"re-post: {name}"] = [_sim(t, variant(t, rng)) for t in all_triggers + real]
    out["different: same cause"] = [_sim(a, b) for ts in fixtures.values() for a, b in combinations(ts, 2)]
    pairs = [(all_triggers[i], all_triggers[j]) for i, j in
             (sorted(rng.sample(range(len(all_triggers)), 2)) for _ in range(500))]
    out["different: same template"] = [_sim(templated(a, rng), templated(b, rng)) for a, b in pairs]
    if real:
        out["different: real reports"] = [_sim(a, b) for a, b in combinations(real, 2)]
    return out


def linked(pairs: list[tuple[str, str]]) -> float:
    """The share of pairs TextDuplicates links (LSH candidates, exact Jaccard, the threshold, MIN_TOKENS)."""
    hits = 0
    for a, b in pairs:
        index = TextDuplicates()
        index.add("a", a)
        hits += index.add("b", b) is not None
    return hits / len(pairs)


def main() -> None:
    rng = random.Random(1)
    texts = [t for ts in _triggers().values() for t in ts] + _real_reports()
    for name, variant in (("numbers + log noise", renumbered), ("retitled", retitled), ("template", templated)):
        print(f"linked by TextDuplicates at {NEAR_DUPLICATE_JACCARD}, re-post {name}: "
              f"{linked([(t, variant(t, rng)) for t in texts]):.1%}")
    for name, values in measure().items():
        q = statistics.quantiles(values, n=20)
        above = "  ".join(f">={t}: {sum(v >= t for v in values) / len(values):.1%}" for t in THRESHOLDS)
        print(f"{name:34s} n={len(values):5d} median {statistics.median(values):.3f} p5 {q[0]:.3f} "
              f"p95 {q[-1]:.3f} max {max(values):.3f}  {above}")


if __name__ == "__main__":
    main()
