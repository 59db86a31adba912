"""The input itself: its language, and whether it holds a log, an error, a config."""

from __future__ import annotations

import re
from itertools import islice

import re2

from service.models import Parsed
from service.signals.registry import Scope, extractor, signal
from service.text import detect_lang

# An error in any words: "报错" says one was raised; English says "errors out", "fails with", "raises", "throws".
# "报" alone is the verb ("报 CUDA error", "就报分布式包没有 NCCL"), not a report (报告), a sign-up (报名) or a
# table (报表).
_ERROR_HINT = re.compile(
    r"(?i)(traceback|\berrors?\b|exception|failed|killed|\bfails? (?:with|because|when|while|on|at)\b|"
    r"\b(?:raises|raised|throws|threw|thrown|crash(?:es|ed)?)\b|\bstops? with\b|"
    r"报错|错误|失败|抛出|崩溃|(?<![汇日周简情预申举警通公])报(?![告名表道价销纸考酬]))"
)
# "没有报错", "no error is raised", "without any exception": the report says there was none. Silent failures (an
# adapter that does nothing, LoRA that does not train) are told this way, and an error they do not have must not
# count as one.
_NO_ERROR = re.compile(
    r"(?i)(没有|没|无|不|未)(任何)?(出现|看到|显示|遇到|产生)?(任何|具体|明显)?的?(报错|错误)|"
    r"(?<![a-z])(no|without|not any|never an?|didn't|doesn't|does not|did not|isn't|is not|wasn't|was not)"
    r"\s+(any\s+|an\s+|\w+\s+)?(errors?|exceptions?|failed|fails?)(?![a-z])"
)

# Something went wrong, said in any words: an error, a NaN, a hang, a model that never stops or learns nothing. A
# how-to question, a feature request or a design question says none of these; a report of a failure nearly always
# does. (Question forms "能不能", "会不会" are not failures.) In RE2: eighty case-insensitive alternatives cost Python's
# engine every alternative at every position (0.7 s over the linearity test's lines), RE2 one linear pass. RE2 has
# no lookaround, so a word boundary is a consumed non-letter that is never a line break (a match then starts on the
# line it names).
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.max_mem = 64 << 20
_FAILURE = re2.compile(
    r"(?im)(?:error|exception|traceback|fail|crash|segfault|(?:^|[^a-z\n])(?:nan|inf)s?(?:[^a-z]|$)|hang|"
    r"(?:^|[^a-z\n])hung|stuck|freez|never (?:stops?|ends?|finish)|"
    r"(?:does not|doesn't|did not|didn't|won't|cannot|can't|unable to|not) "
    r"(?:stop|work|train|learn|load|converge|start|run|save|change|improve|end|produce|generat|finish|decreas|"
    r"help|resum|seem to (?:work|take effect|change))|"
    r"repeat|garbl|gibberish|diverg|explod|blow(?:s|n)? up|spik|(?:^|[^a-z\n])oom(?:[^a-z]|$)|"
    r"out of (?:gpu |cuda |device |host )?memory|killed|"
    r"timed? ?out|mismatch|wrong|incorrect|broken|no effect|degrad|worse|unstable|instabil|plateau|warning|"
    r"incompatib|inconsisten|unavailable|unsupported|not (?:supported|learning|satisf)|unexpected|undefined symbol|"
    r"(?:^|[^a-z\n])stop(?:s|ped)? (?:at|with|after|before|making|responding|early)(?:[^a-z]|$)|no longer|saturat|"
    r"(?:not|never|n't) take effect|repetit|looping|stuck in a loop|infinite loop|keeps? (?:generating|going|talking)|"
    r"remains? (?:all )?zeros?|a regression|"
    r"loss(?:es)?\b[^\n]{0,40}\b(?:stays?|stayed|remains?|remained|sits?|shows?|showed|reports?|drops?|dropped|goes|"
    r"went|becomes?|became|turns?|turned|falls?|fell|collapses?|collapsed|stuck|of)\s+"
    r"(?:(?:at|to|on|exactly|always|all|just|immediately|straight)\s+)*(?:0(?:\.0+)?(?:[^\d.]|\.(?:[^\d]|$)|$)|zero\b)|"
    r"loss[\pL\pN_]*\s*(?:is|of|stays?|becomes?|will be|are|were|=|:)?\s*0(?:\.0+)?(?:[^\d.]|$)|"
    r"loss[^\n]{0,30}(?:increas|goes up|went up|rises|rose|jump)|"
    r"报错|错误|失败|异常|警告|不兼容|爆显存|显存不足|不支持|卡住|卡死|卡在|不动了?|不停|停不下|重复|乱码|发散|爆炸|溢出|超时|不一致|不匹配|无效|"
    r"没有?(?:任何)?(?:效果|作用|变化)|没用|变差|不起作用|不生效|没生效|未生效|没有生效|稳定性|未定义|不收敛|为\s*0(?:[^.\d]|$)|没反应|崩溃|挂掉|中断|无法|(?:^|[^能\n])不能|"
    r"(?:^|[^会\n])不会|不下降|降不下|上升|变成\s*nan|loss[^\n]{0,10}(?:是|为|到|成)\s*0(?:\.0+)?(?:[^.\d]|$)|爆掉|不回应|"
    r"加载不上|加载失败|退出码|(?:精度|准确率|效果|性能|质量)[^\n]{0,6}(?:下降|变差|降低)|是坏的|坏掉|不稳定|尖峰|"
    r"不再(?:继续)?下降|胡言乱语|看不出(?:任何)?(?:效果|变化)|(?:^|[^汇日周简情预申举警通\n])报\s*[A-Za-z])",
    _RE2_OPTIONS,
)


@extractor(provides=[
    signal("input.lang", "str",
           "Language of the prose: `zh` when CJK characters make up a real share of it, else `en`.",
           internal="picks the language of the answer (service/pipeline.py)"),
    signal("input.has_log", "bool",
           "The paste holds log output: metric lines, tracebacks, logger lines or errors.",
           internal="a fusion feature (service/fusion.py) and the chat's question-or-report test (ui/conversation.py)"),
    signal("input.has_error", "bool",
           "The paste holds an error: a traceback, an `...Error:` line or a fatal message.",
           internal="a fusion feature (service/fusion.py) and the chat's question-or-report test (ui/conversation.py)"),
    signal("input.describes_failure", "bool",
           "The paste says something went wrong, in any words (an error, NaN, a hang, a model that never stops or "
           "learns nothing; `没有报错` alone is not one). How-to questions and feature requests do not.",
           internal="a fusion feature (service/fusion.py): it drives the none-of-these alternative"),
    signal("input.has_config", "bool",
           "The paste holds a training config (YAML, JSON or command-line flags).",
           internal="the chat's question-or-report test (ui/conversation.py); no longer a fusion feature: every "
                    "case of the case base renders as a config, real reports mostly do not (service/fusion.py)"),
], requires=["exception.type"])
def paste(parsed: Parsed, out: Scope) -> None:
    """What the paste holds. Runs after `exceptions`: an exception line makes it an error report."""
    first = parsed.lines[:1]
    out.set("input.lang", detect_lang([line.text for line in parsed.lines]), first)
    log_kinds = {"metrics", "traceback", "log"}
    log_line = next((seg.lines[0] for seg in parsed.segments if seg.kind in log_kinds and seg.lines), None)
    if log_line is not None or parsed.metrics:
        out.set("input.has_log", True, [log_line] if log_line is not None else [parsed.metrics[0].line])
    error_lines = [line for line in out.index.lines_matching(_ERROR_HINT, 8)
                   if _ERROR_HINT.search(_NO_ERROR.sub(" ", line.text))][:1]
    exception = out.get("exception.type")
    if exception is not None or error_lines:
        out.set("input.has_error", True, exception.lines if exception is not None else error_lines[:1])
    # One RE2 pass over the index's distinct lines finds the candidates; the line is then read without its "no error".
    failure = next((line for _, line in out.index.finditer(_FAILURE) if _FAILURE.search(_NO_ERROR.sub(" ", line.text))),
                   None)
    if failure is not None:
        out.set("input.describes_failure", True, [failure])
    config_facts = list(islice((f for f in parsed.facts if f.source in ("yaml", "json", "flag")), 2))  # two decide
    if len(config_facts) >= 2:
        out.set("input.has_config", True, [config_facts[0].line])

