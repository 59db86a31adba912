"""The knowledge base: articles and groups loaded from kb/, validated by a schema and a catalogue lint.

An article is Markdown with YAML front matter (docs/kb-format.md). Loading is strict: unknown keys, a matcher with
two kinds of test, a regex RE2 cannot take, or a signal outside the vocabulary are errors, so a broken article
fails the lint instead of silently never matching.
"""

from __future__ import annotations

import hashlib
import os
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import re2
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from service.errors import KnowledgeBaseError
from service.vocabulary import SIGNALS

KB_DIR = Path(os.environ.get("TUNEDOC_KB_DIR", Path(__file__).resolve().parent.parent / "kb"))
BODY_HEADINGS = ("## What it means", "## Why it happens", "## How to confirm", "## Fix", "## References")
OPTIONAL_HEADINGS = ("## When to ignore",)


class Bilingual(BaseModel):
    model_config = ConfigDict(extra="forbid")
    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)

    def pick(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


_COMPARATORS = ("equals", "in_", "gte", "gt", "lte", "lt", "version", "matches", "present")


class Matcher(BaseModel):
    """One test: a regex over the input lines, or a predicate over one signal."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")
    regex: str | None = None
    signal: str | None = None
    equals: Any = None
    in_: list[Any] | None = Field(default=None, alias="in")
    gte: float | None = None
    gt: float | None = None
    lte: float | None = None
    lt: float | None = None
    version: str | None = None
    matches: str | None = None
    present: bool | None = None
    weight: float = Field(default=1.0, ge=0, le=3)
    required: bool = False
    ask: Bilingual | None = None
    because: Bilingual | None = None

    @model_validator(mode="after")
    def _one_test(self) -> Matcher:
        if (self.regex is None) == (self.signal is None):
            raise ValueError(f"matcher {self.id!r}: give exactly one of `regex` or `signal`")
        used = [c for c in _COMPARATORS if getattr(self, c) is not None]
        if self.regex is not None and used:
            raise ValueError(f"matcher {self.id!r}: comparators go with `signal`, not `regex`")
        if len(used) > 1:
            raise ValueError(f"matcher {self.id!r}: at most one comparator, got {used}")
        if self.signal is not None and self.signal not in SIGNALS:
            raise ValueError(f"matcher {self.id!r}: unknown signal {self.signal!r} (see docs/signals.md)")
        for pattern in (self.regex, self.matches):
            if pattern is not None:
                try:
                    re2.compile(pattern)
                except re2.error as exc:
                    raise ValueError(f"matcher {self.id!r}: RE2 cannot compile {pattern!r}: {exc}") from exc
        if self.version is not None:
            from packaging.specifiers import InvalidSpecifier, SpecifierSet

            try:
                SpecifierSet(self.version)
            except InvalidSpecifier as exc:
                raise ValueError(f"matcher {self.id!r}: bad version spec {self.version!r}") from exc
        return self

    def describe(self) -> str:
        if self.regex is not None:
            return f"a line matches /{self.regex}/"
        for name in _COMPARATORS:
            value = getattr(self, name)
            if value is not None:
                op = {"in_": "in", "equals": "="}.get(name, name)
                return f"{self.signal} {op} {value}"
        return f"{self.signal} is true"


class FixStep(Bilingual):
    pass


class Fix(BaseModel):
    model_config = ConfigDict(extra="forbid")
    steps: list[FixStep] = Field(min_length=1)
    patch: dict[Literal["train-config", "deepspeed-config", "env"], dict[str, Any]] | None = None
    # Declared, not guessed: an article without a patch says why its fix is not a setting (the lint checks it).
    no_patch: str | None = None


class Article(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")
    category: str
    title: Bilingual
    summary: Bilingual
    groups: list[str] = Field(default_factory=list)
    symptoms: list[Matcher] = Field(min_length=1)
    conditions: list[Matcher] = Field(default_factory=list)
    excludes: list[Matcher] = Field(default_factory=list)
    confirm: Bilingual
    fix: Fix
    references: list[str] = Field(min_length=1)
    # Not front matter: filled by the loader.
    path: str = ""
    body: str = ""

    @model_validator(mode="after")
    def _unique_matcher_ids(self) -> Article:
        ids = [m.id for m in self.symptoms + self.conditions + self.excludes]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"matcher ids repeat within the article: {dupes}")
        return self

    @property
    def matchers(self) -> list[Matcher]:
        return self.symptoms + self.conditions + self.excludes


class Group(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    title: Bilingual
    symptoms: list[Matcher] = Field(min_length=1)
    # The most common cause in the threads, named (with low confidence) when no member's evidence decides.
    default: str | None = None


class Fixture(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["trigger", "ok", "todo-trigger", "todo-ok"]
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")
    text: str = Field(min_length=1)
    article: str = ""


def split_front_matter(text: str, path: Path) -> tuple[dict[str, Any], str]:
    if not text.startswith("---"):
        raise KnowledgeBaseError(f"{path}: no YAML front matter (the file must start with ---)")
    try:
        _, front, body = text.split("---", 2)
    except ValueError as exc:
        raise KnowledgeBaseError(f"{path}: front matter is not closed by ---") from exc
    try:
        data = yaml.safe_load(front)
    except yaml.YAMLError as exc:
        raise KnowledgeBaseError(f"{path}: front matter is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise KnowledgeBaseError(f"{path}: front matter must be a mapping")
    return data, body.strip() + "\n"


def _pretty(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())


def load_article(path: Path) -> Article:
    data, body = split_front_matter(path.read_text(encoding="utf-8"), path)
    try:
        return Article(**data, path=str(path), body=body)
    except ValidationError as exc:
        raise KnowledgeBaseError(f"{path}: {_pretty(exc)}") from exc


def load_fixtures(article_path: Path) -> list[Fixture]:
    path = article_path.with_name(article_path.name.removesuffix(".md") + ".fixtures.yaml")
    if not path.exists():
        return []
    try:
        items = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except yaml.YAMLError as exc:
        raise KnowledgeBaseError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(items, list):
        raise KnowledgeBaseError(f"{path}: must be a list of fixtures")
    article_id = article_path.name.removesuffix(".md")
    try:
        return [Fixture(**item, article=article_id) for item in items]
    except (ValidationError, TypeError) as exc:
        raise KnowledgeBaseError(f"{path}: {exc}") from exc


class Catalogue:
    """All articles, groups and fixtures of one kb/ directory."""

    def __init__(self, articles: list[Article], groups: list[Group], fixtures: dict[str, list[Fixture]], root: Path):
        self.articles = sorted(articles, key=lambda a: a.id)
        self.by_id = {a.id: a for a in self.articles}
        self.groups = {g.id: g for g in groups}
        self.fixtures = fixtures
        self.root = root

    @classmethod
    def load(cls, root: Path | str | None = None, *, errors: list[str] | None = None) -> Catalogue:
        """Load kb/. With `errors` given, a broken article is skipped and its problem appended there."""
        root = Path(root or KB_DIR)
        if not root.is_dir():
            raise KnowledgeBaseError(f"knowledge base directory not found: {root}")
        articles: list[Article] = []
        fixtures: dict[str, list[Fixture]] = {}
        for path in sorted(root.rglob("*.md")):
            if path.name.startswith("_") or path.name == "README.md":
                continue
            try:
                article = load_article(path)
                fixtures[article.id] = load_fixtures(path)
            except KnowledgeBaseError as exc:
                if errors is None:
                    raise
                errors.append(str(exc))
                continue
            articles.append(article)
        groups_path = root / "groups.yaml"
        groups: list[Group] = []
        if groups_path.exists():
            try:
                groups = [Group(**g) for g in yaml.safe_load(groups_path.read_text(encoding="utf-8")) or []]
            except (ValidationError, yaml.YAMLError, TypeError) as exc:
                raise KnowledgeBaseError(f"{groups_path}: {exc}") from exc
        return cls(articles, groups, fixtures, root)

    def members(self, group_id: str) -> list[Article]:
        return [a for a in self.articles if group_id in a.groups]

    @cached_property
    def fingerprint(self) -> str:
        """Hash of everything the engine reads from kb/: a changed article changes it."""
        digest = hashlib.sha256()
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and path.suffix in (".md", ".yaml", ".jsonl"):
                digest.update(str(path.relative_to(self.root)).encode())
                digest.update(path.read_bytes())
        return digest.hexdigest()[:16]


def load_categories(root: Path | None = None) -> list[str]:
    path = Path(root or KB_DIR) / "categories.yaml"
    return list(yaml.safe_load(path.read_text(encoding="utf-8")))


def lint(catalogue: Catalogue) -> list[str]:
    """Rules that lint the rules. Returns the problems found (empty when the catalogue is clean)."""
    problems: list[str] = []
    categories = set(load_categories(catalogue.root))
    retired_path = catalogue.root / "retired.yaml"
    retired = set(yaml.safe_load(retired_path.read_text()) or []) if retired_path.exists() else set()
    seen: set[str] = set()
    for article in catalogue.articles:
        where = f"{article.id} ({article.path})"
        if article.id in seen:
            problems.append(f"{where}: duplicate id")
        seen.add(article.id)
        if article.id in retired:
            problems.append(f"{where}: id was retired and must not be reused")
        if Path(article.path).name != f"{article.id}.md":
            problems.append(f"{where}: file name must be <id>.md")
        if article.category not in categories or article.category == "out-of-scope":
            problems.append(f"{where}: category {article.category!r} is not a taxonomy label")
        for group in article.groups:
            if group not in catalogue.groups:
                problems.append(f"{where}: unknown group {group!r}")
        for ref in article.references:
            if not ref.startswith("https://"):
                problems.append(f"{where}: reference is not an https URL: {ref}")
        positions = [article.body.find(h + "\n") for h in BODY_HEADINGS]
        missing = [h for h, pos in zip(BODY_HEADINGS, positions) if pos < 0]
        if missing:
            problems.append(f"{where}: body lacks headings {missing}")
        elif positions != sorted(positions):
            problems.append(f"{where}: body headings out of order (expected {list(BODY_HEADINGS)})")
        if (article.fix.patch is None) == (article.fix.no_patch is None):
            problems.append(f"{where}: give either fix.patch (the fix is a setting) or fix.no_patch (why it is not)")
        for matcher in article.conditions:
            if matcher.required and matcher.ask is None:
                problems.append(f"{where}: required condition {matcher.id!r} has no `ask`")
        for matcher in article.excludes:
            if matcher.because is None:
                problems.append(f"{where}: exclude {matcher.id!r} has no `because`")
        kinds = {f.kind for f in catalogue.fixtures.get(article.id, [])}
        for needed in ("trigger", "ok"):
            if needed not in kinds:
                problems.append(f"{where}: no `{needed}` fixture")
    covered = {a.category for a in catalogue.articles}
    for category in sorted(categories - covered - {"out-of-scope"}):
        problems.append(f"category {category!r} has no article")
    for group_id, group in catalogue.groups.items():
        members = [a.id for a in catalogue.members(group_id)]
        if not members:
            problems.append(f"group {group_id!r} has no member article")
        if group.default is not None and group.default not in members:
            problems.append(f"group {group_id!r}: default {group.default!r} is not a member")
    return problems
