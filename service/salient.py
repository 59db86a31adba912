"""The salient text of a paste: the few lines worth embedding for retrieval.

Retrieval cost must not grow with the paste: whatever its size, at most MAX_LINES lines and MAX_CHARS characters
are embedded: the title, error and exception lines, known warnings, and the first prose lines. Embedding time is
linear in the text (USE: ~3 ms for 100 characters, ~13 ms for 800 on one core), so the cap is the latency budget.
"""

from __future__ import annotations

import re

from service.models import Parsed, Signal
from service.redact import redact

MAX_LINES = 10
MAX_CHARS = 600
_SALIENT = re.compile(
    r"(?i)(error|exception|warning|failed|timeout|killed|nan\b|out of memory|mismatch|not found|cannot|can't|"
    r"unexpected|undefined|assert|overflow|hang|stuck|报错|错误|失败|卡住|重复|显存|不匹配)"
)


def salient_text(parsed: Parsed, signals: dict[str, Signal]) -> str:
    chosen: list[str] = []
    seen: set[str] = set()

    def add(text: str) -> None:
        text = text.strip()
        if text and text not in seen and len(chosen) < MAX_LINES:
            seen.add(text)
            chosen.append(redact(text)[:200])  # redact before cutting: a cut secret no longer matches

    if parsed.lines:
        add(parsed.lines[0].text)
    for name in ("exception.type", "exception.message"):
        if name in signals:
            for line in signals[name].lines:
                add(line.text)
    for line in parsed.lines:
        if _SALIENT.search(line.text):
            add(line.text)
    for segment in parsed.segments:
        if segment.kind == "prose":
            for line in segment.lines[:4]:
                add(line.text)
    return "\n".join(chosen)[:MAX_CHARS]
