"""How training was launched, the hardware, the package versions and the operating system."""

from __future__ import annotations

import re

import re2

from service.models import Line, Parsed
from service.signals.facts import first_match, prose_lines, prose_pattern
from service.signals.registry import Scope, extractor, signal
from service.signals.tables import TABLES, scoped
from service.text import clause, negated_before

_LAUNCH = re.compile(
    r"(?m)^[ \t]*(?:\$[ \t]*)?(?:(?:export\s+)?[A-Z_][A-Z0-9_]*=\S*\s+)*(?:nohup\s+)?"
    r"(python3?(?:\s+-m\s+(torch\.distributed\.(?:run|launch)))?|torchrun|accelerate\s+launch|deepspeed|"
    r"llamafactory-cli|swift|axolotl)\b"
    # followed by a command's argument, not by a sentence ("deepspeed 配置里…") or a key's colon ("deepspeed: ds.json")
    r"(?=[ \t]+[-\w./$'\"~=]|[ \t]*$)(?![ \t]+[^\x00-\x7f])"
)
_VISIBLE = re.compile(r"CUDA_VISIBLE_DEVICES\s*=\s*['\"]?([0-9](?:\s*,\s*[0-9]+)*)")


@extractor(provides=[
    signal("launcher", "str",
           "How training was started: python, torchrun, accelerate, deepspeed, llamafactory-cli, swift (a command line;"
           " else torchrun or accelerate named in prose)."),
    signal("gpus.visible", "int", "Number of GPUs in CUDA_VISIBLE_DEVICES."),
])
def launch(parsed: Parsed, out: Scope) -> None:
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
    if not launches:
        launches = _prose_launch(parsed)
    if launches:
        kind, line = launches[-1]
        out.set("launcher", kind, [line])
    visible = _run_visible_devices(parsed, out)
    if visible:
        count = len([d for d in visible[0].group(1).split(",") if d.strip()])
        out.set("gpus.visible", count, [visible[1]])


# A distributed launcher named in a sentence ("用 torchrun --nproc_per_node 4 启动", "launched with accelerate launch"):
# only the launchers' own names and torchrun's flag, which nothing else uses. Plain `python` in prose is left to the
# articles' own patterns, and bare "deepspeed" names the library as often as its launcher.
_PROSE_LAUNCH = re.compile(r"(?i)(?<![A-Za-z0-9_-])(torchrun|accelerate\s+launch|python3?\s+-m\s+torch\.distributed\."
                           r"(?:run|launch)|--nproc[_-]per[_-]node|FORCE_TORCHRUN\s*=\s*(?:1|true))(?![A-Za-z0-9_])")
# ... unless the clause offers the launcher as advice or as what was tried next ("should I use torchrun?").
_LAUNCH_ADVICE = re.compile(r"(?i)\b(?:should|instead|try|tried|suggest\w*|recommend\w*|could|whether)\b|[?？]|"
                            r"建议|应该|改用|换成|换用|试试|尝试|是否|要不要|能否")


def _prose_launch(parsed: Parsed) -> list[tuple[str, Line]]:
    found: list[tuple[str, Line]] = []
    for line in prose_lines(parsed):
        for match in _PROSE_LAUNCH.finditer(line.text):
            around = clause(line.text, match.start(), match.end())
            if (_WORKAROUND.search(around) or _LAUNCH_ADVICE.search(around)
                    or negated_before(line.text, match.start(), match.end())):  # "no torchrun", "没有用 torchrun"
                continue
            word = match.group(1).lower()
            found.append(("accelerate" if word.startswith("accelerate") else "torchrun", line))
    return found


# "with CUDA_VISIBLE_DEVICES=0 it works", "设置 CUDA_VISIBLE_DEVICES=0 后能运行": the setting that made the run work,
# not the one it failed with.
_WORKAROUND = re.compile(r"(?i)\b(?:works?|worked|it runs|runs (?:fine|normally|ok)|fix\w*|solv\w*|resolv\w*|"
                         r"workaround)\b|正常|能运行|可以运行|能跑|可以跑|解决|就好了?|就行")


def _run_visible_devices(parsed: Parsed, out: Scope) -> tuple[re.Match[str], Line] | None:
    """The first CUDA_VISIBLE_DEVICES setting that is the run's: any in a command, env or log line; in prose, not
    one the sentence reports as the workaround."""
    prose = {(line.part, line.number) for line in prose_lines(parsed)}
    for match, line in out.index.finditer(_VISIBLE):
        if (line.part, line.number) in prose:
            start = max(0, line.text.find(match.group(0)))
            if _WORKAROUND.search(clause(line.text, start, start + len(match.group(0)))):
                continue
        return match, line
    return None


NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
                "twelve": 12, "sixteen": 16, "thirty-two": 32, "sixty-four": 64}
# Longer numerals first: the alternation takes the first that matches ("十六" before "十").
ZH_NUMBERS = {"三十二": 32, "十六": 16, "两": 2, "二": 2, "双": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9, "十": 10}


def _count(text: str) -> int:
    return int(text) if text.isdigit() else ZH_NUMBERS.get(text) or NUMBER_WORDS[text.lower()]


# canonical name, pattern, compute capability, p2p-limited (kb/tables/gpus.yaml)
_GPUS: list[tuple[str, str, float, bool]] = [
    (e.name, e.pattern, e.compute_capability, e.p2p_limited) for e in TABLES.gpus
]
# A GPU named after a count: "A100", "RTX 4090", "Ascend 910B NPU", "卡", "显卡" (a classifier alone is not one:
# "5 张图片" are five images).
_GPU_WORD = (r"(?:GPUs?|NPUs?|cards?|(?:A100|A800|H100|H800|H20|V100|P100|T4|A6000|A40|L40S?|L20|4090|3090|2080|1080|"
             r"910B)(?:\s*Ti)?s?)")
_GPU_WORD_ZH = r"(?:卡|显卡|GPU|NPU|A100|A800|H100|H800|H20|V100|P100|T4|A6000|A40|L40S?|L20|4090|3090|2080|910B|TITAN)"
# What may stand between an English count and its GPU word: sizes, vendors, model numbers ("eight A100 80GB cards").
_GPU_FILLER = (r"(?:(?:\d+\s*G[Bi]?B?|NVIDIA|Tesla|GeForce|RTX|GTX|TITAN|Ascend|Gaudi|AMD|Instinct|PCIe|SXM\d?|Ti|"
               r"NVLink(?:ed)?|[A-Z]{1,3}\d{2,4}[A-Z]?)\s+){0,4}")
_GPU_COUNT = [
    re.compile(r"(?i)GPU number\s*:\s*(\d+)"),
    prose_pattern(r"(?i)\b(\d+)\s*[x×*]\s*(?:NVIDIA\s+)?(?:Tesla\s+)?(?:GeForce\s+)?(?:RTX\s*)?[A-Z]?\d{2,4}\b"),
    re.compile(r"(?<!\d)(\d+)\s*(?:卡|张卡|块卡)"),  # (?<!\d): no restart inside a digit run
    re.compile(r"(?i)--nproc_per_node[= ](\d+)"),
    re.compile(r"(?i)num_processes\s*[:=]\s*(\d+)"),
    re.compile(r"(?i)--num_gpus[= ](\d+)"),
    prose_pattern(r"(?i)\b(\d+)\s*GPUs\b"),
    # "8 张 A100", "4 张 80G 的 A100", "8 张昇腾 NPU"; and the same counted in words or numerals: "eight A100 80GB
    # cards", "two 40 GB A100s", "seven GPUs", "两张 40GB A100", "四张 L20", "八卡". A short gap without punctuation
    # between the classifier and the GPU word.
    re.compile(r"(?i)(?<!\d)(\d{1,4}|" + "|".join(ZH_NUMBERS) + r")\s*(?:张|块)[^\n，,。；;、：:]{0,12}?"
               + _GPU_WORD_ZH),
    re.compile(r"(" + "|".join(ZH_NUMBERS) + r")卡"),
    prose_pattern(r"(?i)(?<![A-Za-z0-9_.])(\d{1,3}|" + "|".join(NUMBER_WORDS) + r")(?:\s*[x×]\s*|\s+)" + _GPU_FILLER
                  + _GPU_WORD + r"\b"),
]


# RE2: a 35-way alternation is a DFA there, but backtracks at every position in `re` (0.01 s vs 5.6 s on 4 MB).
_ANY_GPU = re2.compile("|".join(f"(?P<g{i}>{scoped(p)})" for i, (_, p, _, _) in enumerate(_GPUS)))


_SMI_ROW = re.compile(r"(?m)^\|[ \t]+\d+[ \t]+(NVIDIA|Tesla|GeForce|Quadro)")


@extractor(provides=[
    signal("gpu.model", "str",
           "GPU model, canonical (V100, T4, P100, A100, H100, RTX 4090, RTX 3090, A6000, ...).",
           internal="shown in the chat's setup summary (ui/conversation.py); matchers use gpu.bf16 and "
                    "gpu.p2p_limited"),
    signal("gpu.compute_capability", "float",
           "Compute capability of that GPU (7.0 for V100, 8.0 for A100, ...).",
           internal="reported with the diagnosis; matchers use gpu.bf16, derived from it"),
    signal("gpu.bf16", "bool", "The GPU supports bf16 (compute capability >= 8.0)."),
    signal("gpu.count", "int", "Number of GPUs seen (nvidia-smi rows, `8x`/`8卡`/`两张 A100`/`eight A100s` phrases, "
                               "GPU lists)."),
    signal("gpu.p2p_limited", "bool",
           "Consumer or PCIe workstation GPUs without reliable peer-to-peer (RTX 40xx, RTX A6000/A5000 PCIe); false "
           "for known datacenter and NVLink-capable GPUs."),
])
def hardware(parsed: Parsed, out: Scope) -> None:
    hit = out.index.first(_ANY_GPU)
    if hit:
        match, line = hit
        name, _, cc, p2p = _GPUS[int((match.lastgroup or "g0")[1:])]
        out.set("gpu.model", name, [line])
        out.set("gpu.compute_capability", cc, [line])
        out.set("gpu.bf16", cc >= 8.0, [line])
        out.set("gpu.p2p_limited", p2p, [line])
    for pattern in _GPU_COUNT:
        hit = first_match(out.index, pattern)
        if hit and 0 < _count(hit[0].group(1)) <= 1024:
            out.set("gpu.count", _count(hit[0].group(1)), [hit[1]])
            break
    else:
        smi_rows = [line for _, line in out.index.finditer(_SMI_ROW)]
        if smi_rows:
            out.set("gpu.count", len(smi_rows), smi_rows[:1])


# ---------------------------------------------------------------- versions

# "升级到 4.53 后正常", "降级到 4.45 就好了", "pinning 4.45 fixed it": in prose, the version that fixed the run.
_VERSION_WORKAROUND = re.compile(_WORKAROUND.pattern + r"|降级|回退|退回|\bdowngrad\w*|\brevert\w*")

# version signal -> the package's spellings (kb/tables/packages.yaml)
_PACKAGES: dict[str, str] = {e.signal: e.names for e in TABLES.packages}
_VERSION_VALUE = r"v?(\d+\.\d+(?:\.\d+)?(?:(?:\.|-)?(?:dev|post|rc|a|b)\d*)?(?:\+[A-Za-z0-9_.]+)?)"


def _version_patterns(names: str) -> re.Pattern[str]:
    return re.compile(
        rf"(?i)(?<![A-Za-z0-9_\-/.])`?(?:{names})`?[ \t]*(?:(?:version|版本(?:是|为|号)?)[ \t]*)?"
        rf"(?:(?:升级|更新|换|装)(?:到|成|为|了)[ \t]*)?"
        rf"(?:[:=]=?|==|>=|[ \t]|(?<=[本是为号到成了]))[ \t]*{_VERSION_VALUE}(?![A-Za-z0-9_])"
    )


_VERSION_RES = {name: _version_patterns(pattern) for name, pattern in _PACKAGES.items()}


def _run_version(out: Scope, pattern: re.Pattern[str],
                 prose: set[tuple[str, int]]) -> tuple[re.Match[str], Line] | None:
    """The version of a package that is the run's: the first outside prose (an environment listing, `pip list`, a
    log line); else the first in prose that its clause does not report as the fix; else a requirement's lower bound
    (`transformers>=4.41.2,<=4.48.1` in an error message says what is wanted, not what is installed)."""
    said = bound = None
    for match, line in out.index.finditer(pattern):
        if ">=" in match.group(0):
            bound = bound or (match, line)
        elif (line.part, line.number) not in prose:
            return match, line
        elif said is None:
            start = max(0, line.text.find(match.group(0)))
            if not _VERSION_WORKAROUND.search(clause(line.text, start, start + len(match.group(0)))):
                said = match, line
    return said or bound


_CUDA_VERSION = re.compile(r"(?i)(?:CUDA Version:\s*|cuda compilation tools, release\s*|\+cu|cuda\s*==?\s*|CUDA\s+)(\d"
    r"{2,3}(?:\.\d)?)")


@extractor(provides=[
    signal("version.torch", "version", "torch version."),
    signal("version.transformers", "version", "transformers version."),
    signal("version.peft", "version",
           "peft version.",
           internal="shown in the chat's setup summary (ui/conversation.py); no matcher tests it yet"),
    signal("version.trl", "version", "trl version."),
    signal("version.deepspeed", "version", "deepspeed version."),
    signal("version.accelerate", "version",
           "accelerate version.",
           internal="shown in the chat's setup summary (ui/conversation.py); no matcher tests it yet"),
    signal("version.flash_attn", "version", "flash-attn version."),
    signal("version.bitsandbytes", "version", "bitsandbytes version."),
    signal("version.llamafactory", "version",
           "LLaMA-Factory version.",
           internal="shown in the chat's setup summary (ui/conversation.py); no matcher tests it yet"),
    signal("version.unsloth", "version",
           "unsloth version.",
           internal="shown in the chat's setup summary (ui/conversation.py); no matcher tests it yet"),
    signal("version.datasets", "version",
           "datasets version.",
           internal="shown in the chat's setup summary (ui/conversation.py); no matcher tests it yet"),
    signal("version.vllm", "version",
           "vllm version.",
           internal="shown in the chat's setup summary (ui/conversation.py); no matcher tests it yet"),
    signal("version.cuda", "version",
           "CUDA version (nvidia-smi, nvcc or the env block).",
           internal="shown in the chat's setup summary (ui/conversation.py); no matcher tests it yet"),
])
def versions(parsed: Parsed, out: Scope) -> None:
    prose = {(line.part, line.number) for line in prose_lines(parsed)}
    for name, pattern in _VERSION_RES.items():
        hit = _run_version(out, pattern, prose)
        if hit:
            out.set(name, hit[0].group(1), [hit[1]])
    hit = first_match(out.index, _CUDA_VERSION)
    if hit:
        raw = hit[0].group(1)
        if "." not in raw and len(raw) >= 3:  # +cu124 -> 12.4
            raw = f"{raw[:-1]}.{raw[-1]}"
        out.set("version.cuda", raw, [hit[1]])


_OS = [("windows", prose_pattern(r"(?i)(Platform:\s*Windows|\bwin(10|11|dows)\b|\b[C-H]:\\\\?[\w\\]|\.dll\b)")),
       ("macos", prose_pattern(r"(?i)(Platform:\s*macOS|Darwin|\bmacos\b|\bmps\b device)")),
       ("linux", prose_pattern(r"(?i)(Platform:\s*Linux|\blinux\b|glibc|/home/|/usr/)"))]


@extractor(provides=[
    signal("os", "str",
           "Operating system: `windows`, `linux` or `macos` (env blocks, paths like C:\\, `Platform:` lines).",
           internal="shown in the chat's setup summary (ui/conversation.py)"),
])
def platform(parsed: Parsed, out: Scope) -> None:
    """The first operating system the paste names (Windows, then macOS, then Linux)."""
    for name, pattern in _OS:
        hit = first_match(out.index, pattern)
        if hit:
            out.set("os", name, [hit[1]])
            break

