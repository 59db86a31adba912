"""The case base: digests of real public reports in `kb/cases/<cause>.jsonl` (format: kb/cases/README.md).

Retrieval votes by cause with them (kNN), and `tunedoc train` fits the fusion model on them. A case is rendered as
the report it digests: the symptom paragraph in the reporter's language, then the settings, versions and the
decisive machine lines, the way people paste them.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from service.kb import KB_DIR, load_categories
from service.text import strip_narration

OUT_OF_SCOPE = "out-of-scope"
REQUIRED = ("url", "cause", "lang", "symptom")
MAX_LINES, MAX_LINE_CHARS = 8, 300


@dataclass(frozen=True)
class Case:
    url: str
    cause: str
    lang: str
    symptom_en: str
    symptom_zh: str
    lines: tuple[str, ...] = ()
    settings: tuple[tuple[str, str], ...] = ()
    versions: tuple[tuple[str, str], ...] = ()
    model: str | None = None
    framework: str | None = None
    date: str | None = None
    source: str = ""
    confidence: str = "medium"
    file: str = ""

    @cached_property
    def id(self) -> str:
        return thread_key(self.url)  # cached: fusion looks it up for every case on every request

    def symptom(self, lang: str | None = None) -> str:
        lang = lang or self.lang
        return self.symptom_zh if lang == "zh" and self.symptom_zh else self.symptom_en

    def render(self, lang: str | None = None) -> str:
        """The case as a paste: symptom prose, the model and framework, settings, versions, machine lines."""
        parts = [strip_narration(self.symptom(lang))]  # a paste never says "the reporter asks"
        if self.model:
            parts.append(f"model: {self.model}")
        if self.framework:
            parts.append(f"framework: {self.framework}")
        parts += [f"{key}: {value}" for key, value in self.settings]
        parts += [f"{name}=={version}" for name, version in self.versions]
        parts += list(self.lines)
        return "\n".join(p for p in parts if p)


def thread_key(url: str) -> str:
    """One key per thread, however its URL is spelled (scheme, www, trailing slash, comment anchors)."""
    url = re.sub(r"^[a-z]+://(www\.)?", "", url.strip().lower()).split("#")[0].split("?")[0].rstrip("/")
    return url


def _pairs(value: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        return ()
    return tuple(sorted((str(k), json.dumps(v) if isinstance(v, (dict, list)) else str(v)) for k, v in value.items()))


def parse_case(row: dict, file: str = "") -> Case:
    symptom = row.get("symptom") or {}
    lines = tuple(str(line)[:MAX_LINE_CHARS] for line in (row.get("lines") or [])[:MAX_LINES])
    return Case(url=str(row["url"]), cause=str(row["cause"]), lang=str(row["lang"]),
                symptom_en=str(symptom.get("en") or ""), symptom_zh=str(symptom.get("zh") or ""), lines=lines,
                settings=_pairs(row.get("settings")), versions=_pairs(row.get("versions")),
                model=row.get("model") or None, framework=row.get("framework") or None,
                date=row.get("date") or None, source=str(row.get("source") or ""),
                confidence=str(row.get("confidence") or "medium"), file=file)


@dataclass
class CaseBase:
    cases: list[Case]
    problems: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, root: Path | str | None = None) -> CaseBase:
        folder = Path(root or KB_DIR) / "cases"
        cases: list[Case] = []
        problems: list[str] = []
        for path in sorted(folder.glob("*.jsonl")):
            for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if not raw.strip():
                    continue
                where = f"cases/{path.name}:{number}"
                try:
                    row = json.loads(raw)
                    missing = [k for k in REQUIRED if not row.get(k)]
                    if missing:
                        problems.append(f"{where}: missing {', '.join(missing)}")
                        continue
                    cases.append(parse_case(row, path.name))
                except (ValueError, TypeError, KeyError) as exc:
                    problems.append(f"{where}: {exc}")
        cases.sort(key=lambda c: (c.cause, c.id))
        return cls(cases, problems)

    @cached_property
    def by_id(self) -> dict[str, Case]:
        return {c.id: c for c in self.cases}

    def fingerprint_text(self) -> str:
        return "\n".join(f"{c.id} {c.cause}" for c in self.cases)


def lint_cases(base: CaseBase, root: Path | str | None = None, held_out: Path | None = None) -> list[str]:
    """Schema, known causes, one record per thread, the file named after its cause, not held out for scoring."""
    problems = list(base.problems)
    causes = set(load_categories(Path(root) if root else None))
    seen: dict[str, str] = {}
    for case in base.cases:
        where = f"cases/{case.file} {case.url}"
        if case.cause not in causes:
            problems.append(f"{where}: unknown cause {case.cause!r}")
        if case.file and case.file.removesuffix(".jsonl") != case.cause:
            problems.append(f"{where}: cause {case.cause!r} is filed in {case.file}")
        if case.lang not in ("en", "zh"):
            problems.append(f"{where}: lang must be en or zh")
        if not case.symptom_en or not case.symptom_zh:
            problems.append(f"{where}: symptom needs both en and zh")
        if case.id in seen:
            problems.append(f"{where}: duplicate thread (also in cases/{seen[case.id]})")
        seen[case.id] = case.file
    if held_out is not None and held_out.exists():
        urls = "\n".join(c.url for c in base.cases)
        proc = subprocess.run([str(held_out), "-"], input=urls, capture_output=True, text=True, check=False)
        problems += [f"{url}: held out for scoring, remove it" for url in proc.stdout.split()]
    return problems
