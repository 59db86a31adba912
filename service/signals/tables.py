"""The knowledge tables the extractors read: kb/tables/*.yaml (GPUs, model families, packages, known lines).

GPUs, model families, packages and known warning lines are data: kb/tables/, one YAML file each, every entry with
the lines it must recognise (`examples`). Validated at load (the error names the file and the entry), read once.
The `signal` each package and known line sets must be declared by an extractor: checked against the registry once
it is complete (service/signals/__init__.py), and at every later load.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import re2
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from service import yamlio
from service.config import get_settings
from service.errors import KnowledgeBaseError
from service.signals import registry

_DEFAULT_TABLES = Path(__file__).resolve().parents[2] / "kb" / "tables"
_KB_DIR = get_settings().kb_dir  # as service.kb.KB_DIR (not imported: service.kb imports the vocabulary, built here)


def scoped(pattern: str) -> str:
    """`(?i)rest` -> `(?i:rest)`, so patterns with their own flags can share one alternation."""
    return f"(?i:{pattern[4:]})" if pattern.startswith("(?i)") else f"(?:{pattern})"


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid regex {value!r}: {exc}") from exc
    return value


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    examples: list[str] = Field(min_length=1)


class GpuEntry(_Entry):
    """kb/tables/gpus.yaml: one GPU; gpu.bf16 is derived (compute capability >= 8.0)."""

    name: str = Field(min_length=1)
    pattern: str = Field(min_length=1)
    compute_capability: float = Field(gt=0, lt=20)
    p2p_limited: bool

    @field_validator("pattern")
    @classmethod
    def _valid(cls, value: str) -> str:
        _regex(value)
        try:
            re2.compile(scoped(value))
        except Exception as exc:  # noqa: BLE001 - re2 raises its own error type
            raise ValueError(f"pattern {value!r} is not valid RE2: {exc}") from exc
        return value


class _PatternEntry(_Entry):
    """An entry whose `pattern` must compile."""

    pattern: str = Field(min_length=1)

    @field_validator("pattern")
    @classmethod
    def _valid(cls, value: str) -> str:
        return _regex(value)


class FamilyEntry(_PatternEntry):
    """kb/tables/model-families.yaml `families`: a regex over the lower-cased model name -> model.family."""

    family: str = Field(min_length=1)


class MarkerEntry(_PatternEntry):
    """kb/tables/model-families.yaml `moe_markers` / `multimodal_markers`: one alternative of the marker regex."""


class TemplateEntry(BaseModel):
    """kb/tables/model-families.yaml `templates`: a chat template and the families it belongs to."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    template: str = Field(min_length=1)
    families: list[str] = Field(min_length=1)


class PackageEntry(_Entry):
    """kb/tables/packages.yaml: a version signal and the package's spellings (a regex alternation)."""

    signal: str = Field(pattern=r"^version\.")
    names: str = Field(min_length=1)

    @field_validator("names")
    @classmethod
    def _valid(cls, value: str) -> str:
        return _regex(value)


class KnownLineEntry(_PatternEntry):
    """kb/tables/known-lines.yaml: a boolean warning.* signal and the line that sets it."""

    signal: str = Field(min_length=1)


class SignalTables(BaseModel):
    """The four files of kb/tables/, validated."""

    model_config = ConfigDict(frozen=True)
    gpus: list[GpuEntry]
    families: list[FamilyEntry]
    templates: list[TemplateEntry]
    generic_templates: list[str]
    moe_markers: list[MarkerEntry]
    multimodal_markers: list[MarkerEntry]
    packages: list[PackageEntry]
    known_lines: list[KnownLineEntry]


# file -> its sections and the model of one entry (None: a list of names)
TABLE_FILES: dict[str, dict[str, type[BaseModel] | None]] = {
    "gpus.yaml": {"gpus": GpuEntry},
    "model-families.yaml": {"families": FamilyEntry, "templates": TemplateEntry, "generic_templates": None,
                            "moe_markers": MarkerEntry, "multimodal_markers": MarkerEntry},
    "packages.yaml": {"packages": PackageEntry},
    "known-lines.yaml": {"known_lines": KnownLineEntry},
}


def _entry_label(raw: object, index: int) -> str:
    if isinstance(raw, dict):
        for key in ("name", "family", "template", "signal", "pattern"):
            if isinstance(raw.get(key), str):
                return f"entry {index} ({raw[key]!r})"
    return f"entry {index}"


def _read_table(path: Path, sections: dict[str, type[BaseModel] | None]) -> dict[str, list]:
    try:
        data = yamlio.load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise KnowledgeBaseError(f"{path}: cannot read the table: {exc}") from exc
    if not isinstance(data, dict) or set(data) != set(sections):
        found = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise KnowledgeBaseError(f"{path}: expected exactly the keys {sorted(sections)}, found {found}")
    result: dict[str, list] = {}
    for section, model in sections.items():
        items = data[section]
        if not isinstance(items, list) or not items:
            raise KnowledgeBaseError(f"{path}: {section}: expected a non-empty list")
        if model is None:
            if not all(isinstance(item, str) and item for item in items):
                raise KnowledgeBaseError(f"{path}: {section}: expected a list of names")
            result[section] = list(items)
            continue
        entries = []
        for index, raw in enumerate(items):
            try:
                entries.append(model.model_validate(raw))
            except ValidationError as exc:
                details = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'entry'}: {e['msg']}"
                                    for e in exc.errors())
                raise KnowledgeBaseError(f"{path}: {section} {_entry_label(raw, index)}: {details}") from None
        result[section] = entries
    return result


def _check_tables(root: Path, tables: dict[str, list]) -> None:
    """Checks across entries: unique names, known families, declared signals."""
    def fail(file: str, message: str) -> None:
        raise KnowledgeBaseError(f"{root / file}: {message}")

    seen_gpus: set[str] = set()
    for index, gpu in enumerate(tables["gpus"]):
        if gpu.name in seen_gpus:
            fail("gpus.yaml", f"gpus entry {index} ({gpu.name!r}): duplicate name")
        seen_gpus.add(gpu.name)
    families = {f.family for f in tables["families"]}
    seen_templates: set[str] = set()
    for index, entry in enumerate(tables["templates"]):
        if entry.template in seen_templates:
            fail("model-families.yaml", f"templates entry {index} ({entry.template!r}): duplicate template")
        seen_templates.add(entry.template)
        unknown = sorted(set(entry.families) - families)
        if unknown:
            fail("model-families.yaml", f"templates entry {index} ({entry.template!r}): unknown families "
                 f"{unknown} (name them under `families`)")
    for section, file in (("packages", "packages.yaml"), ("known_lines", "known-lines.yaml")):
        seen: set[str] = set()
        for index, entry in enumerate(tables[section]):
            if entry.signal in seen:
                fail(file, f"{section} entry {index} ({entry.signal!r}): duplicate signal")
            seen.add(entry.signal)


def check_table_signals(root: Path, tables: SignalTables) -> None:
    """Each package and known line names a signal its extractor declares (`versions` in
    service/signals/environment.py, `known_lines` in service/signals/errors.py). Needs the complete registry."""
    for section, file, provider in (("packages", "packages.yaml", "versions"),
                                    ("known_lines", "known-lines.yaml", "known_lines")):
        declared = registry.provided_by(provider)
        for index, entry in enumerate(getattr(tables, section)):
            if entry.signal not in declared:
                raise KnowledgeBaseError(
                    f"{root / file}: {section} entry {index} ({entry.signal!r}): not a signal declared by the "
                    f"extractor {provider} (service/signals/, see docs/signals.md)")


def default_root() -> Path:
    """kb/tables of the configured kb/; a kb/ copy without tables (tests) falls back to the repository's."""
    configured = _KB_DIR / "tables"
    return configured if configured.is_dir() else _DEFAULT_TABLES


@functools.lru_cache(maxsize=8)
def load_tables(root: Path | str | None = None) -> SignalTables:
    """kb/tables/*.yaml, validated; cached per directory. Raises KnowledgeBaseError naming the file and entry."""
    root = default_root() if root is None else Path(root)
    merged: dict[str, list] = {}
    for file, sections in TABLE_FILES.items():
        merged.update(_read_table(root / file, sections))
    _check_tables(root, merged)
    tables = SignalTables(**merged)
    if registry.is_sealed():
        check_table_signals(root, tables)
    return tables


def markers(entries: list[MarkerEntry]) -> re.Pattern[str]:
    return re.compile("(?i)(" + "|".join(e.pattern for e in entries) + ")")


TABLES = load_tables()
