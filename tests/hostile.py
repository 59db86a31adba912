"""A corpus of hostile pastes: what terminals and careless copy-paste produce, and what attackers send."""

from __future__ import annotations

import codecs

SEED_LINE = "{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 1e-05, 'epoch': 0.1}"


def hostile_bytes() -> dict[str, bytes]:
    """name -> raw bytes as they would arrive from a file or an HTTP body."""
    progress = "".join(f"\r {i}%|{'#' * (i // 5)}| {i}/100" for i in range(100))
    return {
        "empty": b"",
        "whitespace": b"  \n\t\r\n   \n",
        "nul-bytes": b"bf16: true\n\x00\x00\x00" + SEED_LINE.encode() + b"\x00",
        "binary": bytes(range(256)) * 64,
        "invalid-utf8": b"bf16: true\n\xff\xfe\xfa\x80 " + SEED_LINE.encode(),
        "gbk": ("训练时 loss 为 0\nbf16: true\n" + SEED_LINE).encode("gb18030"),
        "utf16-bom": codecs.BOM_UTF16_LE + ("bf16: true\n" + SEED_LINE).encode("utf-16-le"),
        "crlf-and-cr": ("bf16: true\r\n" + progress + "\r\n" + SEED_LINE + "\r\n").encode(),
        "ansi": ("\x1b[32mbf16: true\x1b[0m\n\x1b[1;31m" + SEED_LINE + "\x1b[0m\n\x1b]0;title\x07done").encode(),
        "one-50mb-line": b"x" * (50 * 1024 * 1024),
        "100k-lines": ("\n".join(f"[INFO|trainer.py:{i}] >> step {i} loss 1.0" for i in range(100_000))
                       + "\n" + SEED_LINE + "\nbf16: true\n").encode(),
        "repeated-warning": ("UserWarning: None of the inputs have requires_grad=True. Gradients will be None\n"
                             * 200_000).encode(),
        "yaml-alias-bomb": (b"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                            b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                            b"e: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nbf16: true\n"),
        "python-object-tag": b"model: !!python/object/apply:os.system ['touch /tmp/tunedoc-pwned']\nbf16: true\n",
        "json-nested-100k": ("[" * 100_000 + "]" * 100_000).encode(),
        "json-nested-objects": ('{"a":' * 50_000 + "1" + "}" * 50_000).encode(),
        "regex-bait": ("size mismatch for x: " + "copying a param with shape torch.Size([" * 300 + "\n"
                       + "loss " * 5000 + "\n" + "(" * 10_000 + "\n" + "a" * 4000 + "!" + "\n").encode(),
        "control-chars": bytes(range(1, 32)) * 100 + b"\nbf16: true\n",
    }
