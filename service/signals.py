"""Signals: typed facts derived from a parsed paste, each with the lines it came from.

The vocabulary (names, types, meaning) is `service/vocabulary.py`; this module computes them. Pure: same parse,
same signals. Where several lines disagree (a config and a later override), the last line wins, because pastes
usually show the effective config last.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import re2
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from service.errors import KnowledgeBaseError
from service.kb import KB_DIR
from service.models import Fact, Line, MetricRecord, Parsed, Signal
from service.text import detect_lang
from service.textindex import TextIndex
from service.vocabulary import SIGNALS

# ---------------------------------------------------------------- knowledge tables (kb/tables/*.yaml)
#
# GPUs, model families, packages and known warning lines are data: kb/tables/, one YAML file each, every entry with
# the lines it must recognise (`examples`). Validated at load (the error names the file and the entry), read once.

_DEFAULT_TABLES = Path(__file__).resolve().parent.parent / "kb" / "tables"


def _scoped(pattern: str) -> str:
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
            re2.compile(_scoped(value))
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
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
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
            if entry.signal not in SIGNALS:
                fail(file, f"{section} entry {index} ({entry.signal!r}): not a signal in service/vocabulary.py")
            if entry.signal in seen:
                fail(file, f"{section} entry {index} ({entry.signal!r}): duplicate signal")
            seen.add(entry.signal)


@functools.lru_cache(maxsize=8)
def load_tables(root: Path | str | None = None) -> SignalTables:
    """kb/tables/*.yaml, validated; cached per directory. Raises KnowledgeBaseError naming the file and entry."""
    if root is None:
        configured = KB_DIR / "tables"  # a kb/ copy without tables (tests) falls back to the repository's
        root = configured if configured.is_dir() else _DEFAULT_TABLES
    root = Path(root)
    merged: dict[str, list] = {}
    for file, sections in TABLE_FILES.items():
        merged.update(_read_table(root / file, sections))
    _check_tables(root, merged)
    return SignalTables(**merged)


def _markers(entries: list[MarkerEntry]) -> re.Pattern[str]:
    return re.compile("(?i)(" + "|".join(e.pattern for e in entries) + ")")


TABLES = load_tables()


class _Collector:
    def __init__(self, index: TextIndex) -> None:
        self.found: dict[str, Signal] = {}
        self.index = index

    def set(self, name: str, value: object, lines: Iterable[Line]) -> None:
        assert name in SIGNALS, name
        if value is None:
            return
        self.found[name] = Signal(name, value, tuple(lines))

    def setdefault(self, name: str, value: object, lines: Iterable[Line]) -> None:
        if name not in self.found:
            self.set(name, value, lines)


def _last(facts: list[Fact], *keys: str, sources: tuple[str, ...] = ()) -> Fact | None:
    chosen = None
    for fact in facts:
        if fact.key in keys and (not sources or fact.source in sources) and fact.value is not None:
            chosen = fact
    return chosen


def _first_match(index: TextIndex, pattern: re.Pattern[str]) -> tuple[re.Match[str], Line] | None:
    return index.first(pattern)


def _truthy(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    if isinstance(value, str):
        low = value.lower()
        if low in ("auto",):
            return None
        return low not in ("", "0", "false", "no", "none", "off")
    return None


# ---------------------------------------------------------------- metrics


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def _metric_signals(records: list[MetricRecord], out: _Collector) -> None:  # noqa: C901 - one pass over the metric records, one branch per derived fact
    if not records:
        return
    all_lines = [r.line for r in records]
    out.set("metrics.records", len(records), all_lines[:1])
    losses = [r.values.get("loss") for r in records]

    zero = [r.line for r in records if r.values.get("loss") == 0.0]
    if zero:
        out.set("metrics.loss_zero", True, zero[:5])
        streak = best = 0
        for loss in losses:
            streak = streak + 1 if loss == 0.0 else 0
            best = max(best, streak)
        out.set("metrics.loss_zero_streak", best, zero[:5])
    loss_nan = [r.line for r in records if "loss" in r.values and not _finite(r.values["loss"])]
    if loss_nan:
        out.set("metrics.loss_nan", True, loss_nan[:5])
    norm_nan = [r.line for r in records if "grad_norm" in r.values and not _finite(r.values["grad_norm"])]
    if norm_nan:
        out.set("metrics.grad_norm_nan", True, norm_nan[:5])
    norm_zero = [r.line for r in records if r.values.get("grad_norm") == 0.0]
    if norm_zero:
        out.set("metrics.grad_norm_zero", True, norm_zero[:5])

    def healthy(r: MetricRecord) -> bool:
        loss, norm = r.values.get("loss"), r.values.get("grad_norm")
        return _finite(loss) and loss != 0.0 and (norm is None or (_finite(norm) and norm != 0.0))

    first_nan = next(
        (i for i, r in enumerate(records)
         if not _finite(r.values.get("loss", 0.0)) or not _finite(r.values.get("grad_norm", 0.0))),
        None,
    )
    if first_nan is not None:
        line = records[first_nan].line
        out.set("metrics.first_nan_record", first_nan + 1, [line])
        healthy_before = sum(1 for r in records[:first_nan] if healthy(r))
        if healthy_before == 0:
            out.set("metrics.nan_from_start", True, [line])
        if healthy_before >= 3:
            out.set("metrics.nan_after_healthy", True, [line])
    lr_zero_nan = [
        r.line for r in records if r.values.get("learning_rate") == 0.0 and not _finite(r.values.get("grad_norm", 0.0))
    ]
    if lr_zero_nan:
        out.set("metrics.nan_at_lr_zero", True, lr_zero_nan[:3])

    if all(healthy(r) for r in records) and any("grad_norm" in r.values for r in records):
        out.set("metrics.healthy", True, all_lines[:1])

    finite = [(r, r.values["loss"]) for r in records if _finite(r.values.get("loss")) and r.values["loss"] > 0]
    if finite:
        out.set("metrics.initial_loss", finite[0][1], [finite[0][0].line])
        out.set("metrics.last_loss", finite[-1][1], [finite[-1][0].line])
    if len(finite) >= 4:
        low_index = min(range(len(finite)), key=lambda i: finite[i][1])
        low = finite[low_index][1]
        fell = finite[0][1] >= low * 1.2 and low_index > 0
        later = [(r, v) for r, v in finite[low_index + 1:] if v >= 2 * low]
        if fell and later:
            out.set("metrics.diverged", True, [finite[low_index][0].line, later[0][0].line])


_GA_LOSS = re.compile(
    r"(?i)(?:gradient[_ ]accumulation(?:[_ ]steps)?|grad_accum\w*|\bGA\b|\bgas\b)[ \t]*(?:=|:|of|is)?[ \t]*(\d+)"
    r"[^\n]{0,80}?\bloss\b[^\d\n]{0,20}?(\d+(?:\.\d+)?)"
)


_GA_HEADER = re.compile(r"(?i)(gradient[_ ]?acc|grad[_ ]?acc|accumulation|^\s*ga\s*$|^\s*gas\s*$)")
_LOSS_HEADER = re.compile(r"(?i)loss")


def _table_pairs(lines: list[Line]) -> list[tuple[int, float, Line]]:
    """GA/loss pairs from a Markdown table whose header names a gradient-accumulation and a loss column."""
    pairs: list[tuple[int, float, Line]] = []
    ga_col = loss_col = None
    for line in lines:
        text = line.text.strip()
        if not (text.startswith("|") and text.count("|") >= 3):
            ga_col = loss_col = None
            continue
        cells = [c.strip() for c in text.strip("|").split("|")]
        if ga_col is None:
            ga_col = next((i for i, c in enumerate(cells) if _GA_HEADER.search(c)), None)
            loss_col = next((i for i, c in enumerate(cells) if _LOSS_HEADER.search(c)), None)
            if ga_col is None or loss_col is None:
                ga_col = loss_col = None
            continue
        if ga_col is None or loss_col is None:
            continue
        try:
            pairs.append((int(cells[ga_col]), float(cells[loss_col]), line))
        except (ValueError, IndexError):
            continue
    return pairs


def _ga_scaling(lines: list[Line], out: _Collector) -> None:  # noqa: C901
    pairs: list[tuple[int, float, Line]] = _table_pairs(lines) if "|" in out.index.text else []
    for match, line in out.index.finditer(_GA_LOSS):
        ga, loss = match.group(1), match.group(2)
        if int(ga) > 0:
            pairs.append((int(ga), float(loss), line))
    by_ga: dict[int, tuple[float, Line]] = {}
    for ga, loss, line in pairs:
        by_ga.setdefault(ga, (loss, line))
    if len(by_ga) < 2:
        return
    items = sorted(by_ga.items())
    (ga0, (loss0, _)), (ga1, (loss1, _)) = items[0], items[-1]
    if ga1 / ga0 >= 2 and loss0 > 0:
        ratio = (loss1 / loss0) / (ga1 / ga0)
        if 0.5 <= ratio <= 2.0:
            out.set("metrics.loss_scales_with_ga", True, [line for _, (_, line) in items])


# ---------------------------------------------------------------- precision, DeepSpeed, attention


_PROSE_PRECISION = re.compile(r"(?i)(?<![\w-])(bf16|fp16|bfloat16|float16|fp32|float32)(?![\w-])")
_PRECISION_WORDS = {"bf16": "bf16", "bfloat16": "bf16", "fp16": "fp16", "float16": "fp16", "fp32": "fp32",
                    "float32": "fp32"}
_TRAINING_PRECISION = re.compile(
    r"(?i)(?:train\w*|fine-?tun\w*|finetun\w*|训练|微调)\s*(?:in|with|using|under|使用|用)?\s*(bf16|fp16|bfloat16|float16|fp32)\b|"
    r"(?:using|use|uses|with)\s+(bf16|fp16|bfloat16|float16|fp32)\s+(?:for\s+)?(?:training|computation|precision|mixed)|"
    r"(bf16|fp16|bfloat16|float16|fp32)\s*(?:mixed[- ]precision\s+)?(?:training|训练|精度训练|微调)"
)
_PROSE_ADVICE = re.compile(r"(?i)(warn|recommend|instead|switch|chang|改|换|而不是|support)")


def _precision(parsed: Parsed, out: _Collector) -> None:  # noqa: C901 - one branch per place a precision setting can be written
    facts = parsed.facts
    candidates: list[tuple[str, Line]] = []
    for fact in facts:
        key, value = fact.key, fact.value
        if fact.path.endswith("bf16.enabled") or fact.path.endswith("fp16.enabled"):
            if _truthy(value):
                candidates.append(("bf16" if "bf16" in fact.path else "fp16", fact.line))
            continue
        if key in ("bf16", "fp16", "pure_bf16") and _truthy(value):
            candidates.append(("bf16" if "bf16" in key else "fp16", fact.line))
        elif key in ("mixed_precision", "precision", "mixed-precision") and value is False:
            candidates.append(("fp32", fact.line))  # `mixed_precision: no` reads as a YAML boolean
        elif key in ("mixed_precision", "precision", "mixed-precision") and isinstance(value, str):
            low = value.lower()
            if low in ("bf16", "fp16"):
                candidates.append((low, fact.line))
            elif low in ("no", "fp32", "32"):
                candidates.append(("fp32", fact.line))
    if not candidates:
        # LLaMA-Factory prints the compute dtype at start-up.
        hit = _first_match(out.index, re.compile(r"compute dtype: torch\.(bfloat16|float16|float32)"))
        if hit:
            candidates.append(({"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}[hit[0].group(1)], hit[1]))
    if not candidates:
        # Prose ("8x A800, bf16 training"): only when exactly one precision is named, never in a library warning.
        # Prose that names the precision sits at the top of a report: look at the first 200 prose lines only.
        prose = [line for seg in parsed.segments if seg.kind == "prose" or seg.lines[0] is parsed.lines[0]
                 for line in seg.lines][:200]
        for pattern in (_TRAINING_PRECISION, _PROSE_PRECISION):  # "train in bf16" beats a bare mention
            named: dict[str, Line] = {}
            for line in prose:
                if pattern is _PROSE_PRECISION and _PROSE_ADVICE.search(line.text):
                    continue
                for match in pattern.finditer(line.text):
                    word = next(g for g in match.groups() if g) if match.groups() else match.group(0)
                    named.setdefault(_PRECISION_WORDS[word.lower()], line)
            if len(named) == 1:
                candidates.extend(named.items())
                break
            if named:
                break
    if not candidates:
        explicit_off = [f for f in facts if f.key in ("bf16", "fp16") and _truthy(f.value) is False]
        if {f.key for f in explicit_off} == {"bf16", "fp16"}:
            candidates.append(("fp32", explicit_off[-1].line))
    if candidates:
        value, line = candidates[-1]
        out.set("precision", value, [line for v, line in candidates if v == value][-3:])
    tf32 = _last(facts, "tf32")
    if tf32 is not None and _truthy(tf32.value) is not None:
        out.set("tf32", _truthy(tf32.value), [tf32.line])
    dtype = _last(facts, "torch_dtype", "dtype", "compute_dtype", "bnb_4bit_compute_dtype")
    if dtype is not None and isinstance(dtype.value, str):
        found = re.search(r"(bfloat16|float16|float32|bf16|fp16|fp32|half)", dtype.value.lower())
        if found:
            name = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32", "half": "float16"}.get(
                found.group(1), found.group(1)
            )
            out.set("model.dtype", name, [dtype.line])
    else:
        hit = _first_match(out.index, re.compile(r"torch_dtype\s*=\s*torch\.(float16|bfloat16|float32)"))
        if hit:
            out.set("model.dtype", hit[0].group(1), [hit[1]])


_DS_FILE_STAGE = re.compile(r"(?i)(?:ds_?z|zero_?|zero-|stage_?|z)([0-3])(?:[_\-.]|config|offload|$)")
_DS_PROSE_STAGE = re.compile(
    r"(?i)\b(?:zero|deepspeed)[\s\-_]?(?:stage[\s\-_]?)?([123])\b|\bds_z([0-3])\b|ZeRO[- ]?([123])\b|\bstage[\s\-_]?(["
        r"23])\b"
)


def _deepspeed(parsed: Parsed, out: _Collector) -> None:
    facts = parsed.facts
    config = _last(facts, "deepspeed", "deepspeed_config", "deepspeed_config_file")
    lines_with_ds = [line for line in parsed.lines if "deepspeed" in line.text.lower()]
    if config is not None and config.value not in (False, None, "", "null"):
        out.set("deepspeed.enabled", True, [config.line])
    elif lines_with_ds:
        out.set("deepspeed.enabled", True, lines_with_ds[:1])
    stage = _last(facts, "stage", "zero_stage")
    if stage is not None and stage.source == "json" and "zero_optimization" not in stage.path:
        stage = None
    if stage is not None and stage.key == "stage" and stage.source not in ("json",):
        stage = None  # LLaMA-Factory's `stage: sft` is the training stage, not ZeRO
    if stage is not None and isinstance(stage.value, int) and 0 <= stage.value <= 3:
        out.set("deepspeed.stage", stage.value, [stage.line])
    elif config is not None and isinstance(config.value, str):
        match = _DS_FILE_STAGE.search(config.value.rsplit("/", 1)[-1])
        if match:
            out.set("deepspeed.stage", int(match.group(1)), [config.line])
    if "deepspeed.stage" not in out.found:
        hit = _first_match(out.index, _DS_PROSE_STAGE)
        if hit:
            value = next(g for g in hit[0].groups() if g)
            out.set("deepspeed.stage", int(value), [hit[1]])
    overlap = _last(facts, "overlap_comm")
    if overlap is not None and _truthy(overlap.value) is not None:
        out.set("deepspeed.overlap_comm", _truthy(overlap.value), [overlap.line])
    offload = [
        f for f in facts
        if (f.path.endswith("offload_optimizer.device") or f.path.endswith("offload_param.device")
            or f.key in ("offload_optimizer_device", "offload_param_device"))
        and isinstance(f.value, str) and f.value.lower() in ("cpu", "nvme")
    ]
    if offload:
        out.set("deepspeed.offload", True, [offload[-1].line])


def _attention(parsed: Parsed, out: _Collector) -> None:
    fact = _last(parsed.facts, "attn_implementation", "flash_attn", "attn_impl", "use_flash_attn",
                 "use_flash_attention_2")
    if fact is None:
        return
    value = fact.value
    if fact.key in ("use_flash_attn", "use_flash_attention_2"):
        truth = _truthy(value)
        impl = None if truth is None else ("fa2" if truth else "eager")
    elif isinstance(value, bool):
        impl = "fa2" if value else "disabled"
    else:
        low = str(value).lower()
        impl = {"flash_attention_2": "fa2", "flash_attention_3": "fa2", "fa2": "fa2", "sdpa": "sdpa", "eager": "eager",
                "auto": "auto", "disabled": "disabled", "none": "disabled"}.get(low)
    if impl:
        out.set("attn.impl", impl, [fact.line])


# ---------------------------------------------------------------- model, template, training arguments

# Ordered (first match wins), from kb/tables/model-families.yaml.
_FAMILIES: list[tuple[str, str]] = [(e.pattern, e.family) for e in TABLES.families]
_INSTRUCT = re.compile(r"(?i)(instruct|chat|-it\b|_it\b|sft|rlhf|dpo|assistant|-hf-chat|coder-.*-instruct|vl-.*-instru"
    r"ct)")
_BASE_EXPLICIT = re.compile(r"(?i)(-base\b|_base\b|\bbase\b)")
_MOE = _markers(TABLES.moe_markers)
_MULTIMODAL = _markers(TABLES.multimodal_markers)
_MODEL_KEYS = ("model_name_or_path", "pretrained_model_name_or_path", "base_model", "model_name", "model_id",
               "pretrain", "model_path", "model")
_FROM_PRETRAINED = re.compile(r"from_pretrained\(\s*['\"]([^'\"]+)['\"]")
_HUB_NAME = re.compile(
    r"(?i)\b((?:qwen|meta-llama|mistralai|google|thudm|zai-org|baichuan-inc|internlm|01-ai|deepseek-ai|microsoft|"
    r"openbmb|llava-hf|liuhaotian|tinyllama|huggingfaceh4|lmsys)/[\w.\-]+)"
)


_PROSE_MODEL = re.compile(
    # (?<![A-Za-z0-9]) rather than \b: in Python, CJK characters are word characters ("对qwen-14b做pt").
    r"(?i)(?<![A-Za-z0-9])((?:qwen|llama|meta-llama|mixtral|mistral|gemma|chatglm|glm|baichuan|internlm|yi|deepseek|phi|minicpm|"
    r"llava|internvl|tinyllama)[A-Za-z0-9_.\-]*?[-_ ]?\d+(?:\.\d+)?(?:x\d+)?[bm](?:[A-Za-z0-9_.\-]*)?)(?![A-Za-z0-9])"
)


def model_family(name: str) -> str | None:
    base = name.rstrip("/").rsplit("/", 1)[-1] if "/" in name.rstrip("/") else name
    for text in (base, name):
        low = text.lower()
        for pattern, family in _FAMILIES:
            if re.search(pattern, low):
                return family
    return None


def _model(parsed: Parsed, out: _Collector) -> None:
    fact = _last(parsed.facts, *_MODEL_KEYS)
    name, line = None, None
    if fact is not None and isinstance(fact.value, str) and len(fact.value) > 1:
        name, line = fact.value, fact.line
    else:
        hit = _first_match(out.index, _FROM_PRETRAINED) or _first_match(out.index, _HUB_NAME)
        if hit:
            name, line = hit[0].group(1), hit[1]
    from_prose = False
    if name is None:
        hit = _first_match(out.index, _PROSE_MODEL)
        if hit:
            name, line, from_prose = hit[0].group(1), hit[1], True
    if name is None or line is None:
        return
    out.set("model.name", name, [line])
    # The last path component names the checkpoint; snapshot hashes and `checkpoint-500` folders do not.
    parts = [p for p in name.replace("\\", "/").split("/") if p]
    label = next((p for p in reversed(parts) if model_family(p)), parts[-1] if parts else name)
    family = model_family(label) or model_family(name)
    if family:
        out.set("model.family", family, [line])
    # Prose often drops the -Instruct suffix ("fine-tuning Qwen2.5-14B"), so only a named config says "base".
    if (family or _BASE_EXPLICIT.search(label)) and (not from_prose or _BASE_EXPLICIT.search(label)):
        is_base = bool(_BASE_EXPLICIT.search(label)) or not _INSTRUCT.search(label)
        out.set("model.is_base", is_base, [line])
    # Known family: absence of the marker is evidence (a text-only, dense model); unknown names say nothing.
    if _MOE.search(name) or family:
        out.set("model.is_moe", bool(_MOE.search(name)), [line])
    if _MULTIMODAL.search(name) or family:
        out.set("model.is_multimodal", bool(_MULTIMODAL.search(name)), [line])


# template name -> model families it belongs to; generic templates fit base models only
# (kb/tables/model-families.yaml)
_TEMPLATE_FAMILIES: dict[str, set[str]] = {e.template: set(e.families) for e in TABLES.templates}
_GENERIC_TEMPLATES = set(TABLES.generic_templates)

def _template(parsed: Parsed, out: _Collector) -> None:
    fact = _last(parsed.facts, "template", "chat_template_name", "conv_template", "chat_template")
    # A tokenizer_config's chat_template is a Jinja string, not a template name.
    if fact is None or not isinstance(fact.value, str) or len(fact.value) > 40 or "{" in fact.value:
        return
    template = re.sub(r"^(llama|gemma|phi|qwen)-(\d)", r"\1\2", fact.value.lower())
    out.set("template", template, [fact.line])
    family = out.found.get("model.family")
    is_base = out.found.get("model.is_base")
    if family is None:
        return
    lines = [fact.line, *family.lines]
    if template in _GENERIC_TEMPLATES:
        if is_base is not None:
            out.set("template.matches_model", bool(is_base.value), lines)
    elif template in _TEMPLATE_FAMILIES:
        out.set("template.matches_model", family.value in _TEMPLATE_FAMILIES[template], lines)


def _number(fact: Fact | None) -> float | None:
    if fact is None:
        return None
    if isinstance(fact.value, bool):
        return None
    if isinstance(fact.value, (int, float)):
        return float(fact.value)
    return None


def _training_args(parsed: Parsed, out: _Collector) -> None:  # noqa: C901 - one branch per TrainingArguments field read
    facts = parsed.facts

    def number_signal(name: str, keys: tuple[str, ...], cast: Callable[[float], object]) -> None:
        fact = _last(facts, *keys)
        value = _number(fact)
        if fact is not None and value is not None:
            out.set(name, cast(value), [fact.line])

    number_signal("cutoff_len", ("cutoff_len", "max_seq_length", "model_max_length", "max_seq_len", "sequence_len",
                                 "max_length", "max_source_length"), int)
    number_signal("learning_rate", ("learning_rate", "lr"), float)
    number_signal("batch_size", ("per_device_train_batch_size", "train_batch_size", "micro_batch_size",
                                 "train_micro_batch_size_per_gpu", "batch_size"), int)
    number_signal("grad_accum", ("gradient_accumulation_steps", "gradient_accumulation"), int)
    number_signal("max_grad_norm", ("max_grad_norm", "gradient_clipping"), float)
    number_signal("eval.batch_size", ("per_device_eval_batch_size", "eval_batch_size"), int)
    number_signal("lora.rank", ("lora_rank", "lora_r"), int)

    for name, keys in (("save_only_model", ("save_only_model",)),
                       ("gradient_checkpointing", ("gradient_checkpointing",))):
        fact = _last(facts, *keys)
        if fact is not None and _truthy(fact.value) is not None:
            out.set(name, _truthy(fact.value), [fact.line])

    fact = _last(facts, "finetuning_type", "finetune_type", "train_type", "tuner_backend")
    if fact is not None and isinstance(fact.value, str) and fact.value.lower() in ("lora", "qlora", "full", "freeze"):
        out.set("finetuning_type", fact.value.lower(), [fact.line])
    else:
        peft = _first_match(out.index, re.compile(r"LoraConfig\(|get_peft_model\(|\blora_target\b|target_modules"))
        if peft:
            out.set("finetuning_type", "lora", [peft[1]])

    fact = _last(facts, "lora_target", "target_modules", "lora_target_modules")
    if fact is not None and fact.value is not None:
        out.set("lora.target", str(fact.value), [fact.line])

    quant = _last(facts, "quantization_bit", "load_in_4bit", "load_in_8bit", "bits")
    if quant is not None:
        if quant.key == "quantization_bit" or quant.key == "bits":
            if quant.value in (4, 8):
                out.set("quantization", f"{quant.value}bit", [quant.line])
        elif _truthy(quant.value):
            out.set("quantization", "4bit" if "4" in quant.key else "8bit", [quant.line])

    fact = _last(facts, "low_cpu_mem_usage")
    if fact is not None and _truthy(fact.value) is not None:
        out.set("low_cpu_mem_usage", _truthy(fact.value), [fact.line])

    fact = _last(facts, "device_map")
    if fact is not None and fact.value is not None:
        out.set("device_map", str(fact.value), [fact.line])

    evals = [f for f in facts if f.key in ("do_eval", "do_predict", "predict_with_generate") and _truthy(f.value)]
    strategy = _last(facts, "eval_strategy", "evaluation_strategy")
    if strategy is not None and isinstance(strategy.value, str) and strategy.value.lower() in ("steps", "epoch"):
        evals.append(strategy)
    if evals:
        out.set("eval.enabled", True, [evals[-1].line])

    fact = _last(facts, "dataset", "dataset_name", "datasets")
    if fact is not None and isinstance(fact.value, str):
        out.set("dataset", fact.value, [fact.line])


# ---------------------------------------------------------------- launch and hardware

_LAUNCH = re.compile(
    r"(?m)^[ \t]*(?:\$[ \t]*)?(?:(?:export\s+)?[A-Z_][A-Z0-9_]*=\S*\s+)*(?:nohup\s+)?"
    r"(python3?(?:\s+-m\s+(torch\.distributed\.(?:run|launch)))?|torchrun|accelerate\s+launch|deepspeed|"
    r"llamafactory-cli|swift|axolotl)\b"
)
_VISIBLE = re.compile(r"CUDA_VISIBLE_DEVICES\s*=\s*['\"]?([0-9](?:\s*,\s*[0-9]+)*)")


def _launch(parsed: Parsed, out: _Collector) -> None:
    launches: list[tuple[str, Line]] = []
    for match, line in out.index.finditer(_LAUNCH):
        word = match.group(1)
        if match.group(2) or word.startswith("torchrun"):
            launches.append(("torchrun", line))
        elif word.startswith("python"):
            launches.append(("python", line))
        elif word.startswith("accelerate"):
            launches.append(("accelerate", line))
        else:
            launches.append((word.split()[0], line))
    if launches:
        kind, line = launches[-1]
        out.set("launcher", kind, [line])
    visible = _first_match(out.index, _VISIBLE)
    if visible:
        count = len([d for d in visible[0].group(1).split(",") if d.strip()])
        out.set("gpus.visible", count, [visible[1]])


# canonical name, pattern, compute capability, p2p-limited (kb/tables/gpus.yaml)
_GPUS: list[tuple[str, str, float, bool]] = [
    (e.name, e.pattern, e.compute_capability, e.p2p_limited) for e in TABLES.gpus
]
_GPU_PATTERNS = [(name, re.compile(pattern), cc, p2p) for name, pattern, cc, p2p in _GPUS]
_GPU_COUNT = [
    re.compile(r"(?i)GPU number\s*:\s*(\d+)"),
    re.compile(r"(?i)\b(\d+)\s*[x×*]\s*(?:NVIDIA\s+)?(?:Tesla\s+)?(?:GeForce\s+)?(?:RTX\s*)?[A-Z]?\d{2,4}\b"),
    re.compile(r"(?<!\d)(\d+)\s*(?:卡|张卡|块卡|张|块)"),  # (?<!\d): no restart inside a digit run
    re.compile(r"(?i)--nproc_per_node[= ](\d+)"),
    re.compile(r"(?i)num_processes\s*[:=]\s*(\d+)"),
    re.compile(r"(?i)--num_gpus[= ](\d+)"),
    re.compile(r"(?i)\b(\d+)\s*GPUs\b"),
    re.compile(r"(?i)(?<![\w.])(\d{1,2})\s*(?:x\s*)?(?:NVIDIA\s+)?(?:Tesla\s+)?(?:GeForce\s+)?(?:RTX\s*)?"
               r"(?:A100|A800|H100|H800|H20|V100|A6000|A40|L40S?|4090|3090)\b"),
]


# RE2: a 35-way alternation is a DFA there, but backtracks at every position in `re` (0.01 s vs 5.6 s on 4 MB).
_ANY_GPU = re2.compile("|".join(f"(?P<g{i}>{_scoped(p)})" for i, (_, p, _, _) in enumerate(_GPUS)))


_SMI_ROW = re.compile(r"(?m)^\|[ \t]+\d+[ \t]+(NVIDIA|Tesla|GeForce|Quadro)")


def _hardware(parsed: Parsed, out: _Collector) -> None:
    hit = out.index.first(_ANY_GPU)
    if hit:
        match, line = hit
        name, _, cc, p2p = _GPUS[int((match.lastgroup or "g0")[1:])]
        out.set("gpu.model", name, [line])
        out.set("gpu.compute_capability", cc, [line])
        out.set("gpu.bf16", cc >= 8.0, [line])
        out.set("gpu.p2p_limited", p2p, [line])
    for pattern in _GPU_COUNT:
        hit = _first_match(out.index, pattern)
        if hit and 0 < int(hit[0].group(1)) <= 1024:
            out.set("gpu.count", int(hit[0].group(1)), [hit[1]])
            break
    else:
        smi_rows = [line for _, line in out.index.finditer(_SMI_ROW)]
        if smi_rows:
            out.set("gpu.count", len(smi_rows), smi_rows[:1])


# ---------------------------------------------------------------- versions

# version signal -> the package's spellings (kb/tables/packages.yaml)
_PACKAGES: dict[str, str] = {e.signal: e.names for e in TABLES.packages}
_VERSION_VALUE = r"v?(\d+\.\d+(?:\.\d+)?(?:(?:\.|-)?(?:dev|post|rc|a|b)\d*)?(?:\+[\w.]+)?)"


def _version_patterns(names: str) -> re.Pattern[str]:
    return re.compile(
        rf"(?i)(?<![\w\-/.])`?(?:{names})`?[ \t]*(?:version[ \t]*)?(?:[:=]=?|==|>=|[ \t])[ \t]*{_VERSION_VALUE}(?![\w])"
    )


_VERSION_RES = {name: _version_patterns(pattern) for name, pattern in _PACKAGES.items()}
_CUDA_VERSION = re.compile(r"(?i)(?:CUDA Version:\s*|cuda compilation tools, release\s*|\+cu|cuda\s*==?\s*|CUDA\s+)(\d"
    r"{2,3}(?:\.\d)?)")


def _versions(parsed: Parsed, out: _Collector) -> None:
    for name, pattern in _VERSION_RES.items():
        hit = out.index.first(pattern)
        if hit:
            out.set(name, hit[0].group(1), [hit[1]])
    hit = _first_match(out.index, _CUDA_VERSION)
    if hit:
        raw = hit[0].group(1)
        if "." not in raw and len(raw) >= 3:  # +cu124 -> 12.4
            raw = f"{raw[:-1]}.{raw[-1]}"
        out.set("version.cuda", raw, [hit[1]])


# ---------------------------------------------------------------- exceptions and known lines

_EXCEPTION = re.compile(
    r"(?m)^[ \t]*(?:\[rank\d+\]:[ \t]*)?((?:[A-Za-z_][\w]*\.)*[A-Z]\w*(?:Error|Exception|Interrupt|Exit))(?::[ \t]*(.*"
        r"))?$"
)
_ERROR_HINT = re.compile(r"(?i)(Traceback \(most recent call last\)|\berror\b|exception|failed|killed|报错|错误)")

# signal -> pattern of a known warning line (kb/tables/known-lines.yaml)
KNOWN_LINES: dict[str, str] = {e.signal: e.pattern for e in TABLES.known_lines}
_KNOWN_RES = {name: re.compile(pattern) for name, pattern in KNOWN_LINES.items()}


_SIZE_MISMATCH = re.compile(
    r"size mismatch for ([\w.]+):.*?shape torch\.Size\(\[([\d,\s]*)\]\).*?"
    r"shape in current model is torch\.Size\(\[([\d,\s]*)\]\)"
)
_VOCAB_PARAM = re.compile(r"(?i)(embed_tokens|lm_head|wte|word_embeddings|output_layer|embed_out|tok_embeddings)")
_KIND_ORDER = {"zero": 0, "vocab": 1, "hidden": 2, "rank": 3}


def size_mismatch_kind(param: str, old: list[int], new: list[int]) -> str:
    if 0 in old or 0 in new or not old or not new:
        return "zero"
    if _VOCAB_PARAM.search(param):
        return "vocab"
    differing = [(a, b) for a, b in zip(old, new, strict=False) if a != b]
    if "lora_" in param and differing and all(min(a, b) <= 512 for a, b in differing):
        return "rank"
    return "hidden"


def _size_mismatch(parsed: Parsed, out: _Collector) -> None:
    kinds: dict[str, list[Line]] = {}
    for line in parsed.lines:
        if "size mismatch" not in line.text and "torch.Size([0])" not in line.text:
            continue
        match = _SIZE_MISMATCH.search(line.text)
        if match:
            dims = [[int(x) for x in re.findall(r"\d+", g)] for g in (match.group(2), match.group(3))]
            kinds.setdefault(size_mismatch_kind(match.group(1), *dims), []).append(line)
        elif "torch.Size([0])" in line.text:
            kinds.setdefault("zero", []).append(line)
    if kinds:
        # The most telling kind wins: an empty partition explains every other mismatch in the same load.
        kind = min(kinds, key=lambda k: _KIND_ORDER[k])
        out.set("size_mismatch.kind", kind, kinds[kind][:5])


_TRAINABLE = re.compile(r"(?i)trainable params:?\s*([\d,]+)")
_OS = [("windows", re.compile(r"(?i)(Platform:\s*Windows|\bwin(10|11|dows)\b|\b[C-H]:\\\\?[\w\\]|\.dll\b)")),
       ("macos", re.compile(r"(?i)(Platform:\s*macOS|Darwin|\bmacos\b|\bmps\b device)")),
       ("linux", re.compile(r"(?i)(Platform:\s*Linux|\blinux\b|glibc|/home/|/usr/)"))]


def _misc(parsed: Parsed, out: _Collector) -> None:
    hit = _first_match(out.index, _TRAINABLE)
    if hit:
        out.set("trainable_params", int(hit[0].group(1).replace(",", "")), [hit[1]])
    for name, pattern in _OS:
        hit = _first_match(out.index, pattern)
        if hit:
            out.set("os", name, [hit[1]])
            break


def _errors(parsed: Parsed, out: _Collector) -> None:
    last = None
    for match, line in out.index.finditer(_EXCEPTION):
        last = (match, line)
    if last:
        match, line = last
        out.set("exception.type", match.group(1), [line])
        if match.group(2):
            out.set("exception.message", match.group(2).strip(), [line])
    for name, pattern in _KNOWN_RES.items():
        hits = out.index.lines_matching(pattern, 5)
        if hits:
            out.set(name, True, hits)


def _input(parsed: Parsed, out: _Collector) -> None:
    first = parsed.lines[:1]
    out.set("input.lang", detect_lang([line.text for line in parsed.lines]), first)
    log_kinds = {"metrics", "traceback", "log"}
    log_lines = [line for seg in parsed.segments if seg.kind in log_kinds for line in seg.lines[:1]]
    if log_lines or parsed.metrics:
        out.set("input.has_log", True, log_lines[:1] or [parsed.metrics[0].line])
    error_lines = out.index.lines_matching(_ERROR_HINT, 1)
    if "exception.type" in out.found or error_lines:
        out.set("input.has_error", True,
                (out.found["exception.type"].lines if "exception.type" in out.found else error_lines[:1]))
    config_facts = [f for f in parsed.facts if f.source in ("yaml", "json", "flag")]
    if len(config_facts) >= 2:
        out.set("input.has_config", True, [config_facts[0].line])


def extract_signals(parsed: Parsed) -> dict[str, Signal]:
    out = _Collector(TextIndex(parsed.lines))
    _metric_signals(parsed.metrics, out)
    _ga_scaling(parsed.lines, out)
    _precision(parsed, out)
    _deepspeed(parsed, out)
    _attention(parsed, out)
    _model(parsed, out)
    _template(parsed, out)
    _training_args(parsed, out)
    _launch(parsed, out)
    _hardware(parsed, out)
    _versions(parsed, out)
    _errors(parsed, out)
    _size_mismatch(parsed, out)
    _misc(parsed, out)
    _input(parsed, out)
    return dict(sorted(out.found.items()))
