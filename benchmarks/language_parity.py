"""Language parity of the rules: every case of the case base has a digest in English and in Chinese that state the
same facts, so the expected cause's rule status should not depend on the language. Where one render confirms the
cause and the other does not, one language lacks a reading the other has (an English "runs out of memory" with no
English reading while "显存不足" had one). Prints the pairs of statuses and, with --list, the cases confirmed in one
language only. A regression check for prose readings, not a score: a digest pair may also differ in what it says.

.venv/bin/python -m benchmarks.language_parity [--list]
"""

from __future__ import annotations

import argparse
from collections import Counter


def statuses() -> list[tuple[str, str, str, str]]:
    """(case id, cause, status of the cause in the English render, in the Chinese render) for every in-scope case."""
    from service.cases import OUT_OF_SCOPE, CaseBase
    from service.parse import parse
    from service.pipeline import as_parts, load_rules
    from service.signals import extract_signals

    rules = load_rules()
    out = []
    for case in CaseBase.load().cases:
        if case.cause == OUT_OF_SCOPE:
            continue
        found = []
        for lang in ("en", "zh"):
            parsed = parse(as_parts(case.render(lang)))
            outcome = rules.evaluate(parsed.lines, extract_signals(parsed))
            result = outcome.articles.get(case.cause)
            found.append(result.status if result is not None else "-")
        out.append((case.id, case.cause, found[0], found[1]))
    return out


def main() -> None:
    from service.config import apply_offline_env

    apply_offline_env()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="list the cases confirmed in one language only")
    args = parser.parse_args()
    rows = statuses()
    pairs = Counter((en, zh) for _, _, en, zh in rows if en != zh)
    one_sided = [row for row in rows if (row[2] == "diagnosed") != (row[3] == "diagnosed")]
    print(f"{len(rows)} in-scope cases; the expected cause's rule status differs between the renders in "
          f"{sum(pairs.values())}, confirmed in one language only in {len(one_sided)} "
          f"(English only {sum(r[2] == 'diagnosed' for r in one_sided)}, "
          f"Chinese only {sum(r[3] == 'diagnosed' for r in one_sided)})")
    print("| English | Chinese | cases |\n|---|---|---|")
    for (en, zh), count in pairs.most_common():
        print(f"| {en} | {zh} | {count} |")
    if args.list:
        for case_id, cause, en, zh in sorted(one_sided, key=lambda r: (r[1], r[0])):
            print(f"  {cause}: {case_id} (en {en}, zh {zh})")


if __name__ == "__main__":
    main()
