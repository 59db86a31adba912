"""The error: the last exception, known warning lines, and what a `size mismatch` load error says."""

from __future__ import annotations

import math
import re

from service.models import Line, Parsed
from service.signals.registry import Scope, extractor, signal
from service.signals.tables import TABLES

_EXCEPTION = re.compile(
    r"(?m)^[ \t]*(?:\[rank\d+\]:[ \t]*)?((?:[A-Za-z_][\w]*\.)*[A-Z]\w*(?:Error|Exception|Interrupt|Exit))(?::[ \t]*(.*"
        r"))?$"
)

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


@extractor(provides=[
    signal("size_mismatch.kind", "str",
           "Which dimension differs in `size mismatch ... copying a param with shape X ... current model Y`: `zero` "
           "(a 0-sized partition), `vocab` (embeddings/lm_head rows), `rank` (only a LoRA rank dimension) or `hidden` "
           "(hidden/MLP sizes: another base model).",
           internal="reported with the diagnosis (JSON `signals`); no matcher tests it yet"),
])
def size_mismatch(parsed: Parsed, out: Scope) -> None:
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


_SIZE = r"([\d.]{1,12}) ?(bytes|KiB|MiB|GiB|TiB)"  # bounded: linear on adversarial lines (tests/security)
_UNITS = {"bytes": 1 / 2**30, "KiB": 1 / 2**20, "MiB": 1 / 2**10, "GiB": 1.0, "TiB": 2**10}
# torch < 2.1: "(GPU 7; 31.74 GiB total capacity; 3.22 GiB already allocated; 15.38 MiB free; 3.27 GiB reserved in
# total by PyTorch)". Later: "GPU 1 has a total capacity of 22.00 GiB of which 20.28 GiB is free. ... this process has
# 1.7 GiB memory in use. Of the allocated memory 527 MiB is allocated by PyTorch, and 33 MiB is reserved by PyTorch but
# unallocated." (`capacty` is torch's own typo in some versions.)
_OOM_OLD = re.compile(_SIZE + r" total capacity; (?:[^;]{0,60}; )?" + _SIZE + r" free; " + _SIZE +
                      r" reserved in total by PyTorch")
_OOM_NEW = re.compile(r"total capac\w{0,4} of " + _SIZE + r" of which " + _SIZE + r" is free")
_OOM_OWN = re.compile(r"this process has " + _SIZE + r" memory in use")
_OOM_PYTORCH = re.compile(r"allocated memory " + _SIZE + r" is allocated by PyTorch, and " + _SIZE +
                          r" is reserved by PyTorch but unallocated")
_OOM_TRIED = re.compile(r"Tried to allocate " + _SIZE)


def _gib(match: re.Match, group: int) -> float:
    return float(match.group(group)) * _UNITS[match.group(group + 1)]


def oom_held_elsewhere(text: str) -> float | None:
    """The share of the GPU that neither this process nor the free pool held when a CUDA allocation failed:
    (total - free - this process's memory) / total, from torch's OOM message; None when the line does not say all
    three. Near 0 for a training step's own footprint; near 1 when another job, or other ranks placed on the same GPU,
    hold the card."""
    old, new = _OOM_OLD.search(text), _OOM_NEW.search(text)
    mine, pytorch = _OOM_OWN.search(text), _OOM_PYTORCH.search(text)
    if old:
        total, free, own = _gib(old, 1), _gib(old, 3), _gib(old, 5)
    elif new and mine:
        total, free, own = _gib(new, 1), _gib(new, 3), _gib(mine, 1)
    elif new and pytorch:
        total, free, own = _gib(new, 1), _gib(new, 3), _gib(pytorch, 1) + _gib(pytorch, 3)
    else:
        return None
    if total <= 0:
        return None
    return round(max(0.0, total - free - own) / total, 3)


def oom_free_over_request(text: str) -> float | None:
    """How many times the allocation that failed would have fitted in the memory the OOM message reports free:
    free / the segment the allocator needed for the request; None when the line does not give both. A real shortage
    is at most about 1 (the allocator has already released its cache and retried before raising); far above it, the
    step did not run out of memory."""
    tried = _OOM_TRIED.search(text)
    sizes = _OOM_OLD.search(text) or _OOM_NEW.search(text)
    if not tried or not sizes:
        return None
    requested = _gib(tried, 1)
    if requested <= 0:
        return None
    return round(_gib(sizes, 3) / _segment_gib(requested), 2)


def _segment_gib(requested: float) -> float:
    """What PyTorch's caching allocator asks the driver for to serve a request: a 2 MiB segment under 1 MiB, a 20 MiB
    one under 10 MiB, else the request rounded up to 2 MiB. (So "Tried to allocate 2 MiB" with 18 MiB free is a real
    shortage.)"""
    mib = requested * 1024
    if mib < 1:
        return 2 / 1024
    if mib < 10:
        return 20 / 1024
    return math.ceil(mib / 2) * 2 / 1024


@extractor(provides=[
    signal("oom.held_elsewhere", "float",
           "Share of the GPU that neither this process nor the free pool held when `CUDA out of memory` was raised: "
           "(total capacity - free - memory of this process) / total, from the OOM message's own figures (the last "
           "OOM line that gives all three). Near 0: the training step's own footprint; near 1: another job, or "
           "other ranks on the same GPU, hold the card."),
    signal("oom.free_over_request", "float",
           "How many times the allocation that failed (`Tried to allocate N`) would have fitted in the memory the "
           "same `CUDA out of memory` line reports free: free / the segment PyTorch's allocator needs for N (2 MiB "
           "under 1 MiB, 20 MiB under 10 MiB, else N rounded up to 2 MiB; the last OOM line that gives both). At "
           "most about 1 when the card really ran out; far above 1, the step's footprint is not what failed."),
])
def oom_memory(parsed: Parsed, out: Scope) -> None:
    held = ratio = None
    for line in parsed.lines:
        if "out of memory" in line.text and "free" in line.text:
            share = oom_held_elsewhere(line.text)
            if share is not None:
                held = (share, line)
            over = oom_free_over_request(line.text)
            if over is not None:
                ratio = (over, line)
    if held:
        out.set("oom.held_elsewhere", held[0], [held[1]])
    if ratio:
        out.set("oom.free_over_request", ratio[0], [ratio[1]])


@extractor(provides=[
    signal("exception.type", "str",
           "Type of the last exception raised (e.g. `ValueError`, `torch.OutOfMemoryError`).",
           internal="the retrieval query (service/salient.py) and the gap report (service/gaps.py) quote its line; "
                    "matchers test error lines by regex"),
    signal("exception.message", "str",
           "Message of the last exception raised.",
           internal="the retrieval query quotes its line (service/salient.py); matchers test error lines by regex"),
])
def exceptions(parsed: Parsed, out: Scope) -> None:
    """The last `...Error: message` line (tracebacks end with the exception raised)."""
    last = None
    for match, line in out.index.finditer(_EXCEPTION):
        last = (match, line)
    if last:
        match, line = last
        out.set("exception.type", match.group(1), [line])
        if match.group(2):
            out.set("exception.message", match.group(2).strip(), [line])


@extractor(provides=[
    signal("warning.tokenization_mismatch", "bool",
           "`WARNING: tokenization mismatch: N vs. M. (ignored)` (LLaVA-style preprocessing)."),
    signal("warning.labels_masked", "bool",
           "`Most/All labels in your dataset are -100` or a labels list printed as all -100."),
    signal("warning.response_key_missing", "bool",
           "TRL collator: `Could not find response key ... in the following instance`."),
    signal("warning.requires_grad_none", "bool",
           "`None of the inputs have requires_grad=True. Gradients will be None`."),
    signal("warning.fp16_overflow", "bool",
           "DeepSpeed/AMP loss-scale overflow lines: `OVERFLOW! ... Skipping step`, `Attempted loss scale`."),
    signal("warning.loss_scale_min", "bool",
           "`Current loss scale already at minimum - cannot decrease scale anymore`."),
    signal("warning.cudnn_sdpa_strides", "bool",
           "`cuDNN SDPA backward got grad_output.strides() != output.strides()`."),
    signal("warning.sequence_too_long", "bool",
           "`Token indices sequence length is longer than the specified maximum sequence length`."),
])
def known_lines(parsed: Parsed, out: Scope) -> None:
    """Known warning and status lines, one boolean signal each (kb/tables/known-lines.yaml)."""
    for name, pattern in _KNOWN_RES.items():
        hits = out.index.lines_matching(pattern, 5)
        if hits:
            out.set(name, True, hits)
