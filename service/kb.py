"""The knowledge base: articles and groups loaded from kb/, validated by a schema and a catalogue lint.

An article is Markdown with YAML front matter (docs/kb-format.md). Loading is strict: unknown keys, a matcher with
two kinds of test, a regex RE2 cannot take, or a signal outside the vocabulary are errors, so a broken article
fails the lint instead of silently never matching.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import re2
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, model_validator

from service import yamlio
from service.config import get_settings
from service.errors import KnowledgeBaseError
from service.vocabulary import SIGNALS

KB_DIR = get_settings().kb_dir  # the default kb/ of this process (TUNEDOC_KB_DIR); Catalogue.load takes another
BODY_HEADINGS = ("## What it means", "## Why it happens", "## How to confirm", "## Fix", "## References")
OPTIONAL_HEADINGS = ("## When to ignore",)


class Bilingual(BaseModel):
    model_config = ConfigDict(extra="forbid")
    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)

    def pick(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


class NamedPattern(BaseModel):
    """A shared RE2 regex in kb/patterns.yaml, with the lines it must and must not match (tested by the lint)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")
    doc: str = Field(min_length=1)
    regex: str = Field(min_length=1)
    match: list[str] = Field(min_length=1)
    no_match: list[str] = Field(min_length=1)

    def problems(self) -> list[str]:
        """The examples this pattern gets wrong (searched like an input line), or why it does not compile."""
        try:
            compiled = re2.compile(self.regex)
        except re2.error as exc:
            return [f"pattern {self.name!r}: RE2 cannot compile it: {exc}"]
        found = [f"pattern {self.name!r}: should match {line!r}" for line in self.match if not compiled.search(line)]
        found += [f"pattern {self.name!r}: should not match {line!r}" for line in self.no_match
                  if compiled.search(line)]
        return found


def load_patterns(root: Path | str | None = None) -> dict[str, NamedPattern]:
    """kb/patterns.yaml: the named, shared regexes matchers refer to with `pattern: NAME`."""
    path = Path(root or KB_DIR) / "patterns.yaml"
    if not path.exists():
        return {}
    try:
        items = yamlio.load(path.read_text(encoding="utf-8")) or []
        patterns = [NamedPattern(**item) for item in items]
    except (ValidationError, yaml.YAMLError, TypeError) as exc:
        raise KnowledgeBaseError(f"{path}: {exc}") from exc
    by_name: dict[str, NamedPattern] = {}
    for item in patterns:
        if item.name in by_name:
            raise KnowledgeBaseError(f"{path}: pattern {item.name!r} is defined twice")
        by_name[item.name] = item
    return by_name


_COMPARATORS = ("equals", "in_", "gte", "gt", "lte", "lt", "version", "matches", "present")


class Matcher(BaseModel):
    """One test: a regex over the input lines, or a predicate over one signal."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")
    regex: str | None = None
    # The name of a shared regex in kb/patterns.yaml; resolved into `regex` at load, so the engine sees a regex.
    pattern: str | None = None
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
    # Excludes only. False: the evidence keeps the cause from being confirmed by its rules but does not rule it out
    # (it stays a candidate for fusion to rank, with `because` as its reason) — for evidence that speaks against
    # the cause without disproving it.
    final: bool = True

    @model_validator(mode="before")
    @classmethod
    def _resolve_pattern(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict) or data.get("pattern") is None:
            return data
        name = data["pattern"]
        if data.get("regex") is not None:
            raise ValueError(f"matcher {data.get('id')!r}: give `pattern` or `regex`, not both")
        patterns: dict[str, NamedPattern] = (info.context or {}).get("patterns") or {}
        if name not in patterns:
            raise ValueError(f"matcher {data.get('id')!r}: unknown pattern {name!r} (see kb/patterns.yaml)")
        return {**data, "regex": patterns[name].regex}

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
        if self.pattern is not None:
            return f"a line matches pattern `{self.pattern}` /{self.regex}/"
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
    # The one thing to paste that tells this cause from its neighbours, asked when retrieval proposes the cause and
    # no condition of its own is left to ask (an abstention must end in a question, not a dead end).
    ask: Bilingual | None = None
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
        not_excludes = [m.id for m in self.symptoms + self.conditions if not m.final]
        if not_excludes:
            raise ValueError(f"`final` is for excludes, not {not_excludes}")
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
    # Optional, see docs/kb-format.md: the article that must rank first, substrings of lines that must be quoted
    # as its evidence, and (trigger) a config block in `text` that, patched with the article's fix, must no
    # longer diagnose the article.
    expect: str | None = None
    evidence: list[str] = Field(default_factory=list)
    fixed: str | None = None
    article: str = ""


def split_front_matter(text: str, path: Path) -> tuple[dict[str, Any], str]:
    if not text.startswith("---"):
        raise KnowledgeBaseError(f"{path}: no YAML front matter (the file must start with ---)")
    try:
        _, front, body = text.split("---", 2)
    except ValueError as exc:
        raise KnowledgeBaseError(f"{path}: front matter is not closed by ---") from exc
    try:
        data = yamlio.load(front)
    except yaml.YAMLError as exc:
        raise KnowledgeBaseError(f"{path}: front matter is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise KnowledgeBaseError(f"{path}: front matter must be a mapping")
    return data, body.strip() + "\n"


def _pretty(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())


def load_article(path: Path, patterns: dict[str, NamedPattern] | None = None) -> Article:
    """One article; `pattern: NAME` matchers are resolved against `patterns` (default: the kb/ the file is in)."""
    data, body = split_front_matter(path.read_text(encoding="utf-8"), path)
    if patterns is None:
        patterns = load_patterns(_kb_root_of(path))
    try:
        return Article.model_validate({**data, "path": str(path), "body": body}, context={"patterns": patterns})
    except ValidationError as exc:
        raise KnowledgeBaseError(f"{path}: {_pretty(exc)}") from exc


def _kb_root_of(path: Path) -> Path:
    """The kb/ directory an article file belongs to: the nearest parent holding categories.yaml."""
    for parent in path.resolve().parents:
        if (parent / "categories.yaml").exists():
            return parent
    return path.resolve().parent


def load_fixtures(article_path: Path) -> list[Fixture]:
    path = article_path.with_name(article_path.name.removesuffix(".md") + ".fixtures.yaml")
    if not path.exists():
        return []
    try:
        items = yamlio.load(path.read_text(encoding="utf-8")) or []
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

    def __init__(self, articles: list[Article], groups: list[Group], fixtures: dict[str, list[Fixture]], root: Path,
                 patterns: dict[str, NamedPattern] | None = None) -> None:
        self.patterns = patterns or {}
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
        patterns = load_patterns(root)
        articles: list[Article] = []
        fixtures: dict[str, list[Fixture]] = {}
        for path in sorted(root.rglob("*.md")):
            if path.name.startswith("_") or path.name == "README.md":
                continue
            try:
                article = load_article(path, patterns)
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
                groups = [Group.model_validate(g, context={"patterns": patterns})
                          for g in yamlio.load(groups_path.read_text(encoding="utf-8")) or []]
            except (ValidationError, yaml.YAMLError, TypeError) as exc:
                raise KnowledgeBaseError(f"{groups_path}: {exc}") from exc
        return cls(articles, groups, fixtures, root, patterns)

    def members(self, group_id: str) -> list[Article]:
        return self._members.get(group_id, [])

    @cached_property
    def _members(self) -> dict[str, list[Article]]:
        """Group id -> its articles, in id order (looked up for every input: a scan of the KB each time would make
        rule cost grow with the size of the KB)."""
        members: dict[str, list[Article]] = {}
        for article in self.articles:
            for group_id in article.groups:
                members.setdefault(group_id, []).append(article)
        return members

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
    return list(yamlio.load(path.read_text(encoding="utf-8")))


def load_areas(root: Path | None = None) -> dict[str, str]:
    """kb/areas.yaml: the folders an article may live in, with what each covers."""
    path = Path(root or KB_DIR) / "areas.yaml"
    return dict(yamlio.load(path.read_text(encoding="utf-8")) or {}) if path.exists() else {}


def body_section(body: str, heading: str) -> str:
    """The text under `## heading` up to the next `## ` heading (empty when the heading is absent)."""
    match = re2.search(r"(?ms)^## " + re2.escape(heading) + r"\n(.*?)(^## |\z)", body)
    return match.group(1).strip() if match else ""


_GITHUB_THREAD = r"^https://github\.com/([\w.-]+/[\w.-]+)/(?:issues|pull|discussions)/(\d+)$"


def reference_label(url: str) -> str:
    """How the body's References section cites a front-matter reference: `owner/repo#N` for a GitHub thread."""
    match = re2.match(_GITHUB_THREAD, url)
    return f"{match.group(1)}#{match.group(2)}" if match else url


def lint_references(article: Article) -> list[str]:
    """The body's References section cites exactly the front-matter `references` (one source per fact)."""
    section = body_section(article.body, "References")
    cited = {f"{m[0]}#{m[1]}" for m in re2.findall(r"\b([\w.-]+/[\w.-]+)#(\d+)", section)}
    cited |= {u.rstrip(".,;:") for u in re2.findall(r"https://[^\s)>\]]+", section)}
    wanted = {reference_label(url) for url in article.references}
    problems = []
    if wanted - cited:
        problems.append(f"`references` not cited under ## References: {sorted(wanted - cited)}")
    if cited - wanted:
        problems.append(f"## References cites threads missing from `references`: {sorted(cited - wanted)}")
    return problems


def lint_confirm(article: Article) -> list[str]:
    """Each code span of `confirm.en` appears in the body's How to confirm section (one source per fact)."""
    section = body_section(article.body, "How to confirm")
    missing = [span for span in re2.findall(r"`([^`\n]+)`", article.confirm.en) if span not in section]
    if missing:
        return [f"`confirm.en` code spans missing from ## How to confirm: {sorted(set(missing))}"]
    return []


def lint(catalogue: Catalogue) -> list[str]:  # noqa: C901 - a flat list of independent checks
    """Rules that lint the rules. Returns the problems found (empty when the catalogue is clean)."""
    problems: list[str] = []
    categories = set(load_categories(catalogue.root))
    areas = load_areas(catalogue.root)
    retired_path = catalogue.root / "retired.yaml"
    retired = set(yamlio.load(retired_path.read_text()) or []) if retired_path.exists() else set()
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
        relative = Path(article.path).resolve().relative_to(catalogue.root.resolve())
        if len(relative.parts) != 2 or relative.parts[0] not in areas:
            problems.append(f"{where}: an article lives in kb/<area>/<id>.md with <area> one of {sorted(areas)} "
                            f"(kb/areas.yaml)")
        problems += [f"{where}: {problem}" for problem in lint_references(article)]
        problems += [f"{where}: {problem}" for problem in lint_confirm(article)]
        if article.category not in categories or article.category == "out-of-scope":
            problems.append(f"{where}: category {article.category!r} is not a taxonomy label")
        for group_name in article.groups:
            if group_name not in catalogue.groups:
                problems.append(f"{where}: unknown group {group_name!r}")
        for ref in article.references:
            if not ref.startswith("https://"):
                problems.append(f"{where}: reference is not an https URL: {ref}")
        positions = [article.body.find(h + "\n") for h in BODY_HEADINGS]
        missing = [h for h, pos in zip(BODY_HEADINGS, positions, strict=True) if pos < 0]
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
        for fixture in catalogue.fixtures.get(article.id, []):
            label = f"{where}: fixture {fixture.name!r}"
            if fixture.expect is not None and fixture.expect not in catalogue.by_id:
                problems.append(f"{label}: `expect` names no article: {fixture.expect!r}")
            if fixture.expect is not None and fixture.kind == "ok" and fixture.expect == article.id:
                problems.append(f"{label}: an `ok` fixture cannot expect its own article")
            if fixture.evidence and fixture.kind == "ok" and fixture.expect is None:
                problems.append(f"{label}: `evidence` on an `ok` fixture needs `expect` (whose evidence?)")
            if fixture.fixed is not None:
                if fixture.kind != "trigger":
                    problems.append(f"{label}: `fixed` goes on a `trigger` fixture")
                if not article.fix.patch:
                    problems.append(f"{label}: `fixed` needs the article to have a fix.patch")
                if fixture.fixed not in fixture.text:
                    problems.append(f"{label}: `fixed` must appear verbatim in `text`")
        kinds = {f.kind for f in catalogue.fixtures.get(article.id, [])}
        for needed in ("trigger", "ok"):
            if needed not in kinds:
                problems.append(f"{where}: no `{needed}` fixture")
    problems += lint_patterns(catalogue)
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


def all_matchers(catalogue: Catalogue) -> list[tuple[str, Matcher]]:
    """Every matcher of the catalogue with its owner: each article's, then each group's symptoms."""
    owners: list[tuple[str, Matcher]] = [(a.id, m) for a in catalogue.articles for m in a.matchers]
    owners += [(f"group {g.id}", m) for g in catalogue.groups.values() for m in g.symptoms]
    return owners


def signals_used(catalogue: Catalogue) -> set[str]:
    """The signals some matcher names (a signal no matcher uses is marked `internal` in service/signals/)."""
    return {m.signal for _, m in all_matchers(catalogue) if m.signal is not None}


def lint_patterns(catalogue: Catalogue) -> list[str]:
    """Named patterns pass their own examples and are used; no regex is written twice in kb/ (name it instead)."""
    problems: list[str] = []
    for pattern in catalogue.patterns.values():
        problems += pattern.problems()
    owners = all_matchers(catalogue)
    written: dict[str, list[str]] = {}
    used: set[str] = set()
    for owner, matcher in owners:
        if matcher.pattern is not None:
            used.add(matcher.pattern)
        elif matcher.regex is not None:
            written.setdefault(matcher.regex, []).append(f"{owner} (matcher {matcher.id})")
    by_regex = {p.regex: p.name for p in catalogue.patterns.values()}
    for regex, where in sorted(written.items()):
        if regex in by_regex:
            problems.append(f"{where[0]}: regex is the named pattern {by_regex[regex]!r}; write `pattern: "
                            f"{by_regex[regex]}` ({', '.join(where)})")
        elif len(where) > 1:
            problems.append(f"{where[0]}: the same regex is written {len(where)} times ({', '.join(where)}); "
                            f"name it in kb/patterns.yaml and use `pattern:`")
    for name in sorted(set(catalogue.patterns) - used):
        problems.append(f"pattern {name!r} (kb/patterns.yaml) is used by no matcher")
    return problems


_SCAFFOLD = '''---
id: {id}
category: {category}
title:
  en: "TODO: the symptom, then the cause ({id})"
  zh: "TODO：症状，然后是原因（{id}）"
summary:
  en: "TODO: the cause in two sentences at most."
  zh: "TODO：最多两句话说明原因。"
groups: []
symptoms:
  - id: error-line
    # TODO: the general error string of this cause (RE2); a regex used elsewhere goes in kb/patterns.yaml.
    regex: 'TODO-{id}: replace with the error line'
    weight: 1.0
conditions: []
excludes: []
confirm:
  en: "TODO: what would confirm it or rule it out."
  zh: "TODO：如何确认或排除。"
ask:
  en: "TODO: the one thing to paste that tells this cause from its neighbours."
  zh: "TODO：能把它与相近原因区分开的那一项信息。"
fix:
  steps:
    - en: "TODO: the first step."
      zh: "TODO：第一步。"
  no_patch: "TODO: give fix.patch when the fix is a setting, or say why it is not."
references:
  - https://github.com/OWNER/REPO/issues/1
---

## What it means

TODO

## Why it happens

TODO

## How to confirm

TODO

## Fix

TODO

## References

- OWNER/REPO#1: TODO what this thread shows.
'''

_SCAFFOLD_FIXTURES = '''# Your own words and log lines, never a user's report pasted (docs/kb-format.md, Fixtures).
- kind: trigger
  name: todo-trigger-example
  evidence: ["TODO-{id}: replace with the error line"]
  text: |
    TODO-{id}: replace with the error line
- kind: ok
  name: todo-near-miss
  text: |
    TODO: a near miss that must not diagnose {id}
'''


def scaffold_article(area: str, article_id: str, category: str | None = None,
                     root: Path | None = None) -> list[Path]:
    """Write kb/<area>/<id>.md and its fixtures from a template that passes the lint; returns the two paths."""
    root = Path(root or KB_DIR)
    areas = load_areas(root)
    if area not in areas:
        raise KnowledgeBaseError(f"unknown area {area!r}: one of {sorted(areas)} (kb/areas.yaml)")
    if not re2.fullmatch(r"[a-z0-9][a-z0-9\-]*", article_id):
        raise KnowledgeBaseError(f"id {article_id!r} must be kebab-case")
    categories = load_categories(root)
    category = category or (article_id if article_id in categories else None)
    if category is None or category not in categories or category == "out-of-scope":
        raise KnowledgeBaseError(f"give --category: {article_id!r} is not a taxonomy label (kb/categories.yaml)")
    if any(root.rglob(f"{article_id}.md")):
        raise KnowledgeBaseError(f"an article with id {article_id!r} already exists")
    article = root / area / f"{article_id}.md"
    fixtures = root / area / f"{article_id}.fixtures.yaml"
    article.parent.mkdir(parents=True, exist_ok=True)
    article.write_text(_SCAFFOLD.format(id=article_id, category=category), encoding="utf-8")
    fixtures.write_text(_SCAFFOLD_FIXTURES.format(id=article_id), encoding="utf-8")
    return [article, fixtures]
