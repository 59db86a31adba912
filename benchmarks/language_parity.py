"""Language parity of the rules: every case of the case base has a digest in English and in Chinese that state the
same facts, so the expected cause's rule status should not depend on the language. Where one render confirms the
cause and the other does not, one language lacks a reading the other has (an English "runs out of memory" with no
English reading while "显存不足" had one). Prints the pairs of statuses and, with --list, the cases confirmed in one
language only; with --signals, for every signal, the case pairs that read it in one language only and how often the
in-scope and out-of-scope renders read it; with --matchers, the article matchers (symptoms and conditions) that hold
in one render only, over every case. A regression check for prose readings, not a score: a digest pair may
also differ in what it says.

.venv/bin/python -m benchmarks.language_parity [--list] [--signals] [--matchers]
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


def signal_parity() -> list[tuple[str, int, int, float, float]]:
    """(signal, case pairs read in English only, in Chinese only, share of in-scope renders reading it, share of
    out-of-scope renders), most one-sided first."""
    from collections import defaultdict

    from service.cases import OUT_OF_SCOPE, CaseBase
    from service.parse import parse
    from service.pipeline import as_parts
    from service.signals import extract_signals

    one_sided: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    read: dict[tuple[str, bool], int] = defaultdict(int)
    renders = {True: 0, False: 0}
    for case in CaseBase.load().cases:
        in_scope = case.cause != OUT_OF_SCOPE
        names = [set(extract_signals(parse(as_parts(case.render(lang))))) for lang in ("en", "zh")]
        for found in names:
            renders[in_scope] += 1
            for name in found:
                read[(name, in_scope)] += 1
        for name in names[0] ^ names[1]:
            one_sided[name][0 if name in names[0] else 1] += 1
    rows = [(name, en, zh, read[(name, True)] / renders[True], read[(name, False)] / max(renders[False], 1))
            for name, (en, zh) in one_sided.items()]
    return sorted(rows, key=lambda row: (-(row[1] + row[2]), row[0]))


def matcher_parity() -> list[tuple[str, int, int]]:
    """(article:matcher, case pairs where it holds in the English render only, in the Chinese render only), most
    one-sided first: a matcher that holds far more often in one language lacks a reading in the other."""
    from collections import defaultdict

    from service.cases import CaseBase
    from service.parse import parse
    from service.pipeline import as_parts, load_rules
    from service.signals import extract_signals

    rules = load_rules()
    one_sided: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for case in CaseBase.load().cases:
        held = []
        for lang in ("en", "zh"):
            parsed = parse(as_parts(case.render(lang)))
            outcome = rules.evaluate(parsed.lines, extract_signals(parsed))
            held.append({f"{article_id}:{r.matcher.id}" for article_id, result in outcome.articles.items()
                         for r in result.symptoms + result.conditions if r.status == "holds"})
        for name in held[0] ^ held[1]:
            one_sided[name][0 if name in held[0] else 1] += 1
    return sorted(((name, en, zh) for name, (en, zh) in one_sided.items()),
                  key=lambda row: (-abs(row[1] - row[2]), row[0]))


def main() -> None:
    from service.config import apply_offline_env

    apply_offline_env()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="list the cases confirmed in one language only")
    parser.add_argument("--signals", action="store_true", help="the signals read in one language only")
    parser.add_argument("--matchers", action="store_true", help="the article matchers that hold in one language only")
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
    if args.signals:
        print("\n| signal | English only | Chinese only | in-scope renders | out-of-scope renders |\n|---|---|---|---|---|")
        for name, en, zh, inside, outside in signal_parity():
            print(f"| {name} | {en} | {zh} | {inside:.3f} | {outside:.3f} |")
    if args.matchers:
        print("\n| article:matcher | English only | Chinese only |\n|---|---|---|")
        for name, en, zh in matcher_parity()[:40]:
            print(f"| {name} | {en} | {zh} |")


if __name__ == "__main__":
    main()
