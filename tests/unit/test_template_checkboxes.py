"""Issue-form checklists ("- [x] I have read the README ...") are not part of a report's evidence: neither the
embedding query nor the lexical classifier reads them, and nothing else of the paste is lost."""

from service.lexical import terms
from service.parse import parse
from service.pipeline import as_parts
from service.salient import salient_text
from service.signals import extract_signals
from service.text import is_template_checkbox, strip_template_checkboxes

REPORT = """LoRA SFT stops with a KeyError
### Reminder

- [X] I have read the README and searched the existing issues.
- [ ] My own modified scripts

### Reproduction

KeyError: 'conversations'
the dataset has [x] marks inside a sentence, which stay
"""


def test_checkbox_lines_are_recognised_in_every_list_style() -> None:
    for line in ("- [x] I have read the README", "* [ ] The official example scripts", "  + [X] done", "- [ ]"):
        assert is_template_checkbox(line), line
    for line in ("keep [x] this", "[x] no list marker", "-[x] no space", "KeyError: 'conversations'"):
        assert not is_template_checkbox(line), line


def test_the_query_skips_the_checklist_and_keeps_the_evidence() -> None:
    parsed = parse(as_parts(REPORT))
    query = salient_text(parsed, extract_signals(parsed))
    assert "I have read the README" not in query and "modified scripts" not in query
    assert "KeyError: 'conversations'" in query and query.startswith("LoRA SFT stops")


def test_the_lexical_classifier_reads_no_checklist_words() -> None:
    counted = terms(REPORT)
    assert "readme" not in counted and "searched" not in counted
    assert "keyerror" in counted and "conversations" in counted
    assert strip_template_checkboxes("no brackets here") == "no brackets here"
