"""Generated docs match kb/ (no drift), and `tunedoc explain` prints the same page."""

import subprocess
import sys
from pathlib import Path

from service.docs import article_page, write_docs
from service.kb import Catalogue


def test_generated_docs_are_up_to_date():
    stale = write_docs(check=True)
    assert stale == [], f"run `tunedoc docs` to regenerate: {stale}"


def test_explain_prints_the_generated_page():
    catalogue = Catalogue.load()
    article = catalogue.by_id["bf16-numerical-instability"]
    out = subprocess.run([str(Path(sys.executable).with_name("tunedoc")), "explain", article.id],
                         capture_output=True, text=True, check=True).stdout
    assert out == article_page(article, catalogue)
    assert (Path(__file__).resolve().parent.parent / "docs" / "diagnoses" / f"{article.id}.md").read_text() == out


def test_explain_unknown_id_is_a_clear_error():
    proc = subprocess.run([str(Path(sys.executable).with_name("tunedoc")), "explain", "no-such-thing"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "no diagnosis with id" in proc.stderr and "Traceback" not in proc.stderr
