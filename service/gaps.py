"""Coverage gaps: reports that got no diagnosis, grouped by their most salient error line, so the next articles
to write are obvious. Shared by `tunedoc eval` and `tunedoc triage`.
"""

from __future__ import annotations

import re
from collections import defaultdict

from service.parse import parse
from service.pipeline import as_parts
from service.redact import redact
from service.signals import extract_signals

# A salient line starts with an error name (`RuntimeError: ...`) or holds a failure word. Two linear searches:
# `\w*(error)\b.*|.*(failed...).*` as one fullmatch backtracked quadratically on long lines.
_FIRST_WORD = re.compile(r"\w+")
_FAILURE_WORD = re.compile(r"(?i)failed|timeout|killed|not found|mismatch|cannot|can't|\bnan\b")


def _is_salient(text: str) -> bool:
    first = _FIRST_WORD.match(text)
    if first and first.group(0).lower().endswith(("error", "exception")):
        return True
    return _FAILURE_WORD.search(text) is not None


def salient_line(text: str) -> str:
    parsed = parse(as_parts(text))
    signals = extract_signals(parsed)
    if "exception.type" in signals:
        line = signals["exception.type"].lines[0].text
    else:
        line = next((ln.text for ln in parsed.lines[1:] if _is_salient(ln.text.strip())),
                    parsed.lines[0].text if parsed.lines else "")
    # Normalise numbers, paths and quoted names so the same error from different runs groups together.
    # Paths of two segments or more (not `</b>`), and numbers standing alone (not the 4 of `GLM-4v-9b`).
    line = re.sub(r"(?<![\w<])(?:/[\w.\-]+){2,}", "<path>", redact(line.strip()))
    line = re.sub(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])", "N", line)
    return line[:100] or "(empty)"


def group_gaps(items: list[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """items: (report id, report text) with no diagnosis -> [(salient line, [ids])], largest group first."""
    return group_lines([(report_id, salient_line(text)) for report_id, text in items])


def group_lines(items: list[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """items: (report id, its salient line) -> [(salient line, [ids])], largest group first."""
    groups: dict[str, list[str]] = defaultdict(list)
    for report_id, line in items:
        groups[line].append(report_id)
    return sorted(groups.items(), key=lambda g: (-len(g[1]), g[0]))


def render_gaps(groups: list[tuple[str, list[str]]]) -> str:
    if not groups:
        return "Coverage gaps: none (every report got a diagnosis)."
    lines = [f"Coverage gaps: {sum(len(ids) for _, ids in groups)} report(s) with no diagnosis, by salient line:"]
    lines += [f"  {len(ids):3d}  {line}  [{', '.join(ids[:4])}{' …' if len(ids) > 4 else ''}]" for line, ids in groups]
    return "\n".join(lines)
