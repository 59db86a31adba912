"""Metric series: facts derived from the Trainer's logged records (loss, grad_norm, learning_rate)."""

from __future__ import annotations

import math
import re

from service.models import Line, MetricRecord, Parsed
from service.signals.facts import prose_lines
from service.signals.registry import Scope, extractor, signal
from service.text import negated_before


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


# The same shape said in prose: a NaN that a loss word and a turn ("became", "suddenly", "变成", "突然") lead to, on a
# line that says the run was healthy before it (decreasing, normal, N steps in). Three short searches around each
# "nan" rather than one long pattern: every pattern here stays linear on long lines.
_NAN = re.compile(r"(?i)(?<![a-z])nan(?![a-z])")
_LOSS_WORD = re.compile(r"(?i)(?<![a-z])(loss|grad_norm|gradients?)(?![a-z])|损失|梯度")
_TURN = re.compile(r"(?i)(?<![a-z])(becomes?|became|turns?|turned|goes|went|jumps?|jumped|suddenly|then|"
                   r"starts?|started|begins?|began|com(es|ing) out( as)?)(?![a-z])|"
                   r"变成|变为|成了|突然|出现|就是|全是|都是|全部")
_HEALTHY_BEFORE = re.compile(
    r"(?i)(?<![a-z])(decreas\w*|dropping|going down|went down|goes down|converg\w*|normal(ly)?|"
    r"(after|for) [^\n]{0,30}?(steps|iterations|iters|epochs))(?![a-z])|"
    r"(之前|此前|前面|一开始|刚开始|开始时?)[^，。,\n]{0,8}?(正常|下降|在降|收敛)|"
    r"(训练|跑)了?[^，。,\n]{0,12}?(步|轮|epoch|step|iter)[^，。,\n]{0,6}?(之后|以后|后)|正常下降|一直在?下降|"
    r"(持续|稳步|平稳)下降|((?<![\d.])[\d.]+\s*[万千]?|几[十百千万]?)\s*(个\s*)?(步|轮|次迭代|epoch|step|iter\w*)"
    r"[^，。,\n]{0,4}?(之后|以后|后)")
_FROM_START = re.compile(r"(?i)(?<![a-z])(first steps?|step (0|1)(?![0-9])|immediately|from the (start|beginning))"
                         r"(?![a-z])|从一开始|一开始就|第一步|开始就|刚开始就")


def _prose_nan_after_healthy(parsed: Parsed) -> Line | None:
    for line in prose_lines(parsed):
        for match in _NAN.finditer(line.text):
            before = line.text[max(0, match.start() - 80):match.start()]
            window = (max(0, match.start() - 120), match.end() + 60)
            if (_LOSS_WORD.search(before) and _TURN.search(before[-20:]) and _HEALTHY_BEFORE.search(line.text, *window)
                    and not _FROM_START.search(line.text, *window)):
                return line
    return None


# "grad_norm 也是 0", "grad_norm is always 0.0", "grad_norm: 0": zero (not NaN) said in a sentence, with only
# connector words between the name and the zero ("grad_norm nan, loss 0" is not it), and not denied before it.
_PROSE_GRAD_NORM_ZERO = re.compile(
    r"(?i)grad_?norm['\"]?\s*(?:(?:也|都|一直|始终|全部?|also|always|is|was|stays?|stuck|remains?|at|are|equals?|exactly|"
    r"of|shows?|becomes?|became|drops?|dropped|goes|went|to|是|为|变成了?|变为)\s*|[:=：]\s*){0,3}"
    r"(?:0(?:\.0+)?(?![\d.])|zero(?![a-z]))"
)


# "grad_norm 是 nan", "grad_norm shows NaN", "grad_norm: nan": NaN said in a sentence, the same way.
_PROSE_GRAD_NORM_NAN = re.compile(
    r"(?i)grad_?norm['\"]?\s*(?:(?:也|都|一直|始终|全部?|直接|出现|also|always|is|was|stays?|stuck|remains?|at|are|equals?|"
    r"shows?|becomes?|became|turns?|turned|goes|went|to|into|是|为|变成了?|变为|成了?)\s*|[:=：]\s*){0,3}(?:nan|inf)(?![a-z])"
)


def _prose_said(parsed: Parsed, pattern: re.Pattern[str]) -> Line | None:
    """The first prose line where `pattern` matches without a negation before it."""
    for line in prose_lines(parsed):
        for match in pattern.finditer(line.text):
            if not negated_before(line.text, match.start(), match.end()):
                return line
    return None


@extractor(provides=[
    signal("metrics.records", "int", "How many training metric records were found."),
    signal("metrics.loss_zero", "bool", "Some logged training loss is exactly 0."),
    signal("metrics.loss_zero_streak", "int", "Longest run of consecutive records whose loss is exactly 0."),
    signal("metrics.loss_nan", "bool", "Some logged loss is NaN or inf."),
    signal("metrics.grad_norm_nan", "bool",
           "Some logged grad_norm is NaN or inf; with no records, a sentence that says so (`grad_norm 是 nan`, "
           "`grad_norm shows NaN`)."),
    signal("metrics.grad_norm_zero", "bool",
           "Some logged grad_norm is exactly 0 (no gradient reached the weights); with no records, a sentence that "
           "says so (`grad_norm 也是 0`, `grad_norm is always 0.0`)."),
    signal("metrics.nan_from_start", "bool",
           "NaN (loss or grad_norm) already in the first logged records, before any healthy one."),
    signal("metrics.nan_at_lr_zero", "bool",
           "grad_norm is NaN in a record whose learning_rate is still 0 (warm-up step 0)."),
    signal("metrics.nan_after_healthy", "bool",
           "NaN first appears after at least 3 healthy (finite, non-zero) records; with no records, the prose says the "
           "loss turned NaN after training normally (`loss 突然变成 nan，之前一直在下降`, `after 500 steps the loss "
           "became nan`)."),
    signal("metrics.first_nan_record", "int",
           "1-based index of the first record with a NaN loss or grad_norm.",
           internal="reported with the diagnosis (JSON `signals`); no matcher tests it yet"),
    signal("metrics.diverged", "bool", "Finite loss fell, then climbed back to at least twice its lowest value."),
    signal("metrics.restart_jump", "bool",
           "Mid-run, the learning rate falls to a tenth or less of the record before while the epoch goes on, and the "
           "loss rises to at least 1.5 times the record before: the schedule restarted (a resume without its "
           "scheduler and optimizer state)."),
    signal("metrics.healthy", "bool",
           "Training looks healthy: finite non-zero losses and grad_norms, no NaN in any record."),
    signal("metrics.initial_loss", "float", "First logged training loss."),
    signal("metrics.last_loss", "float",
           "Last logged training loss.",
           internal="reported with the diagnosis (JSON `signals`); no matcher tests it yet"),
])
def metric_series(parsed: Parsed, out: Scope) -> None:  # noqa: C901 - one pass over the metric records, one branch per derived fact
    """Trainer dicts, trainer_state.json log_history and key=value loss lines, as parsed into MetricRecords."""
    records = parsed.metrics
    if not records:
        said = _prose_nan_after_healthy(parsed)
        if said is not None:
            out.set("metrics.nan_after_healthy", True, [said])
        said = _prose_said(parsed, _PROSE_GRAD_NORM_ZERO)
        if said is not None:
            out.set("metrics.grad_norm_zero", True, [said])
        said = _prose_said(parsed, _PROSE_GRAD_NORM_NAN)
        if said is not None:
            out.set("metrics.grad_norm_nan", True, [said])
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

    restart = _restart_jump(records)
    if restart is not None:
        out.set("metrics.restart_jump", True, list(restart))

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


_RESTART_KEYS = ("learning_rate", "loss", "epoch")


def _restart_jump(records: list[MetricRecord]) -> tuple[Line, Line] | None:
    """The first pair of consecutive records where the schedule restarted under a loss jump (see the signal)."""
    for before, after in zip(records, records[1:], strict=False):
        if not all(_finite(r.values.get(k)) for r in (before, after) for k in _RESTART_KEYS):
            continue
        (lr0, loss0, epoch0), (lr1, loss1, epoch1) = ([r.values[k] for k in _RESTART_KEYS] for r in (before, after))
        if epoch0 > 0 and epoch1 >= epoch0 and lr0 > 0 and lr1 <= lr0 / 10 and loss0 > 0 and loss1 >= 1.5 * loss0:
            return before.line, after.line
    return None


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


@extractor(provides=[
    signal("metrics.loss_scales_with_ga", "bool",
           "Losses reported for several gradient_accumulation_steps values grow in proportion to them."),
])
def ga_scaling(parsed: Parsed, out: Scope) -> None:  # noqa: C901
    """Losses reported per gradient_accumulation_steps value, in prose or a Markdown table."""
    pairs: list[tuple[int, float, Line]] = _table_pairs(parsed.lines) if "|" in out.index.text else []
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

