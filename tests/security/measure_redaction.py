"""Measure a redactor on the corpus: recall on secrets, false positives on benign lines, µs per line.

    .venv/bin/python -m tests.security.measure_redaction [--baseline path/to/old_redact.py] [--detect-secrets]

Recall: share of SECRETS entries whose every value is gone, with no 8-character piece of it left. False positives:
benign lines changed (the corpus's BENIGN lines, every line of the KB fixtures, and the shared dev cases when the
shared folder is there). Speed: one call per line over all those benign lines plus every secret entry.
`--detect-secrets` also scores detect-secrets (pip install detect-secrets==1.5.0, not a project dependency) with
its default plugins and filters, as `detect-secrets scan` runs them on a file, alone and after the baseline. The
numbers are in service/redact.py's docstring.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import yaml

from tests.security.secrets_corpus import BENIGN, SECRETS, Secret

REPO = Path(__file__).resolve().parents[2]


def leaked(secret: Secret, out: str) -> list[str]:
    """The values of `secret` (or 8-character pieces of them) still in `out`."""
    found = []
    for value in secret.values:
        pieces = [value] if len(value) < 8 else [value[i:i + 8] for i in range(len(value) - 7)]
        if any(piece in out for piece in pieces):
            found.append(value)
    return found


def kb_fixture_lines() -> list[str]:
    lines: list[str] = []
    for path in sorted((REPO / "kb").rglob("*.fixtures.yaml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            text = item.get("text") if isinstance(item, dict) else None
            if isinstance(text, str):
                lines += text.splitlines()
    return lines


def shared_case_lines() -> list[str]:
    lines: list[str] = []
    for path in sorted((REPO.parent / "shared").glob("cases-dev*.jsonl")):
        for row in path.read_text(encoding="utf-8").splitlines():
            if row.strip():
                case = json.loads(row)
                lines += f"{case.get('title', '')}\n{case.get('body', '')}".splitlines()
    return lines


def benign_lines() -> list[str]:
    return list(dict.fromkeys(BENIGN + kb_fixture_lines() + shared_case_lines()))


def score(name: str, redact: Callable[[str], str], benign: list[str], mix: list[str]) -> dict:
    caught = [s for s in SECRETS if not leaked(s, redact(s.text))]
    changed = [line for line in benign if redact(line) != line]
    started = time.perf_counter()
    rounds = max(1, 20000 // len(mix))
    for _ in range(rounds):
        for line in mix:
            redact(line)
    us = (time.perf_counter() - started) / (rounds * len(mix)) * 1e6
    return {"name": name, "recall": len(caught) / len(SECRETS), "caught": len(caught), "fp": len(changed),
            "us": us, "missed": [s.id for s in SECRETS if s not in caught], "changed": changed}


def load_module_redact(path: str) -> Callable[[str], str]:
    spec = importlib.util.spec_from_file_location("baseline_redact", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.redact


def detect_secrets_redact() -> Callable[[str], str]:
    """detect-secrets as `detect-secrets scan` runs it on a file (default plugins and filters, entropy limits applied),
    one line at a time. Generous to it: the whole whitespace-delimited word holding a reported value is replaced
    (some plugins report only part of the token, e.g. `ghp` for a GitHub token)."""
    from detect_secrets.core.scan import _process_line_based_plugins
    from detect_secrets.settings import default_settings

    context = default_settings()
    context.__enter__()  # keep the default plugins loaded for the whole run (the reference below keeps it open)

    def redact(text: str) -> str:
        out_lines = []
        for line in text.split("\n"):
            for found in _process_line_based_plugins(lines=[(1, line)], filename="paste.log"):
                if found.secret_value:
                    line = " ".join(f"[REDACTED:{found.type}]" if found.secret_value in word else word
                                    for word in line.split(" "))
            out_lines.append(line)
        return "\n".join(out_lines)

    redact.context = context
    return redact


def chain(*fns: Callable[[str], str]) -> Callable[[str], str]:
    def run(text: str) -> str:
        for fn in fns:
            text = fn(text)
        return text
    return run


def table(rows: Iterable[dict], benign: int) -> str:
    out = [f"| redactor | recall ({len(SECRETS)} entries) | false positives ({benign:,} benign lines) | µs/line |",
           "| --- | --- | --- | --- |"]
    out += [f"| {r['name']} | {r['recall']:.0%} ({r['caught']}) | {r['fp']} | {r['us']:,.0f} |" for r in rows]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", help="a redact.py to compare with (e.g. the previous version)")
    parser.add_argument("--detect-secrets", action="store_true", help="also score detect-secrets (if installed)")
    parser.add_argument("-v", "--verbose", action="store_true", help="list misses and false positives")
    args = parser.parse_args()
    from service.redact import redact

    benign = benign_lines()
    mix = benign + [s.text for s in SECRETS]  # ~6 % secret lines: more than a real log has
    rows = []
    baseline = load_module_redact(args.baseline) if args.baseline else None
    if baseline:
        rows.append(score("previous hand-written regexes", baseline, benign, mix))
    if args.detect_secrets:
        ds = detect_secrets_redact()
        rows.append(score("detect-secrets 1.5.0, all plugins", ds, benign, mix))
        if baseline:
            rows.append(score("previous + detect-secrets", chain(baseline, ds), benign, mix))
    rows.append(score("service/redact.py (RE2)", redact, benign, mix))
    print(table(rows, len(benign)))
    if args.verbose:
        for row in rows:
            print(f"\n## {row['name']}\nmissed: {row['missed']}")
            for line in row["changed"][:60]:
                print(f"  changed: {line[:160]!r}")


if __name__ == "__main__":
    main()
