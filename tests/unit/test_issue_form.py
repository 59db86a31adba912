"""What issue forms and markdown add to every report (checklists, fixed section headings, code-fence tags, version
listings, pasted screenshots) is not a report's evidence: the embedding query and the lexical classifier skip it,
and nothing else of the paste is lost."""

from service.lexical import terms
from service.parse import parse
from service.pipeline import as_parts
from service.salient import salient_text
from service.signals import extract_signals
from service.text import is_template_checkbox, strip_issue_form

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
    assert strip_issue_form("no brackets here") == "no brackets here"


def test_the_forms_fixed_headings_go_and_the_reporters_own_stay() -> None:
    form = "### System Info\n\nllamafactory 0.9.1\n### Expected behavior\nno NaN\n## Others:\n### Feature request\n"
    counted = terms(form + "### loss spikes at step 40\n")
    assert "system" not in counted and "behavior" not in counted and "others" not in counted
    assert "feature" in counted and "spikes" in counted and "nan" in counted and "llamafactory" in counted


def test_a_code_fences_language_tag_is_not_a_word_of_the_report() -> None:
    counted = terms("```python\nmodel.train()\n```\n~~~ bash\n```the loss is nan\n")
    assert "python" not in counted and "bash" not in counted
    assert "model.train" in counted and "the loss" in counted  # text after a fence on its line stays


def test_an_environment_listing_names_no_packages_to_the_classifier() -> None:
    listing = "- `llamafactory` version: 0.9.1\n- DeepSpeed version: 0.15.1\n- Bitsandbytes version: 0.43.1\n"
    counted = terms(listing + "- GPU type: NVIDIA V100\ndeepspeed stage 2 hangs\n")
    assert "bitsandbytes" not in counted and "llamafactory" not in counted
    assert "v100" in counted and counted["deepspeed"] == 1  # the reporter's own words stay


def test_a_pasted_screenshot_is_not_evidence_of_a_multimodal_cause() -> None:
    paste = ("loss is nan after 200 steps\n![image](https://github.com/user-attachments/assets/5f2c)\n"
             '<img width="640" alt="image" src="https://user-images.githubusercontent.com/7/8.png">\n')
    assert "image" not in terms(paste) and "nan" in terms(paste)
    parsed = parse(as_parts(paste + "screenshot above ![Image](https://example.com/a.png) shows the curve\n"))
    query = salient_text(parsed, extract_signals(parsed))
    assert "image" not in query.lower() and "shows the curve" in query
