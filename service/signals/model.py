"""The model, its chat template, and the training arguments of the run."""

from __future__ import annotations

import re
from collections.abc import Callable

from service.models import Fact, Line, Parsed
from service.prose_settings import CHANGE_OR_ADVICE
from service.signals.facts import first_match, last_fact, named_once, prose_lines, prose_pattern, truthy
from service.signals.registry import Scope, extractor, signal
from service.signals.tables import TABLES, markers
from service.text import clause, negated_before

# Ordered (first match wins), from kb/tables/model-families.yaml.
_FAMILIES: list[tuple[str, str]] = [(e.pattern, e.family) for e in TABLES.families]
_INSTRUCT = prose_pattern(r"(?i)(instruct|chat|-it\b|_it\b|sft|rlhf|dpo|assistant|-hf-chat|coder-.*-instruct|"
                          r"vl-.*-instruct)")
_BASE_EXPLICIT = prose_pattern(r"(?i)(-base\b|_base\b|\bbase\b)")  # "base模型": ASCII bounds
_MOE = markers(TABLES.moe_markers)
_MULTIMODAL = markers(TABLES.multimodal_markers)
# A prose name followed by what kind of checkpoint it is: "Qwen2.5-7B base model", "qwen2-7b 的基座模型", "Llama-3-8B
# instruct". Read only right after the name: elsewhere in the sentence "base" is often the other model.
_PROSE_KIND_AFTER = re.compile(
    r"(?i)\s{0,2}(?:的\s?)?(?:(base|基座|基础版|预训练版)|(instruct|chat|对话版|指令版))(?![A-Za-z])")
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

# A name in prose without a size is read only when the MoE table knows it ("deepseek-v2-lite", "Mixtral",
# "DeepSeek-V3"): whether a model is a mixture of experts is what several hang causes turn on, and these names
# carry it without a size.
_PROSE_NAME = re.compile(
    r"(?i)(?<![A-Za-z0-9])((?:qwen|mixtral|deepseek|olmoe|glm|dbrx|jamba|phi)[A-Za-z0-9_.\-]*)(?![A-Za-z0-9])")


def _prose_moe_name(out: Scope) -> tuple[str, Line] | None:
    return next(((m.group(1), line) for m, line in out.index.finditer(_PROSE_NAME) if _MOE.search(m.group(1))), None)


def model_family(name: str) -> str | None:
    base = name.rstrip("/").rsplit("/", 1)[-1] if "/" in name.rstrip("/") else name
    for text in (base, name):
        low = text.lower()
        for pattern, family in _FAMILIES:
            if re.search(pattern, low):
                return family
    return None


@extractor(provides=[
    signal("model.name", "str",
           "Model name or path (model_name_or_path, from_pretrained, --pretrain, base_model; else a sized model name "
           "in prose such as `Qwen2.5-14B`, or a mixture-of-experts name the MoE table knows: `deepseek-v2-lite`)."),
    signal("model.family", "str",
           "Model family from the name: qwen, qwen2, qwen2.5, qwen3, llama, llama2, llama3, mistral, mixtral, gemma, "
           "chatglm, glm4, baichuan, internlm, yi, deepseek, phi, minicpm, llava, ..."),
    signal("model.is_base", "bool",
           "The model name is a base checkpoint (no Instruct/Chat/-it suffix). From a name in prose only when the "
           "prose says which (`Qwen2.5-7B-Base`, `Qwen2.5-7B base model`, `qwen2-7b 的基座模型`, "
           "`Llama-3-8B-Instruct`): prose often drops the suffix."),
    signal("model.is_moe", "bool",
           "The model is a mixture-of-experts (Mixtral, *-MoE, A3B/A14B-style names, DeepSeek-V2/V3)."),
    signal("model.is_multimodal", "bool",
           "The model is vision-language (VL, LLaVA, GLM-4V, MiniCPM-V/o, InternVL, ...)."),
])
def model(parsed: Parsed, out: Scope) -> None:
    fact = last_fact(parsed.facts, *_MODEL_KEYS)
    name, line = None, None
    if fact is not None and isinstance(fact.value, str) and len(fact.value) > 1:
        name, line = fact.value, fact.line
    else:
        hit = first_match(out.index, _FROM_PRETRAINED) or first_match(out.index, _HUB_NAME)
        if hit:
            name, line = hit[0].group(1), hit[1]
    from_prose, kind_after = False, None
    if name is None:
        hit = first_match(out.index, _PROSE_MODEL)
        if hit:
            name, line, from_prose = hit[0].group(1), hit[1], True
            kind_after = _PROSE_KIND_AFTER.match(hit[0].string, hit[0].end())
        elif moe_name := _prose_moe_name(out):
            (name, line), from_prose = moe_name, True
    experts = _moe_config(parsed)
    if experts is not None:  # the model's own config.json says so, whatever its name
        out.set("model.is_moe", True, [experts.line])
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
    elif from_prose and kind_after is not None:
        out.set("model.is_base", kind_after.group(1) is not None, [line])
    elif from_prose and _INSTRUCT.search(label):  # a suffix written out ("Llama-3-8B-Instruct") is as explicit
        out.set("model.is_base", False, [line])
    # Known family: absence of the marker is evidence (a text-only, dense model); unknown names say nothing.
    if (_MOE.search(name) or family) and experts is None:
        out.set("model.is_moe", bool(_MOE.search(name)), [line])
    if _MULTIMODAL.search(name) or family:
        out.set("model.is_multimodal", bool(_MULTIMODAL.search(name)), [line])


_EXPERT_COUNTS = ("num_experts", "n_routed_experts", "num_local_experts", "moe_num_experts")


def _moe_config(parsed: Parsed) -> Fact | None:
    """A model config (config.json) line that makes the model a mixture-of-experts: an expert count above one or a
    `model_type` of a MoE architecture (`qwen3_moe`, `glm4v_moe`)."""
    for fact in parsed.facts:
        if fact.key in _EXPERT_COUNTS and isinstance(fact.value, int) and not isinstance(fact.value, bool) \
                and fact.value > 1:
            return fact
        if fact.key == "model_type" and isinstance(fact.value, str) and fact.value.lower().endswith("moe"):
            return fact
    return None


# template name -> model families it belongs to; generic templates fit base models only
# (kb/tables/model-families.yaml)
_TEMPLATE_FAMILIES: dict[str, set[str]] = {e.template: set(e.families) for e in TABLES.templates}
_GENERIC_TEMPLATES = set(TABLES.generic_templates)


_TEMPLATE_KEYS = ("template", "chat_template_name", "conv_template", "chat_template")


def _template_name(fact: Fact) -> str | None:
    # A tokenizer_config's chat_template is a Jinja string, not a template name.
    if not isinstance(fact.value, str) or len(fact.value) > 40 or "{" in fact.value:
        return None
    return re.sub(r"^(llama|gemma|phi|qwen)-(\d)", r"\1\2", fact.value.lower())


def _fits(template: str, family: str, is_base: bool | None) -> bool | None:
    if template in _GENERIC_TEMPLATES:
        return None if is_base is None else bool(is_base)
    if template in _TEMPLATE_FAMILIES:
        return family in _TEMPLATE_FAMILIES[template]
    return None


# A template named in a sentence: "template: default", "用 qwen 模板", "模板选的 llama3", "the alpaca template". Only
# names the template table knows, so an ordinary word never becomes one; "the default template" in English is a
# phrase, not the `default` template. Not where the clause negates or conditions it before the name, or advises it or
# reports it as the change that worked ("改成 qwen 模板后正常", "use the qwen template instead").
_TEMPLATE_NAMES = "|".join(sorted((re.escape(t) for t in {*_TEMPLATE_FAMILIES, *_GENERIC_TEMPLATES}),
                                  key=len, reverse=True))
_PHRASE_WORDS = {"default", "empty", "plain"}
_PROSE_TEMPLATE = re.compile(
    r"(?i)(?:template|模板|模版)\s*(?:[:：=]|is|was|用的是?|选的是?|选了|用了|设为|设置为|为|是)?\s*`?"
    rf"(?P<after>{_TEMPLATE_NAMES})`?(?![A-Za-z0-9_.\-])"
    rf"|(?<![A-Za-z0-9_.\-])`?(?P<before>{_TEMPLATE_NAMES})`?\s*(?P<word>template|模板|模版)(?![A-Za-z])"
)


def _prose_templates(parsed: Parsed) -> list[tuple[str, Line]]:
    """The templates the prose names for the run, each with the first line naming it, in order."""
    named: dict[str, Line] = {}
    for line in prose_lines(parsed):
        for match in _PROSE_TEMPLATE.finditer(line.text):
            name = (match.group("after") or match.group("before")).lower()
            if match.group("before") and match.group("word").lower() == "template" and name in _PHRASE_WORDS:
                continue
            if negated_before(line.text, match.start(), match.end()) \
                    or CHANGE_OR_ADVICE.search(clause(line.text, match.start(), match.end())):
                continue
            named.setdefault(name, line)
    return list(named.items())


@extractor(provides=[
    signal("template", "str", "Prompt template name (LLaMA-Factory `template`, LLaVA `--version`; with none "
           "configured, the ones the prose names: `template: default`, `用 qwen 模板`)."),
    signal("template.matches_model", "bool",
           "The template belongs to the model's family (a generic template such as `default` fits base models "
           "only); false when any template the paste names does not; unset when two differ but each fits."),
    signal("template.differs", "bool",
           "The paste names two different templates (training with one, chat or export with another)."),
], requires=["model.family", "model.is_base"])
def template(parsed: Parsed, out: Scope) -> None:
    named = [(f.line, name) for f in parsed.facts if f.key in _TEMPLATE_KEYS and f.value is not None
             and (name := _template_name(f)) is not None]
    if not named:
        named = [(line, name) for name, line in _prose_templates(parsed)]
    if not named:
        return
    last, template = named[-1]
    out.set("template", template, [last])
    distinct = {name: line for line, name in named}
    if len(distinct) > 1:
        out.set("template.differs", True, list(distinct.values()))
    family = out.get("model.family")
    is_base = out.get("model.is_base")
    if family is None:
        return
    fits = {name: fit for name in distinct
            if (fit := _fits(name, family.value, None if is_base is None else bool(is_base.value))) is not None}
    if fits:
        # One template of another family is enough: training or chat used it.
        wrong = [name for name, fit in fits.items() if not fit]
        if not wrong and len(distinct) > 1:
            return  # each fits, but training and chat differ: not the all-clear that `true` gives
        shown = wrong or list(fits)
        out.set("template.matches_model", not wrong, [distinct[name] for name in shown[:2]] + list(family.lines))


# "学习率 5e-4", "learning rate of 2e-4", "lr 1e-3": the run's learning rate said in prose. ASCII bounds rather than
# \b or \w: CJK characters are word characters in Python ("学习率5e-4", "设成1e-3后").
_PROSE_LR = re.compile(
    r"(?i)(?:学习率|(?<![A-Za-z])learning[ _-]?rate|(?<![A-Za-z])lr(?![A-Za-z]))\s*"
    r"(?:(?:是|为|设为|设置为|设成|设置成|用的是|用了|用|of|is|was|at|set to|=|:|：)\s*)?"
    r"(\d+(?:\.\d+)?(?:e-?\d+)?)(?![A-Za-z0-9_.])")
# A setting in advice or a fix ("lowering the lr to 1e-5 fixed it", "建议把学习率调到 1e-5", "should I try LoRA?") is
# not the run's.
_SETTING_ADVICE = re.compile(r"(?i)(调到|调成|调小|调低|降到|降低|减小|改成|改为|换成|建议|推荐|试试|尝试|应该|"
                             r"lower|reduc|decreas|try|should|recommend|instead|suggest|fix|solv)")
# The kind of fine-tuning said in prose: "全参微调", "full fine-tuning", "QLoRA 微调", "with LoRA".
_PROSE_FULL = re.compile(r"(?i)全参|全量(微调|训练|参数)|"
                         r"(?<![a-z])full[- ](parameters?[- ])?(fine[- ]?tun\w*|finetun\w*|training|sft|ft)(?![a-z])|"
                         r"(?<![a-z])full[- ]?param(eter)?s?(?![a-z])")
_PROSE_LORA = re.compile(r"(?i)(?<![a-z])(q?lora)(?![a-z])")


# Gradient checkpointing said in prose: "开了梯度检查点", "with gradient checkpointing enabled", "没开梯度检查点".
# A change that fixed the run ("关掉梯度检查点后正常了") says nothing certain of the failing run: skipped as advice.
_GC_WORDS = r"(?:梯度检查点|(?<![A-Za-z_])gradient[ -]checkpointing(?![A-Za-z_]))"
_PROSE_GC_ON = re.compile(
    r"(?i)(?:开了|开着|开启了?|打开了?|启用了?|使用了?|用了|加了|(?<![a-z])(?:with|using|uses?|enabled?|turned on)\s+)"
    r"\s*(?:the\s+)?" + _GC_WORDS + r"|" + _GC_WORDS + r"\s*(?:is\s+|was\s+)?(?:是)?"
    r"(?:开着|开启了?|打开了?|启用了?|开了|(?:enabled|turned on|on)(?![a-z]))")
_PROSE_GC_OFF = re.compile(
    r"(?i)(?:没开|没有开启?|未开启|关了|关着|关闭了?|关掉了?|禁用了?|(?<![a-z])(?:without|disabled?|turned off|no)\s+)"
    r"\s*(?:the\s+)?" + _GC_WORDS + r"|" + _GC_WORDS + r"\s*(?:is\s+|was\s+)?(?:是)?"
    r"(?:关着|关闭了?|关掉了?|关了|没开|禁用了?|(?:disabled|turned off|off)(?![a-z]))")
_GC_ADVICE = re.compile(_SETTING_ADVICE.pattern + r"|正常|好了|解决|就能|就可以|没问题|不再|消失|"
                        r"(?<![a-z])(works?|worked|fixe[sd]|went away|goes away|no longer)(?![a-z])")


def _prose_gradient_checkpointing(parsed: Parsed) -> tuple[bool, Line] | None:
    """Whether the prose says gradient checkpointing was on (one reading only; a negated "on" is no reading)."""
    def on(match: re.Match[str]) -> bool | None:
        return None if negated_before(match.string, match.start(), match.end()) else True

    return named_once(parsed, [(_PROSE_GC_OFF, lambda _: False), (_PROSE_GC_ON, on)], _GC_ADVICE)


def _learning_rate_of(match: re.Match[str]) -> float | None:
    value = float(match.group(1))
    return value if 0 < value < 1 else None


def _prose_learning_rate(parsed: Parsed) -> tuple[float, Line] | None:
    return named_once(parsed, [(_PROSE_LR, _learning_rate_of)], _SETTING_ADVICE)


def _prose_finetuning_type(parsed: Parsed) -> tuple[str, Line] | None:
    """`full`, `lora` or `qlora` when the prose names exactly one kind."""
    return named_once(parsed, [(_PROSE_FULL, lambda _: "full"), (_PROSE_LORA, lambda m: m.group(1).lower())],
                      _SETTING_ADVICE)


def _number(fact: Fact | None) -> float | None:
    if fact is None:
        return None
    if isinstance(fact.value, bool):
        return None
    if isinstance(fact.value, (int, float)):
        return float(fact.value)
    return None


@extractor(provides=[
    signal("cutoff_len", "int", "Maximum sequence length: cutoff_len, max_seq_length, model_max_length, max_length."),
    signal("finetuning_type", "str",
           "`lora`, `qlora`, `full` or `freeze` (config, PEFT calls, or the one kind the prose names: `全参微调`, "
           "`QLoRA`)."),
    signal("lora.target", "str", "LoRA target modules as written (lora_target / target_modules)."),
    signal("lora.rank", "int",
           "LoRA rank (lora_rank / r).",
           internal="reported with the diagnosis (JSON `signals`); no matcher tests it yet"),
    signal("learning_rate", "float",
           "Configured peak learning rate (or, with none configured, the one learning rate the prose names as the "
           "run's: `学习率 5e-4`, `learning rate of 2e-4`; advice such as `lower the lr to 1e-5` is not read)."),
    signal("batch_size", "int", "Per-device train batch size."),
    signal("grad_accum", "int", "gradient_accumulation_steps."),
    signal("max_grad_norm", "float",
           "Gradient clipping threshold (max_grad_norm).",
           internal="reported with the diagnosis (JSON `signals`); no matcher tests it yet"),
    signal("save_only_model", "bool", "Checkpoints are saved without optimizer/scheduler state (save_only_model)."),
    signal("gradient_checkpointing", "bool",
           "Gradient checkpointing is on (config, or the prose: `开了梯度检查点`, `with gradient checkpointing`)."),
    signal("quantization", "str",
           "`4bit` or `8bit` when the model is loaded quantized (quantization_bit, load_in_4bit/8bit)."),
    signal("low_cpu_mem_usage", "bool",
           "`low_cpu_mem_usage` passed when loading the model.",
           internal="reported with the diagnosis (JSON `signals`); no matcher tests it yet"),
    signal("device_map", "str", "device_map passed when loading the model (e.g. `auto`)."),
    signal("eval.enabled", "bool",
           "Evaluation or prediction runs (do_eval, do_predict, predict_with_generate, eval_strategy)."),
    signal("eval.batch_size", "int", "per_device_eval_batch_size."),
    signal("dataset", "str", "Dataset name(s) as configured."),
    signal("max_samples", "int", "LLaMA-Factory's per-dataset sample cap (max_samples; unset means every sample)."),
])
def training_args(parsed: Parsed, out: Scope) -> None:  # noqa: C901 - one branch per TrainingArguments field read
    facts = parsed.facts

    def number_signal(name: str, keys: tuple[str, ...], cast: Callable[[float], object]) -> None:
        fact = last_fact(facts, *keys)
        value = _number(fact)
        if fact is not None and value is not None:
            out.set(name, cast(value), [fact.line])

    number_signal("cutoff_len", ("cutoff_len", "max_seq_length", "model_max_length", "max_seq_len", "sequence_len",
                                 "max_length", "max_source_length"), int)
    number_signal("learning_rate", ("learning_rate", "lr"), float)
    if _number(last_fact(facts, "learning_rate", "lr")) is None and (prose_lr := _prose_learning_rate(parsed)):
        out.set("learning_rate", prose_lr[0], [prose_lr[1]])
    number_signal("batch_size", ("per_device_train_batch_size", "train_batch_size", "micro_batch_size",
                                 "train_micro_batch_size_per_gpu", "batch_size"), int)
    number_signal("grad_accum", ("gradient_accumulation_steps", "gradient_accumulation"), int)
    number_signal("max_grad_norm", ("max_grad_norm", "gradient_clipping"), float)
    number_signal("eval.batch_size", ("per_device_eval_batch_size", "eval_batch_size"), int)
    number_signal("lora.rank", ("lora_rank", "lora_r"), int)
    number_signal("max_samples", ("max_samples",), int)

    for name, keys in (("save_only_model", ("save_only_model",)),
                       ("gradient_checkpointing", ("gradient_checkpointing",))):
        fact = last_fact(facts, *keys)
        if fact is not None and truthy(fact.value) is not None:
            out.set(name, truthy(fact.value), [fact.line])
    if not out.has("gradient_checkpointing") and (said_gc := _prose_gradient_checkpointing(parsed)):
        out.set("gradient_checkpointing", said_gc[0], [said_gc[1]])

    fact = last_fact(facts, "finetuning_type", "finetune_type", "train_type", "tuner_backend")
    if fact is not None and isinstance(fact.value, str) and fact.value.lower() in ("lora", "qlora", "full", "freeze"):
        out.set("finetuning_type", fact.value.lower(), [fact.line])
    else:
        peft = first_match(out.index, re.compile(r"LoraConfig\(|get_peft_model\(|\blora_target\b|target_modules"))
        if peft:
            out.set("finetuning_type", "lora", [peft[1]])
        elif said := _prose_finetuning_type(parsed):
            out.set("finetuning_type", said[0], [said[1]])

    fact = last_fact(facts, "lora_target", "target_modules", "lora_target_modules")
    if fact is not None and fact.value is not None:
        out.set("lora.target", str(fact.value), [fact.line])

    quant = last_fact(facts, "quantization_bit", "load_in_4bit", "load_in_8bit", "bits")
    if quant is not None:
        if quant.key == "quantization_bit" or quant.key == "bits":
            if quant.value in (4, 8):
                out.set("quantization", f"{quant.value}bit", [quant.line])
        elif truthy(quant.value):
            out.set("quantization", "4bit" if "4" in quant.key else "8bit", [quant.line])

    fact = last_fact(facts, "low_cpu_mem_usage")
    if fact is not None and truthy(fact.value) is not None:
        out.set("low_cpu_mem_usage", truthy(fact.value), [fact.line])

    fact = last_fact(facts, "device_map")
    if fact is not None and fact.value is not None:
        out.set("device_map", str(fact.value), [fact.line])

    evals = [f for f in facts if f.key in ("do_eval", "do_predict", "predict_with_generate") and truthy(f.value)]
    strategy = last_fact(facts, "eval_strategy", "evaluation_strategy")
    if strategy is not None and isinstance(strategy.value, str) and strategy.value.lower() in ("steps", "epoch"):
        evals.append(strategy)
    if evals:
        out.set("eval.enabled", True, [evals[-1].line])

    fact = last_fact(facts, "dataset", "dataset_name", "datasets")
    if fact is not None and isinstance(fact.value, str):
        out.set("dataset", fact.value, [fact.line])



_TRAINABLE = re.compile(r"(?i)trainable params:?\s*([\d,]+)")


@extractor(provides=[
    signal("trainable_params", "int",
           "Trainable parameter count printed by PEFT/LLaMA-Factory (`trainable params: N`).",
           internal="reported with the diagnosis (JSON `signals`); no matcher tests it yet"),
])
def trainable_params(parsed: Parsed, out: Scope) -> None:
    """The count PEFT and LLaMA-Factory print (`trainable params: N`)."""
    hit = first_match(out.index, _TRAINABLE)
    if hit:
        out.set("trainable_params", int(hit[0].group(1).replace(",", "")), [hit[1]])
