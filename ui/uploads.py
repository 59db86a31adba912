"""Files the chat reads: only what this server received through Gradio's upload route.

A Gradio event carries `FileData` objects whose `path` the client writes. A Blocks app mounted into FastAPI never
runs Gradio's own path check (it needs `launch()`), so this module is the check: the path must resolve inside the
upload folder, be a regular file (not a device, FIFO or link) and is read in bounded chunks. Large logs are streamed
like the CLI does (head, tail, salient lines, metrics) instead of read whole. The temp copy is deleted once read.
Every refusal says the same thing whatever the reason, so the chat is not an oracle for which paths exist.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from service.stream import STREAM_THRESHOLD_BYTES, stream_file
from service.text import decode_bytes

MAX_UPLOAD_BYTES = 512 * 1024 * 1024  # beyond this even streaming is not worth it in a chat
REFUSED = "not an upload of this chat, not read"


@dataclass(frozen=True)
class Upload:
    name: str
    text: str | None  # None: refused or not text
    note: str | None = None
    numbers: tuple[int, ...] | None = None  # a streamed log: the original line number of each line of `text`


def upload_root() -> Path:
    """Gradio's upload folder (GRADIO_TEMP_DIR or <tmp>/gradio), resolved."""
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder()).resolve()


def _client_path(item: object) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        return str(item.get("path") or "")
    return str(getattr(item, "path", "") or "")


def _display_name(item: object, path: str) -> str:
    name = item.get("orig_name") if isinstance(item, dict) else getattr(item, "orig_name", None)
    return Path(str(name or path)).name[:200] or "upload"


def _is_binary(head: bytes) -> bool:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    return b"\x00" in head[:8192]


def read_upload(item: object, root: Path | None = None, *, max_bytes: int = MAX_UPLOAD_BYTES,
                stream_over: int = STREAM_THRESHOLD_BYTES) -> Upload:
    """Read one uploaded file the server itself received; refuse everything else. Files over `stream_over` bytes
    are streamed (the chat streams anything bigger than it keeps of a session)."""
    raw = _client_path(item)
    name = _display_name(item, raw)
    root = root or upload_root()
    try:
        candidate = Path(raw)
        if not raw or not candidate.is_absolute():
            return Upload(name, None, REFUSED)
        resolved = candidate.resolve(strict=True)
        if resolved != candidate.absolute() or not resolved.is_relative_to(root) or resolved == root:
            return Upload(name, None, REFUSED)  # outside the upload folder, or reached through a link
        # O_NOFOLLOW | O_NONBLOCK: a link swapped in after the check, or a FIFO, cannot block or redirect the read.
        fd = os.open(resolved, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except (OSError, ValueError, RuntimeError):
        return Upload(name, None, REFUSED)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return Upload(name, None, REFUSED)
        if info.st_size > max_bytes:
            return Upload(name, None, f"over {max_bytes // (1024 * 1024)} MB, not read")
        with os.fdopen(fd, "rb", closefd=True) as handle:
            fd = -1
            head = handle.read(8192)
            if _is_binary(head):
                return Upload(name, None, "not text, not read")
            if info.st_size > min(stream_over, STREAM_THRESHOLD_BYTES):
                return _streamed(name, resolved, info.st_size)
            data = head + handle.read(max(0, STREAM_THRESHOLD_BYTES - len(head)))
        decoded = decode_bytes(data)
        return Upload(name, decoded.text, decoded.note)
    finally:
        if fd >= 0:
            os.close(fd)
        _discard(resolved)


def _streamed(name: str, path: Path, size: int) -> Upload:
    streamed = stream_file(path, part=name)
    # The kept lines and the metric records' lines, each with its line number in the file (as `grep -n` says).
    kept = {line.number: line.text for line in streamed.lines}
    kept.update({record.line.number: record.line.text for record in streamed.metrics})
    numbers = tuple(sorted(kept))
    text = "\n".join(kept[n] for n in numbers)
    note = (f"{name}: {size / 1024 / 1024:.1f} MB, {streamed.total_lines} lines; analysed the head, the tail, "
            f"the error and warning lines and the metrics ({len(numbers)} lines kept)")
    return Upload(name, text, note, numbers)


def _discard(path: Path) -> None:
    """The temp copy is not kept: the pastes live in the session state, redacted when shown."""
    try:
        path.unlink()
        parent = path.parent
        if parent != upload_root() and not any(parent.iterdir()):
            parent.rmdir()  # Gradio puts each upload in its own hashed folder
    except OSError:
        pass
