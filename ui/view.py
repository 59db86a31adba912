"""The chat's answer layout: the headline first, then the one question that decides, then the evidence as quoted
lines with plain-language labels, the fix with one "apply this first" patch, what else it could be, and related
articles as links to the article page (/ui/article/ID). Internal ids stay in the JSON (and in link targets).

The CLI keeps service/render.py; this is the same DiagnoseResult laid out for a chat window.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from service.models import DiagnoseResult, DifferentialOut, Evidence
from service.render import NO_RULE_EVIDENCE, PASTE_MORE, patch_snippet
from service.vocabulary import SIGNALS

ARTICLE_PATH = "/ui/article/"
ANSWERS_PART = "answers"

T = {
    "en": {
        "not_sure": "Not sure enough to name one cause yet", "likely": "Most likely:",
        "none": "No diagnosis yet", "none_text": "Nothing in what you sent supports a known cause.",
        "question": "To decide between them", "question_one": "Next question",
        "buttons": "Answer with a button below the chat, or type your answer.",
        "paste_more": PASTE_MORE["en"],
        "confirmed": "confirmed by the rules", "probable": "probable", "confidence": "confidence",
        "evidence": "Evidence", "fix": "Fix", "patch": "Config patch", "first": "Apply this first",
        "first_why": "the fix of the most likely cause; the other patch below only if this one does not help",
        "later": "Config patch (only if the first fix did not help)",
        "download": "Your pasted config with this patch merged in is ready to download below the chat",
        "refs": "References", "similar": "Similar real reports", "diff": "Could also be",
        "more": "Other things that would tell them apart", "related": "Related articles",
        "candidate": "possible", "ruled_out": "ruled out", "no_evidence": "no evidence yet",
        "you_said": "you said", "your_answer": "your answer", "page": "read the article",
        "also": "Also diagnosed", "colon": ":",
    },
    "zh": {
        "not_sure": "还不能确定是哪一个原因", "likely": "最可能的是：",
        "none": "暂时无法诊断", "none_text": "你发送的内容中没有证据支持任何已知原因。",
        "question": "为了区分它们", "question_one": "下一个问题",
        "buttons": "点击聊天框下方的按钮回答，或直接输入。",
        "paste_more": PASTE_MORE["zh"],
        "confirmed": "规则确认", "probable": "很可能", "confidence": "置信度",
        "evidence": "证据", "fix": "解决方法", "patch": "配置补丁", "first": "先应用这个补丁",
        "first_why": "这是最可能原因的修复；只有它不起作用时，才应用下面的另一个补丁",
        "later": "配置补丁（仅当第一个修复无效时）",
        "download": "已把补丁合并进你贴出的配置，可在聊天框下方下载",
        "refs": "参考", "similar": "相似的真实报告", "diff": "也可能是",
        "more": "还可以用这些信息区分", "related": "相关文章",
        "candidate": "可能", "ruled_out": "已排除", "no_evidence": "暂无证据",
        "you_said": "你说", "your_answer": "你的回答", "page": "查看文章",
        "also": "同时诊断出", "colon": "：",
    },
}

# Plain-language labels for the signals that show up as evidence (the rest fall back to the vocabulary's text).
SIGNAL_LABELS: dict[str, tuple[str, str]] = {
    "precision": ("precision setting", "精度设置"),
    "tf32": ("TF32 setting", "TF32 设置"),
    "model.dtype": ("model load dtype", "模型加载精度"),
    "deepspeed.enabled": ("DeepSpeed in use", "使用了 DeepSpeed"),
    "deepspeed.stage": ("ZeRO stage", "ZeRO 阶段"),
    "deepspeed.overlap_comm": ("DeepSpeed overlap_comm", "DeepSpeed overlap_comm 设置"),
    "deepspeed.offload": ("DeepSpeed CPU/NVMe offload", "DeepSpeed CPU/NVMe offload"),
    "attn.impl": ("attention implementation", "attention 实现"),
    "model.name": ("model", "模型"), "model.family": ("model family", "模型系列"),
    "model.is_base": ("base (not instruct) model", "基座模型（非 instruct）"),
    "model.is_moe": ("mixture-of-experts model", "MoE 模型"),
    "model.is_multimodal": ("vision-language model", "多模态模型"),
    "template": ("prompt template", "对话模板"), "template.matches_model": ("template vs model", "模板与模型是否匹配"),
    "cutoff_len": ("maximum sequence length", "最大序列长度"), "finetuning_type": ("fine-tuning type", "微调方式"),
    "lora.target": ("LoRA target modules", "LoRA 目标模块"), "lora.rank": ("LoRA rank", "LoRA rank"),
    "learning_rate": ("learning rate", "学习率"), "batch_size": ("per-device batch size", "单卡 batch size"),
    "grad_accum": ("gradient accumulation steps", "梯度累积步数"), "max_grad_norm": ("gradient clipping", "梯度裁剪"),
    "save_only_model": ("save_only_model setting", "save_only_model 设置"),
    "gradient_checkpointing": ("gradient checkpointing", "gradient checkpointing"),
    "quantization": ("quantized loading", "量化加载"), "device_map": ("device_map", "device_map"),
    "eval.enabled": ("evaluation runs", "运行了评估"), "eval.batch_size": ("eval batch size", "评估 batch size"),
    "dataset": ("dataset", "数据集"), "launcher": ("how training was launched", "启动方式"),
    "gpus.visible": ("visible GPUs", "可见 GPU 数"), "gpu.model": ("GPU model", "GPU 型号"),
    "gpu.compute_capability": ("GPU compute capability", "GPU 计算能力"),
    "gpu.bf16": ("GPU bf16 support", "GPU 是否支持 bf16"), "gpu.count": ("number of GPUs", "GPU 数量"),
    "gpu.p2p_limited": ("GPU peer-to-peer support", "GPU P2P 支持"),
    "metrics.loss_zero": ("loss is 0", "loss 为 0"), "metrics.loss_zero_streak": ("loss stays 0", "loss 持续为 0"),
    "metrics.loss_nan": ("loss is NaN", "loss 为 NaN"),
    "metrics.grad_norm_nan": ("grad_norm is NaN", "grad_norm 为 NaN"),
    "metrics.grad_norm_zero": ("grad_norm is exactly 0", "grad_norm 恰好为 0"),
    "metrics.nan_from_start": ("NaN from the first steps", "从最初几步就是 NaN"),
    "metrics.nan_at_lr_zero": ("NaN while the learning rate is still 0", "学习率仍为 0 时就出现 NaN"),
    "metrics.nan_after_healthy": ("NaN after healthy steps", "正常训练若干步后出现 NaN"),
    "metrics.diverged": ("loss fell, then climbed back", "loss 先降后升"),
    "metrics.loss_scales_with_ga": ("loss grows with gradient accumulation", "loss 随梯度累积步数成比例增大"),
    "metrics.healthy": ("training metrics look healthy", "训练指标正常"),
    "metrics.initial_loss": ("initial loss", "初始 loss"), "metrics.records": ("training metrics", "训练指标"),
    "exception.type": ("the exception raised", "抛出的异常"), "exception.message": ("the error message", "报错信息"),
    "warning.fp16_overflow": ("fp16 loss-scale overflow", "fp16 loss scale 溢出"),
    "warning.loss_scale_min": ("loss scale at its minimum", "loss scale 已到最小值"),
    "warning.labels_masked": ("labels are all -100", "标签全是 -100"),
    "warning.tokenization_mismatch": ("tokenization mismatch warning", "tokenization mismatch 警告"),
    "warning.response_key_missing": ("response key not found", "找不到 response key"),
    "warning.requires_grad_none": ("no input requires grad", "输入都不需要梯度"),
    "warning.cudnn_sdpa_strides": ("cuDNN SDPA strides warning", "cuDNN SDPA strides 警告"),
    "warning.sequence_too_long": ("sequence longer than the maximum", "序列超过最大长度"),
    "size_mismatch.kind": ("which dimension differs", "哪个维度不一致"),
    "version.cuda": ("CUDA version", "CUDA 版本"), "os": ("operating system", "操作系统"),
    "trainable_params": ("trainable parameter count", "可训练参数量"),
}
_TOKENS = {"nan": "NaN", "oom": "out of memory", "fp16": "fp16", "bf16": "bf16", "ds": "DeepSpeed", "fa": "flash-attn",
           "gc": "gradient checkpointing", "lr": "learning rate", "ga": "gradient accumulation", "cuda": "CUDA",
           "nccl": "NCCL", "lora": "LoRA", "zero2": "ZeRO-2", "zero3": "ZeRO-3", "eos": "EOS", "mm": "multimodal",
           "trl": "TRL", "grpo": "GRPO", "moe": "MoE", "ram": "RAM", "gpu": "GPU", "gpus": "GPUs",
           "bnb": "bitsandbytes",
           "ddp": "DDP", "sdpa": "SDPA", "vl": "VL", "pt": "pre-training", "hf": "Hugging Face", "rtx40": "RTX 40xx",
           "llama3": "Llama-3", "gemma3": "Gemma-3", "verl": "verl", "api": "API", "kwarg": "argument", "ids": "ids"}


def _humanize(matcher_id: str) -> str:
    words = [w for w in matcher_id.split("-") if w not in ("prose", "en", "zh")]
    return " ".join(_TOKENS.get(w, w) for w in words)


def evidence_label(signal: str, lang: str) -> str:
    """`precision` -> "precision setting"; `bf16-numerical-instability:prose-loss-zero-nan` -> "matches “loss zero
    NaN”" (the matcher's id in words); a signal without a label -> the start of its vocabulary text."""
    zh = lang == "zh"
    if signal in SIGNAL_LABELS:
        return SIGNAL_LABELS[signal][1 if zh else 0]
    if signal.startswith("version."):
        return f"{signal.split('.', 1)[1].replace('_', '-')} {'版本' if zh else 'version'}"
    if ":" in signal:
        words = _humanize(signal.split(":", 1)[1])
        return f"匹配“{words}”" if zh else f"matches “{words}”"
    if signal in SIGNALS:
        return SIGNALS[signal].doc.split(":")[0].split(" (")[0].rstrip(".")
    return signal


def code(text: str) -> str:
    """Inline code that survives backticks in the text."""
    text = text.strip()[:200]
    fence = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def paste_block(text: str) -> str:
    """A paste shown as a fenced code block (never Markdown-rendered: `### model` stays a line)."""
    fence = "`" * max(3, max((len(m) for m in re.findall(r"`{3,}", text)), default=0) + 1)
    return f"{fence}text\n{text}\n{fence}"


def article_link(article_id: str, title: str) -> str:
    return f"[{_escape_link_text(title)}]({ARTICLE_PATH}{article_id})"


def _escape_link_text(text: str) -> str:
    return text.replace("[", "\\[").replace("]", "\\]")


def _where(e: Evidence, said: dict[int, str], lang: str) -> str:
    if e.part == ANSWERS_PART:
        words = said.get(e.line, "")
        return f"{T[lang]['your_answer']} “{words}”" if words else T[lang]["your_answer"]
    return f"{e.part}:{e.line}"


def evidence_lines(evidence: list[Evidence], lang: str, said: dict[int, str], limit: int = 10) -> list[str]:
    """One quoted line per input line, with what it shows in plain words."""
    grouped: dict[tuple[str, int], tuple[Evidence, list[str]]] = {}
    for e in evidence:
        labels = grouped.setdefault((e.part, e.line), (e, []))[1]
        label = evidence_label(e.signal, lang)
        if label not in labels:
            labels.append(label)
    out = []
    for (_, _), (e, labels) in sorted(grouped.items(), key=lambda kv: (kv[0][0] == ANSWERS_PART, kv[0]))[:limit]:
        out.append(f"- {_where(e, said, lang)} {code(e.text)} — {('；' if lang == 'zh' else '; ').join(labels)}")
    return out


def _meta(status: str, confidence: float, lang: str) -> str:
    t = T[lang]
    return f"{t[status]} · {t['confidence']} {confidence:.2f}"


def link_ids(text: str, titles: dict[str, str]) -> str:
    """Article ids that KB prose names ("see bf16-numerical-instability") -> links titled in words."""
    if not titles or "-" not in text:
        return text
    pattern = re.compile(r"(?<![\w/`-])(" + "|".join(map(re.escape, sorted(titles, key=len, reverse=True))) +
                         r")(?![\w`-])")
    return pattern.sub(lambda m: article_link(m.group(1), titles[m.group(1)]), text)


def _diff_line(item: DifferentialOut, lang: str, titles: dict[str, str]) -> str:
    t = T[lang]
    probability = f", {item.probability:.2f}" if item.probability is not None else ""
    line = (f"- **{article_link(item.id, item.title)}** ({t[item.status]}{probability}): "
            f"{link_ids(item.confirm, titles)}")
    return line + (f" — {link_ids(item.reason, titles)}" if item.reason else "")


def _headline(result: DiagnoseResult, lang: str) -> str:
    """The first lines: the diagnosis (with any others named), or the most likely causes, or none."""
    t = T[lang]
    likely = result.likely()
    if result.diagnoses:
        first = result.diagnoses[0]
        head = f"## {article_link(first.id, first.title)}\n{_meta(first.status, first.confidence, lang)}"
        if len(result.diagnoses) > 1:
            head += "  \n" + t["also"] + t["colon"] + " " + "; ".join(
                article_link(d.id, d.title) for d in result.diagnoses[1:])
        return head
    if likely:
        shown = "; ".join(f"{article_link(d.id, d.title)}"
                          f"{f' ({d.probability:.2f})' if d.probability is not None else ''}" for d in likely)
        return f"## {t['not_sure']}\n{t['likely']}{'' if lang == 'zh' else ' '}{shown}"
    return f"## {t['none']}\n{t['none_text']}"


def _diagnosis_blocks(result: DiagnoseResult, lang: str, said: dict[int, str], titles: dict[str, str],
                      downloads: list[str]) -> list[str]:
    """Each diagnosis: cause, evidence, fix, the patch (one applied first), references."""
    t = T[lang]
    blocks: list[str] = []
    patched = [d for d in result.diagnoses if d.fix.patch]
    for rank, d in enumerate(result.diagnoses, start=1):
        if rank > 1:
            blocks.append(f"---\n## {rank}. {article_link(d.id, d.title)}\n{_meta(d.status, d.confidence, lang)}")
        blocks.append(link_ids(d.cause, titles))
        evidence = "\n".join(evidence_lines(d.evidence, lang, said)) or NO_RULE_EVIDENCE[lang]
        blocks.append(f"**{t['evidence']}**\n{evidence}")
        blocks.append(f"**{t['fix']}**\n" + "\n".join(f"{i}. {link_ids(step, titles)}"
                                                  for i, step in enumerate(d.fix.steps, start=1)))
        if d.fix.patch:
            if len(patched) > 1:
                heading = f"**{t['first']}** ({t['first_why']})" if d is patched[0] else f"**{t['later']}**"
            else:
                heading = f"**{t['patch']}**"
            body = "\n\n".join(f"{target}:\n{patch_snippet(target, patch)}" for target, patch in
                               sorted(d.fix.patch.items()))
            blocks.append(f"{heading}\n\n{body}")
            if d is patched[0] and downloads:
                blocks.append(f"**{t['download']}{t['colon']}** " + ", ".join(code(name) for name in downloads))
        refs = [f"- {ref}" for ref in d.references] + [f"- {article_link(d.id, t['page'])}"]
        blocks.append(f"**{t['refs']}**\n" + "\n".join(refs))
        if d.similar_reports:
            blocks.append(f"**{t['similar']}**\n" + "\n".join(
                f"- {s.url} ({s.similarity:.2f})" for s in d.similar_reports))
    return blocks


def render_answer(result: DiagnoseResult, *, lang: str | None = None, question: str | None = None,
                  other_questions: Sequence[str] = (), said: dict[int, str] | None = None,
                  notes: Sequence[str] = (), downloads: Sequence[str] = (), follow_up: str | None = None,
                  titles: dict[str, str] | None = None) -> str:
    """The Markdown of one chat answer. `question` is the one to ask next (already filtered of answered ones);
    `titles` (article id -> title) turns ids named in KB prose into links."""
    lang = lang or result.lang
    t = T[lang]
    titles = titles or {}
    blocks = [_headline(result, lang)]
    if follow_up:
        blocks.append(follow_up)
    if question:
        several = not result.diagnoses and len(result.likely()) > 1
        blocks.append(f"**{t['question'] if several else t['question_one']}{t['colon']}** {question}  \n"
                      f"_{t['buttons']}_")
    elif not result.diagnoses:
        blocks.append(t["paste_more"])
    blocks += [f"_{note}_" for note in notes]
    blocks += _diagnosis_blocks(result, lang, said or {}, titles, list(downloads))
    if shown := result.shown_differential():
        blocks.append(f"### {t['diff']}\n" + "\n".join(_diff_line(item, lang, titles) for item in shown))
    if other_questions:
        blocks.append(f"### {t['more']}\n" + "\n".join(f"- {q}" for q in other_questions))
    listed = {d.id for d in result.diagnoses} | {d.id for d in result.differential}
    related = [r for r in result.related if r.id not in listed]
    if related:
        blocks.append(f"### {t['related']}\n" + "\n".join(f"- {article_link(r.id, r.title)}" for r in related))
    blocks += [f"> {note}" for note in result.notes]
    return "\n\n".join(blocks) + "\n"
