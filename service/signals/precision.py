"""Precision, DeepSpeed and attention settings."""

from __future__ import annotations

import re

from service.models import Line, Parsed
from service.signals.facts import first_match, last_fact, named_values, prose_lines, prose_pattern, truthy
from service.signals.registry import Scope, extractor, signal
from service.text import clause

_PROSE_PRECISION = re.compile(r"(?i)(?<![A-Za-z0-9_-])(bf16|fp16|bfloat16|float16|fp32|float32)(?![A-Za-z0-9_-])")
_PRECISION_WORDS = {"bf16": "bf16", "bfloat16": "bf16", "fp16": "fp16", "float16": "fp16", "fp32": "fp32",
                    "float32": "fp32"}
_TRAINING_PRECISION = prose_pattern(
    r"(?i)(?:train\w*|fine-?tun\w*|finetun\w*|训练|微调)\s*(?:in|with|using|under|使用|用)?\s*(bf16|fp16|bfloat16|float16|fp32)\b|"
    r"(?:using|use|uses|with)\s+(bf16|fp16|bfloat16|float16|fp32)\s+(?:for\s+)?(?:training|computation|precision|mixed)|"
    r"(bf16|fp16|bfloat16|float16|fp32)\s*(?:mixed[- ]precision\s+)?(?:training|训练|精度训练|微调)|"
    # "with use_fp16 enabled", "enabled bf16", "开启 fp16": a switch said to be on
    r"(?<![A-Za-z0-9-])(?:use_)?(bf16|fp16)\s+(?:enabled|turned on|switched on)\b|"
    r"(?:\benabl\w*|\bturn\w* on|\bswitch\w* on|开启|打开|开了)\s*(?:use_)?(bf16|fp16)(?![A-Za-z0-9_-])"
)
# accelerate's and PyTorch Lightning's spellings (Lightning's `precision=16` is fp16 mixed precision).
_PRECISION_SETTING = {"bf16": "bf16", "fp16": "fp16", "no": "fp32", "fp32": "fp32", "32": "fp32", "16": "fp16",
                      "16-mixed": "fp16", "bf16-mixed": "bf16", "bf16-true": "bf16", "16-true": "fp16",
                      "32-true": "fp32"}
# "precision=16", "precision 设为 16": a Lightning setting stated in prose.
_PROSE_LIGHTNING = prose_pattern(r"(?i)\bprecision\s*(?:=|:|：|is|of|to|设为|设置为|设成|为|是)?\s*[\"']?"
                                 r"(16|32|bf16|16-mixed|bf16-mixed|bf16-true|16-true|32-true)(?![A-Za-z0-9_-])")
# ... and a precision the clause reports working ("with fp16 the same job trains normally") is the workaround.
# `换` is a change ("换成 fp32"), but not inside 转换 ("被转换为 bfloat16" says what the run used).
_PROSE_ADVICE = re.compile(r"(?i)(warn|recommend|instead|switch|chang|改|(?<!转)换|而不是|support|支持|建议|推荐|"
                           r"\bworks?\b|\bworked\b|trains? (?:fine|normally|ok|okay|well)\b|\bis (?:fine|unaffected)\b|"
                           # "同样的训练用 bf16 则没有问题": the comparison that went well, not the failing run
                           r"(?:则|就|便)(?:完全)?(?:没有?(?:任何)?问题|正常|不受影响|好了))")


# "用的是 bf16 不是 fp16", "not fp16": the precision named right after a denial is not the run's.
_DENIED_JUST_BEFORE = re.compile(r"(?i)(不是|并非|没有用?|没用|不用|没开|(?<![a-z])(not|no|without|isn't|wasn't))\s*$")


def _precision_word(match: re.Match[str]) -> str | None:
    if _DENIED_JUST_BEFORE.search(match.string, max(0, match.start() - 12), match.start()):
        return None
    word = next(g for g in match.groups() if g) if match.groups() else match.group(0)
    return _PRECISION_WORDS[word.lower()]


def _setting_word(match: re.Match[str]) -> str:
    return _PRECISION_SETTING[match.group(1).lower()]


@extractor(provides=[
    signal("precision", "str",
           "Mixed-precision mode of the run: `bf16`, `fp16` or `fp32` (YAML, flags, DeepSpeed or accelerate config)."),
    signal("tf32", "bool", "TF32 matmuls requested (`tf32: true`, `--tf32 True`)."),
    signal("model.dtype", "str",
           "dtype the model is loaded in: `float16`, `bfloat16` or `float32` (torch_dtype / dtype)."),
])
def precision(parsed: Parsed, out: Scope) -> None:  # noqa: C901 - one branch per place a precision setting can be written
    facts = parsed.facts
    candidates: list[tuple[str, Line]] = []
    for fact in facts:
        key, value = fact.key, fact.value
        if fact.path.endswith("bf16.enabled") or fact.path.endswith("fp16.enabled"):
            if truthy(value):
                candidates.append(("bf16" if "bf16" in fact.path else "fp16", fact.line))
            continue
        if key in ("bf16", "fp16", "pure_bf16") and truthy(value):
            candidates.append(("bf16" if "bf16" in key else "fp16", fact.line))
        elif key in ("mixed_precision", "precision", "mixed-precision") and value is False:
            candidates.append(("fp32", fact.line))  # `mixed_precision: no` reads as a YAML boolean
        elif key in ("mixed_precision", "precision", "mixed-precision") and isinstance(value, str | int):
            spelled = _PRECISION_SETTING.get(str(value).lower())
            if spelled:
                candidates.append((spelled, fact.line))
    if not candidates:
        # LLaMA-Factory prints the compute dtype at start-up.
        hit = first_match(out.index, re.compile(r"compute dtype: torch\.(bfloat16|float16|float32)"))
        if hit:
            candidates.append(({"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}[hit[0].group(1)], hit[1]))
    if not candidates:
        # Prose ("8x A800, bf16 training"): only when exactly one precision is named, never in a library warning.
        prose = prose_lines(parsed)
        # "fp16=False时正常": a precision the paste turns off is not the one it names
        off = {f.key for f in facts if f.key in ("bf16", "fp16") and truthy(f.value) is False}
        levels = (([(_TRAINING_PRECISION, _precision_word)], _PROSE_ADVICE),
                  ([(_PROSE_PRECISION, _precision_word), (_PROSE_LIGHTNING, _setting_word)], _PROSE_ADVICE))
        for readers, advice in levels:
            # "train in bf16" beats a bare mention; several named at one level: nothing (which is the run's?)
            named = {value: line for value, line in named_values(prose, readers, advice).items() if value not in off}
            if len(named) == 1:
                candidates.extend(named.items())
                break
            if named:
                break
    if not candidates:
        explicit_off = [f for f in facts if f.key in ("bf16", "fp16") and truthy(f.value) is False]
        if {f.key for f in explicit_off} == {"bf16", "fp16"}:
            candidates.append(("fp32", explicit_off[-1].line))
    if candidates:
        value, line = candidates[-1]
        out.set("precision", value, [line for v, line in candidates if v == value][-3:])
    tf32 = last_fact(facts, "tf32")
    if tf32 is not None and truthy(tf32.value) is not None:
        out.set("tf32", truthy(tf32.value), [tf32.line])
    dtype = last_fact(facts, "torch_dtype", "dtype", "compute_dtype", "bnb_4bit_compute_dtype")
    if dtype is not None and isinstance(dtype.value, str):
        found = re.search(r"(bfloat16|float16|float32|bf16|fp16|fp32|half)", dtype.value.lower())
        if found:
            name = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32", "half": "float16"}.get(
                found.group(1), found.group(1)
            )
            out.set("model.dtype", name, [dtype.line])
    else:
        hit = first_match(out.index, re.compile(r"torch_dtype\s*=\s*torch\.(float16|bfloat16|float32)"))
        if hit:
            out.set("model.dtype", hit[0].group(1), [hit[1]])


_DS_FILE_STAGE = re.compile(r"(?i)(?:ds_?z|zero_?|zero-|stage_?|z)([0-3])(?:[_\-.]|config|offload|$)")
_DS_PROSE_STAGE = prose_pattern(
    r"(?i)\b(?:zero|deepspeed)[\s\-_]?(?:stage[\s\-_]?)?([123])\b|\bds_z([0-3])(?![0-9])|ZeRO[- ]?([123])\b|"
    r"\bstage[\s\-_]?([23])\b"
)


_DS_JSON_STAGE = re.compile(r"\"stage\"\s*:\s*([0-3])\b")
_ALSO_STAGE = prose_pattern(r"[ \t]{0,3}(?:/|,|or|and|vs\.?|或|和|与)[ \t]{0,3}(?:(?:zero|stage)[\-_ ]?)?([123])\b",
                         re.IGNORECASE)  # "ZeRO stage 1/2", "ZeRO-2 or 3": bounded runs, linear on any line


def _stages_named(out: Scope) -> dict[int, Line]:
    """Every ZeRO stage the text names outside a config (prose, file names, log lines), with its first line; "ZeRO
    stage 1/2" names both."""
    named: dict[int, Line] = {}
    for match, line in out.index.finditer(_DS_PROSE_STAGE):
        named.setdefault(int(next(g for g in match.groups() if g)), line)
        also = _ALSO_STAGE.match(out.index.text, match.end())
        if also:
            named.setdefault(int(also.group(1)), line)
    return named


# A line that says DeepSpeed is not used: "没有用 deepspeed", "不用DeepSpeed", "without DeepSpeed", "deepspeed 没开".
_NO_DEEPSPEED = re.compile(
    r"(?i)(没有用|没用|没有使用|不用|不使用|未使用|未用|没开|没有开|\bwithout|\bno|\bnot using|\bnot use|"
    r"\b(?:do|did|does)\s?n[o']?t use)\s*(?:任何\s*|any\s+)?deepspeed|deepspeed\s*(?:没开|没有开|关了|关闭了?|未开启)"
)

_WORKS = re.compile(r"(?i)\bworks?\b|\bworked\b|\bfine\b|正常|可以|没问题|就好|解决")


@extractor(provides=[
    signal("deepspeed.enabled", "bool",
           "DeepSpeed is used (a config file, a `deepspeed` key or launcher, or its log lines); false when the only "
           "mentions say it is not (`没有用 deepspeed`, `without DeepSpeed`), and then `deepspeed.stage` is 0."),
    signal("deepspeed.stage", "int",
           "ZeRO stage (from the JSON, an accelerate config, or a config file name like ds_z3)."),
    signal("deepspeed.overlap_comm", "bool", "`overlap_comm` in the DeepSpeed zero_optimization section."),
    signal("deepspeed.offload", "bool", "Optimizer or parameter offload to CPU/NVMe is configured."),
])
def deepspeed(parsed: Parsed, out: Scope) -> None:
    facts = parsed.facts
    config = last_fact(facts, "deepspeed", "deepspeed_config", "deepspeed_config_file")
    said_no: Line | None = None  # set when the only mentions of DeepSpeed deny it
    if config is not None and config.value not in (False, None, "", "null"):
        out.set("deepspeed.enabled", True, [config.line])
    else:
        for line in parsed.lines:
            if "deepspeed" not in line.text.lower():
                continue
            if "deepspeed" in _NO_DEEPSPEED.sub(" ", line.text).lower():  # a mention no denial covers
                out.set("deepspeed.enabled", True, [line])
                said_no = None
                break
            # "没有用 deepspeed 的时候正常", "works without DeepSpeed": the comparison that works, not this run
            denied = any(not _WORKS.search(clause(line.text, m.start(), m.end()))
                         for m in _NO_DEEPSPEED.finditer(line.text))
            said_no = said_no or (line if denied else None)
        if said_no is not None:
            out.set("deepspeed.enabled", False, [said_no])
    # LLaMA-Factory's `stage: sft` is the training stage, not ZeRO: a `stage` key counts inside zero_optimization
    # (a JSON config, or the dotted `zero_optimization.stage` of an override).
    stage = next((f for f in reversed(facts) if f.value is not None and (
        f.key == "zero_stage" or f.key.endswith("zero_optimization.stage")
        or (f.key == "stage" and f.source == "json" and "zero_optimization" in f.path))), None)
    if stage is not None and isinstance(stage.value, int) and 0 <= stage.value <= 3:
        out.set("deepspeed.stage", stage.value, [stage.line])
    elif config is not None and isinstance(config.value, str) and not re.search(r"\s", config.value.strip()):
        match = _DS_FILE_STAGE.search(config.value.rsplit("/", 1)[-1])
        if match:
            out.set("deepspeed.stage", int(match.group(1)), [config.line])
    if not out.has("deepspeed.stage"):
        # A config fragment the parser could not read as JSON (`"stage": 3, ...`) before what the prose names.
        named = {int(m.group(1)): line for m, line in out.index.finditer(_DS_JSON_STAGE)}
        named = named if len(named) == 1 else _stages_named(out)
        if len(named) == 1:  # "ZeRO-3 works, ZeRO-2 gives NaN": which is this run's? Neither, for a rule.
            value, line = next(iter(named.items()))
            out.set("deepspeed.stage", value, [line])
    if said_no is not None and not out.has("deepspeed.stage"):  # no DeepSpeed: no ZeRO sharding either
        out.set("deepspeed.stage", 0, [said_no])
    # `overlap_comm` in the JSON, or written dotted (`zero_optimization.overlap_comm: true`) as an override
    overlap = next((f for f in reversed(facts) if f.value is not None and (
        f.key == "overlap_comm" or f.key.endswith(".overlap_comm"))), None)
    if overlap is not None and truthy(overlap.value) is not None:
        out.set("deepspeed.overlap_comm", truthy(overlap.value), [overlap.line])
    offload = [
        f for f in facts
        if (f.path.endswith("offload_optimizer.device") or f.path.endswith("offload_param.device")
            or f.key in ("offload_optimizer_device", "offload_param_device"))
        and isinstance(f.value, str) and f.value.lower() in ("cpu", "nvme")
    ]
    if offload:
        out.set("deepspeed.offload", True, [offload[-1].line])


@extractor(provides=[
    signal("attn.impl", "str",
           "Attention implementation: `eager`, `sdpa`, `fa2`, `auto` or `disabled` "
           "(flash_attn / attn_implementation)."),
])
def attention(parsed: Parsed, out: Scope) -> None:
    fact = last_fact(parsed.facts, "attn_implementation", "flash_attn", "attn_impl", "use_flash_attn",
                 "use_flash_attention_2")
    if fact is None:
        return
    value = fact.value
    if fact.key in ("use_flash_attn", "use_flash_attention_2"):
        truth = truthy(value)
        impl = None if truth is None else ("fa2" if truth else "eager")
    elif isinstance(value, bool):
        impl = "fa2" if value else "disabled"
    else:
        low = str(value).lower()
        impl = {"flash_attention_2": "fa2", "flash_attention_3": "fa2", "fa2": "fa2", "sdpa": "sdpa", "eager": "eager",
                "auto": "auto", "disabled": "disabled", "none": "disabled"}.get(low)
    if impl:
        out.set("attn.impl", impl, [fact.line])

