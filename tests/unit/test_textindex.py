"""TextIndex runs each Python pattern only where its RE2 prefilter matches: the matches must be exactly those of the
plain Python search (service/textindex.py)."""

from __future__ import annotations

import random
import re
import string

import pytest
import re2

import service.signals as signals
from service.models import Line
from service.textindex import _PY_EXTRA_FOLDS, TextIndex, prefilter, translate


def _signal_patterns() -> list[re.Pattern[str]]:
    found: dict[tuple[str, int], re.Pattern[str]] = {}

    def collect(value: object, depth: int = 0) -> None:
        if isinstance(value, re.Pattern):
            found.setdefault((value.pattern, value.flags), value)
        elif depth < 2 and isinstance(value, dict):
            for item in value.values():
                collect(item, depth + 1)
        elif depth < 2 and isinstance(value, (list, tuple)):
            for item in value:
                collect(item, depth + 1)

    for area in signals.AREAS:
        for value in vars(area).values():
            collect(value)
    return list(found.values())


PATTERNS = _signal_patterns()
FRAGMENTS = [
    "GPU number", ": 8", "8x A100", "4 卡", "--nproc_per_node=4", "num_processes: 2", "2 GPUs", "CUDA_VISIBLE_DEVICES=",
    "0,1", "torch", "PyTorch version: 2.4.0+cu121", "transformers==4.46.1", "`peft` 0.12.0", "deepspeed 0.14.4",
    "CUDA Version: 12.4", "+cu118", "Platform: Windows", "C:\\Users", "macOS", "/home/x", "python", "-m",
    "torch.distributed.run", "torchrun", "accelerate", "launch", "export A=1", "$ ", "ValueError", ": bad",
    "Traceback (most recent call last):", "[rank0]: ", "OVERFLOW! Rank 0 Skipping step.", "Attempted loss scale: 2",
    "Gradient overflow.", "labels in your dataset are -100", "tokenization mismatch: 3 vs. 4", "trainable params:",
    "1,234", "gradient_accumulation_steps", "=", "4", "loss", "2.5", "GA 8 loss 1.2", "from_pretrained(", "'Qwen/Qwen2-7B'",
    "meta-llama/Llama-3-8B", "qwen2.5-14b", "LoraConfig(", "compute dtype: torch.bfloat16", "torch_dtype=torch.float16",
    "zero stage 3", "ds_z3", "error", "报错", "训练", "İ", "ı", "\u212a", "ſ", "ẞ", "é", "\u00a0", "\t", " ", "  ", "|",
    "| 0  NVIDIA A100 |", "size mismatch for lm_head.weight: copying a param with shape torch.Size([1, 2])",
    "shape in current model is torch.Size([3, 2])", "Exception", "KeyboardInterrupt", "win10", ".dll", "x", "*",
]


def _text(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(1, 40)):
        roll = rng.random()
        if roll < 0.2:
            parts.append("\n")
        elif roll < 0.3:
            parts.append(rng.choice(string.printable))
        else:
            parts.append(rng.choice(FRAGMENTS))
    return "".join(parts)


def _spans(matches: object) -> list[tuple[tuple[int, int], tuple[str | None, ...]]]:
    return [(m.span(), m.groups()) for m in matches]  # type: ignore[attr-defined]


def _index(text: str) -> TextIndex:
    return TextIndex([Line("input", i + 1, t) for i, t in enumerate(text.split("\n"))])


@pytest.mark.parametrize("seed", range(4))
def test_prefiltered_matches_equal_plain_python(seed):
    rng = random.Random(seed)
    for _ in range(150):
        index = _index(_text(rng))
        for pattern in PATTERNS:
            expected = _spans(pattern.finditer(index.text))
            assert _spans(index._matches(pattern)) == expected, (pattern.pattern, index.text)


def test_matches_across_lines_and_non_ascii_text():
    text = "İı naïve\nGPU number\n: 8\ntrainable params:\n 1,234\n训练 İ torch 2.1.0\nCUDA_VISIBLE_DEVICES=\n0,1"
    index = _index(text)
    for pattern in PATTERNS:
        assert _spans(index._matches(pattern)) == _spans(pattern.finditer(index.text)), pattern.pattern
    assert index.first(re.compile(r"(?i)GPU number\s*:\s*(\d+)")) is not None


def test_lone_surrogate_falls_back_to_plain_search():
    index = _index("torch 2.1.0 \ud800\ntransformers 4.40.0")
    pattern = signals._VERSION_RES["version.transformers"]
    assert _spans(index._matches(pattern)) == _spans(pattern.finditer(index.text))


def test_every_signal_pattern_has_a_prefilter():
    assert all(prefilter(p) is not None for p in PATTERNS), [p.pattern for p in PATTERNS if prefilter(p) is None]


def test_translation_widens_rather_than_narrows():
    assert translate(re.compile(r"a*")) is None  # matches the empty string: searched plainly
    regex, local = translate(re.compile(r"(?<!x)\bab(?=c)"))
    assert local and re2.search(regex, "ab") is not None
    assert translate(re.compile(r"a\s+b"))[1] is False  # \s can match a newline
    assert translate(re.compile(r"ab$"))[1] is False  # $ without MULTILINE means the end of the text


_ALL = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)


@pytest.mark.parametrize("letter", string.ascii_letters)
def test_python_ignorecase_folds_are_covered(letter):
    folded = set(re.findall("(?i)" + letter, _ALL))
    assert folded <= {letter.lower(), letter.upper(), *_PY_EXTRA_FOLDS.get(letter, "")}
