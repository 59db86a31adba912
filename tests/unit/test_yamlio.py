"""kb/ loads through libyaml (service/yamlio.py): the same objects as PyYAML's pure-Python safe loader, faster."""

from pathlib import Path

import pytest
import yaml

from service import yamlio

KB = Path(__file__).resolve().parents[2] / "kb"


def _documents() -> list[tuple[str, str]]:
    docs = [(str(p.relative_to(KB)), p.read_text(encoding="utf-8")) for p in sorted(KB.rglob("*.yaml"))]
    for path in sorted(KB.rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        if text.startswith("---"):
            docs.append((str(path.relative_to(KB)), text.split("---", 2)[1]))  # the front matter, as kb.py splits it
    return docs


def test_the_wheel_has_libyaml():
    assert yamlio.SafeLoader is yaml.CSafeLoader  # else kb/ loads on the slow path (still correct)


@pytest.mark.parametrize("text", [pytest.param(text, id=name) for name, text in _documents()])
def test_libyaml_reads_every_kb_file_as_the_pure_python_loader_does(text):
    assert yamlio.load(text) == yaml.safe_load(text)


def test_a_yaml_error_is_still_a_yaml_error():
    with pytest.raises(yaml.YAMLError):
        yamlio.load("a: [1, 2\nb: c")
