"""The lexical cause classifier alone on real reports: the dev sets' 125 labelled reports (title + body), which the
classifier never saw (it is fitted on the case base, which holds none of their threads).

Prints its top-1 and the mean log-probability of the expected cause (out-of-scope included), as committed, and
with the issue-form noise left in (`service/text.strip_issue_form` replaced by the identity): what that strip is
worth on the kind of text it exists for. Needs ../shared/cases-dev*.jsonl. Usage:
.venv/bin/python -m benchmarks.lexical_real
"""

from __future__ import annotations

import math
from pathlib import Path


def main() -> None:
    import service.lexical as lexical
    from service.evaluate import dev_reports
    from service.fusion import fusion_text
    from service.kb import KB_DIR
    from service.lexical import LexicalClassifier, lexical_path
    from service.parse import parse
    from service.pipeline import as_parts

    model = LexicalClassifier.load(lexical_path(Path(KB_DIR) / "model" / "fusion.json"))
    if model is None:
        raise SystemExit("no lexical classifier: run `tunedoc train` first")
    reports = [(fusion_text(parse(as_parts(paste))), expected) for _, paste, expected, _ in dev_reports()]

    def measure(label: str) -> None:
        right, log_p = 0, 0.0
        for text, expected in reports:
            probs = model.probabilities(text)
            right += max(probs, key=lambda c: (probs[c], c)) == expected
            log_p += math.log(probs.get(expected, 0.0) + 1e-6)
        print(f"| {label} | {right}/{len(reports)} | {log_p / len(reports):.3f} |")

    print("| lexical classifier on the dev reports | top-1 | mean log-probability of the expected cause |")
    print("|---|---|---|")
    measure("as committed")
    kept = lexical.strip_issue_form
    lexical.strip_issue_form = lambda text: text
    try:
        measure("issue-form noise left in")
    finally:
        lexical.strip_issue_form = kept


if __name__ == "__main__":
    main()
