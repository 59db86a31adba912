"""Parse a paste into numbered lines, typed segments, key/value facts and metric records.

Pastes mix everything: an issue body holds prose, a YAML config, a DeepSpeed JSON, an env block, a command line, a
log with Trainer metric dicts and a traceback. Parsing is line-based and linear: every fact remembers the line it
came from, so evidence can point at it. Nothing here executes or deserialises objects from the input.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable

from service.config import get_settings
from service.models import Fact, Line, MetricRecord, Parsed, Part, Segment
from service.prose_settings import prose_facts
from service.text import numbered_frames

# ---------------------------------------------------------------- scalar values

_NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")


def scalar(raw: str) -> object:
    """Interpret a config value the way YAML, JSON and argparse users mean it."""
    value = raw.strip().rstrip(",").strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]  # quoted: a string, even when it reads like `no` or `8`
    low = value.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if low in ("null", "none", "~", ""):
        return None
    if _NUMBER.match(value):
        try:
            return int(value) if re.fullmatch(r"[-+]?\d+", value) else float(value)
        except ValueError:
            return value
    return value


# ---------------------------------------------------------------- metric records

# `'loss': 0.0`, `loss=0.0`, and the spaced `step 10 | loss 2.6 | grad_norm nan` style of other trainers.
_METRIC = re.compile(
    r"(?<![\w.])['\"]?(loss|grad_norm|gnorm|grad norm|learning_rate|lr|epoch|step|global_step)['\"]?"
    r"(\s*[:=]\s*|\s+)['\"]?(nan|-?inf(?:inity)?|[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)(?![\w.])",
    re.IGNORECASE,
)
_ALIASES = {"lr": "learning_rate", "global_step": "step", "gnorm": "grad_norm", "grad norm": "grad_norm"}
# The keys as the log usually spells them, already lowered and aliased (others take the general path).
_KEYS = {spelling: _ALIASES.get(key, key)
         for key in ("loss", "grad_norm", "gnorm", "grad norm", "learning_rate", "lr", "epoch", "step", "global_step")
         for spelling in (key, key.upper())}


def _metric_values(text: str) -> dict[str, float]:
    values: dict[str, float] = {}
    spaced = False
    for key, separator, raw in _METRIC.findall(text):  # one C call; `:`/`=` can only be in the separator
        if not spaced and ":" not in separator and "=" not in separator:
            spaced = True
        name = _KEYS.get(key)
        key = name if name is not None else _ALIASES.get(key.lower(), key.lower())
        if key not in values:
            try:
                values[key] = float(raw)
            except ValueError:
                continue
    # `loss 0 and grad_norm nan` in a sentence is prose; the spaced form counts only in log-shaped lines.
    if spaced and not ("step" in values or "|" in text or len(values) >= 3):
        return {}
    return values


def _metric_records(lines: list[Line]) -> list[MetricRecord]:
    """One-line dicts (`{'loss': 0.0, 'grad_norm': nan, ...}`) and multi-line JSON records (trainer_state.json)."""
    records: list[MetricRecord] = []
    pending: dict[str, float] = {}
    pending_line: Line | None = None
    for line in lines:
        if "loss" not in line.text and not pending and "grad_norm" not in line.text:
            continue
        values = _metric_values(line.text)
        if "loss" in values and len(values) >= 2:
            records.append(MetricRecord(line, values))
            pending, pending_line = {}, None
            continue
        if len(values) == 1 and line.text.strip().startswith('"'):
            pending.update(values)
            if "loss" in values:
                pending_line = line
        if "}" in line.text and pending:
            if "loss" in pending and len(pending) >= 2 and pending_line is not None:
                records.append(MetricRecord(pending_line, dict(pending)))
            pending, pending_line = {}, None
    return records


# ---------------------------------------------------------------- facts

_YAML_KEY = re.compile(r"^(\s*)(?:-\s+)?([A-Za-z_][\w.\-]*)\s*:(?:\s+(.*?))?\s*$")
_JSON_KEY = re.compile(r'^(\s*)"([^"]+)"\s*:\s*(.*?)\s*$')
_ENV_ASSIGN = re.compile(r"(?:^|\s|export\s+)([A-Z][A-Z0-9_]{2,})=(\"[^\"]*\"|'[^']*'|\S+)")
_FLAG = re.compile(r"(?:^|\s)--([A-Za-z][\w\-.]*)(?:=(\S+))?")
# The key keeps Python's \w bound, which a CJK character before it also blocks ("没有设置save_only_model=False"): read
# with ASCII bounds, that sentence's negation turned into the run's setting (a dev report's cause was ruled out).
_KWARG = re.compile(r"(?<![\w.])([a-z_][a-z0-9_]*)\s*=\s*(\"[^\"]*\"|'[^']*'|[\w.\-+/:]+)")
# A boolean or number written against Chinese text ("fp16=False时正常"): the value ends where the Chinese begins. A
# path may hold Chinese ("/data/模型/qwen") and is left whole.
_GLUED_SCALAR = re.compile(r"(?i)^(true|false|yes|no|none|null|[-+]?\d[\d.]*(?:e[-+]?\d+)?)(?=[^\x00-\x7f])")
_URLISH = re.compile(r"^\s*(https?|ftp|file)\s*:")
# Library warnings quote settings they recommend (`Use attn_implementation='eager'`): not the user's config.
_ADVICE = re.compile(r"(?i)(warn|recommend|instead of|please (use|set)|you (should|can|may)|consider)")
_ADVICE_WORDS = ("warn", "recommend", "instead of", "please ", "you ", "consider")


def _advice(text: str) -> bool:
    """_ADVICE.search, cheaper: in ASCII text (no special case folds) it needs one of its words in lower case."""
    if text.isascii():
        low = text.lower()
        if not any(word in low for word in _ADVICE_WORDS):
            return False
    return _ADVICE.search(text) is not None


def _strip_comment(value: str) -> str:
    if value.startswith(("'", '"')):
        return value
    return re.split(r"\s+#", value, maxsplit=1)[0]


# Settings quoted in Markdown emphasis or code spans: `**flash_attn: disabled**`, `` `bf16: true` ``.
_EMPHASIS = re.compile(r"^(\s*)(?:\*\*|__|`)(.*?)(?:\*\*|__|`)\s*$")


def _yaml_facts(line: Line, stack: list[tuple[int, str]]) -> Fact | None:
    # _EMPHASIS needs its closing mark at the end of the line: most lines (`_` is common) skip the substitution.
    marked = line.text.rstrip().endswith(("**", "__", "`"))
    text = _EMPHASIS.sub(r"\1\2", line.text) if marked else line.text
    match = _YAML_KEY.match(text)
    if not match or _URLISH.match(text):
        return None
    indent = len(match.group(1))
    key = match.group(2)
    raw = _strip_comment(match.group(3) or "")
    while stack and stack[-1][0] >= indent:
        stack.pop()
    path = ".".join([k for _, k in stack] + [key])
    if not raw:
        stack.append((indent, key))
        return None
    if raw in ("|", ">", "|-", ">-"):
        return None
    return Fact(key.lower(), path.lower(), scalar(raw), line, "yaml")


def _json_facts(line: Line, stack: list[str]) -> list[Fact]:
    text = line.text.strip()
    match = _JSON_KEY.match(line.text)
    if match:
        key, raw = match.group(2), match.group(3).rstrip(",").strip()
        if raw.startswith("{") and not raw.endswith("}"):
            stack.append(key)
            return []
        if raw.startswith("{"):  # `"zero_optimization": {"stage": 2, "overlap_comm": true},` inside a block
            return list(_inline_json_facts(line, raw, [*stack, key]))
        if raw.startswith("["):
            return []
        path = ".".join(stack + [key])
        return [Fact(key.lower(), path.lower(), scalar(raw), line, "json")]
    if text.startswith("}") and stack:
        stack.pop()
    return []


def _inline_json_facts(line: Line, text: str | None = None, outer: list[str] | None = None) -> Iterable[Fact]:
    """`{"zero_optimization": {"stage": 2, "overlap_comm": true}}` on one line (`text`, by default the line's):
    walk it with a key stack that starts at `outer`, the keys of the block it sits in."""
    stack: list[str] = []
    for match in re.finditer(r'"([^"]+)"\s*:\s*(\{|"[^"]*"|[^,}\]]+)|\}', line.text if text is None else text):
        if match.group(0) == "}":
            if stack:
                stack.pop()
            continue
        key, raw = match.group(1), match.group(2)
        if raw == "{":
            stack.append(key)
            continue
        yield Fact(key.lower(), ".".join((outer or []) + stack + [key]).lower(), scalar(raw), line, "json")


# A one-line JSON object after a few words on the same line ("ds config: {"zero_optimization": {...}}").
_TRAILING_JSON = re.compile(r'^[^{"\n]{1,80}?(\{\s*"[^\n]*\})\s*,?\s*$')


def _flag_facts(line: Line) -> Iterable[Fact]:
    tokens = line.text.replace("\\", " ").split()
    for i, token in enumerate(tokens):
        if not token.startswith("--") or len(token) < 3 or not token[2].isalpha():
            continue
        name, eq, value = token[2:].partition("=")
        if not eq:
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            value = nxt if nxt is not None and not nxt.startswith("--") else "true"
        yield Fact(name.lower().replace("-", "_"), name.lower().replace("-", "_"), scalar(value), line, "flag")


def _kwarg_facts(line: Line) -> Iterable[Fact]:
    for key, raw in _KWARG.findall(line.text):
        glued = _GLUED_SCALAR.match(raw)
        yield Fact(key.lower(), key.lower(), scalar(glued.group(1) if glued else raw), line, "kwarg")


def _env_facts(line: Line) -> Iterable[Fact]:
    for key, raw in _ENV_ASSIGN.findall(line.text):
        yield Fact(key.lower(), key.lower(), scalar(raw), line, "env")


# ---------------------------------------------------------------- line kinds

_TRACEBACK = re.compile(
    r"^(Traceback \(most recent call last\)|\s+File \".*\", line \d+|\s*\^+\s*$|"
    r"([\w.]+\.)?[A-Z]\w*(Error|Exception|Interrupt)\b)"
)
_ENV_LINE = re.compile(
    r"(?i)^\s*(-\s*`?[\w\- ]+`?\s+version\s*:|-\s*(platform|python version|gpu type|gpu number|gpu memory|"
    r"git commit|accelerator)\s*:|[\w\-.]+\s*==\s*\d|[a-z][\w\-.]+\s{2,}\d+\.\d+[\w.+\-]*\s*$|\|.*\|\s*$|"
    r"nvcc: |cuda compilation tools)"
)
_COMMAND = re.compile(
    r"^\s*(\$\s*)?((export\s+)?[A-Z_]+=\S+\s+)*(python3?|torchrun|accelerate|deepspeed|llamafactory-cli|"
    r"swift|bash|sh|srun|CUDA_VISIBLE_DEVICES=|FORCE_TORCHRUN=|export\s)"
)
_LOG = re.compile(
    r"^\s*+(\[(INFO|WARNING|ERROR|DEBUG)|(INFO|WARNING|ERROR|DEBUG|W\d{4}|E\d{4}|I\d{4})\b|\[?\d{4}-\d{2}-\d{2}[ T]\d|"
    r"\d{2}/\d{2}/\d{4})"
)
# A progress bar anywhere in the line (`45%|####`). Kept apart from _LOG: `^\s*.*\d+%\|` backtracks quadratically.
_PROGRESS = re.compile(r"\d%\|")


def _line_kind(line: Line, in_json: bool, has_metrics: bool) -> str:
    text = line.text
    if has_metrics:
        return "metrics"
    if _TRACEBACK.match(text):
        return "traceback"
    if in_json:
        return "json"
    if _ENV_LINE.match(text):
        return "env"
    if _COMMAND.match(text) or (text.lstrip().startswith("--") and len(text.strip()) > 3):
        return "command"
    if _LOG.match(text) or _PROGRESS.search(text):
        return "log"
    if _YAML_KEY.match(text) and not _URLISH.match(text):
        return "yaml"
    if text.lstrip().startswith("#") and not text.lstrip().startswith("#!"):
        return "yaml" if text.lstrip().startswith("###") else "prose"
    return "prose"


def _segments(lines: list[Line], kinds: list[str]) -> list[Segment]:
    segments: list[Segment] = []
    current: list[Line] = []
    current_kind = ""
    for line, kind in zip(lines, kinds, strict=False):
        if not line.text.strip() and current:
            current.append(line)
            continue
        if kind != current_kind and current:
            segments.append(Segment(current_kind, tuple(current)))
            current = []
        current_kind = kind
        current.append(line)
    if current:
        segments.append(Segment(current_kind, tuple(current)))
    return segments


# ---------------------------------------------------------------- entry point


def number_lines(parts: list[Part]) -> list[Line]:
    lines: list[Line] = []
    for part in parts:
        lines.extend(Line(part.name, number, text) for number, text in numbered_frames(part.text))
    return lines


# Very large pastes: analyse the head (configs and prose), the tail (where runs fail) and the salient lines between.
MAX_ANALYZED_LINES = 30_000
HEAD_LINES, TAIL_LINES = 5_000, 15_000
_SALIENT_MIDDLE = re.compile(
    r"(?i)(error|exception|traceback|warn|nan\b|inf\b|overflow|killed|timeout|out of memory|mismatch|assert|"
    r"failed|cannot|can't|unexpected|not found|报错|错误|警告|失败)"
)


def bound_lines(lines: list[Line]) -> tuple[list[Line], str | None]:
    if len(lines) <= MAX_ANALYZED_LINES:
        return lines, None
    budget = MAX_ANALYZED_LINES - HEAD_LINES - TAIL_LINES
    middle = [line for line in lines[HEAD_LINES:-TAIL_LINES] if _SALIENT_MIDDLE.search(line.text)][:budget]
    kept = lines[:HEAD_LINES] + middle + lines[-TAIL_LINES:]
    note = (f"the input has {len(lines)} lines: analysed the first {HEAD_LINES}, the last {TAIL_LINES} and "
            f"{len(middle)} error/warning lines in between (metric lines were read in full)")
    return kept, note


def parse(parts: list[Part]) -> Parsed:
    all_lines = number_lines(parts)
    lines, note = bound_lines(all_lines)
    return parse_lines(lines, _metric_records(all_lines), [note] if note else [])


# A per-request CPU budget for the line pass (every pattern is linear, but a hostile paste can still be huge).


def parse_lines(lines: list[Line], metrics: list[MetricRecord], notes: list[str]) -> Parsed:
    """Segments and facts for lines already numbered (a paste, or the bounded lines of a streamed log)."""
    metric_lines = {id(r.line) for r in metrics}
    facts: list[Fact] = []
    kinds: list[str] = []
    yaml_stack: list[tuple[int, str]] = []
    json_stack: list[str] = []
    json_depth = 0
    previous_part = None
    started = time.monotonic()
    budget = None  # read at the first check: most pastes are shorter than 1024 lines
    for index, line in enumerate(lines):
        if index % 1024 == 1023:
            if budget is None:
                budget = get_settings().parse_budget
            if time.monotonic() > started + budget:
                notes = [*notes, f"input too complex: analysed its first {index} of {len(lines)} lines within "
                                 f"the {budget:g} s budget"]
                lines = lines[:index]
                kinds = kinds[:index]
                break
        if line.part != previous_part:
            yaml_stack, json_stack, json_depth, previous_part = [], [], 0, line.part
        text = line.text
        stripped = text.strip()
        is_metric = id(line) in metric_lines
        in_json = json_depth > 0 or stripped == "{" or (stripped.startswith('"') and bool(json_stack))
        kinds.append(_line_kind(line, in_json, is_metric))
        if is_metric or not stripped:
            continue
        if stripped.startswith("{") and stripped.endswith("}") and '"' in stripped:
            facts.extend(_inline_json_facts(line))
            continue
        if json_depth > 0 or stripped == "{" or (stripped.startswith('"') and ":" in stripped):
            facts.extend(_json_facts(line, json_stack))
            json_depth = max(0, json_depth + stripped.count("{") - stripped.count("}"))
            continue
        if stripped.endswith("}") and '{"' in stripped and (trailing := _TRAILING_JSON.match(stripped)):
            facts.extend(_inline_json_facts(line, trailing.group(1)))
            continue
        fact = _yaml_facts(line, yaml_stack)
        if fact:
            facts.append(fact)
        if "--" in text:
            facts.extend(_flag_facts(line))
        if "=" in text:
            facts.extend(_env_facts(line))
            if not _advice(text):
                facts.extend(_kwarg_facts(line))
    # Settings stated in sentences come first: any config fact with the same key is later and wins (last_fact).
    stated = [fact for line, kind in zip(lines, kinds, strict=False) if kind == "prose" for fact in prose_facts(line)]
    return Parsed(lines=lines, segments=_segments(lines, kinds), facts=stated + facts, metrics=metrics, notes=notes)
