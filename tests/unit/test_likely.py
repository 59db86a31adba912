"""What an abstention names: candidates the model gives at least LIKELY_FLOOR (service/models.py)."""

from service.models import LIKELY_FLOOR, DiagnoseResult, DiagnosisOut, DifferentialOut, Evidence, FixOut
from service.render import NO_RULE_EVIDENCE, render_markdown
from service.triage.replies import draft_reply
from ui.view import render_answer


def _item(cause: str, status: str, probability: float | None) -> DifferentialOut:
    return DifferentialOut(id=cause, category=cause, title=f"title of {cause}", status=status,  # type: ignore[arg-type]
                           probability=probability, confirm=f"confirm {cause}")


def _result(*items: DifferentialOut) -> DiagnoseResult:
    return DiagnoseResult(lang="en", diagnoses=[], differential=list(items), missing=[], related=[], signals=[])


def test_only_candidates_at_the_floor_are_named_likely():
    result = _result(_item("a", "candidate", 0.4), _item("b", "candidate", LIKELY_FLOOR),
                     _item("c", "candidate", LIKELY_FLOOR - 0.01), _item("d", "ruled_out", 0.9))
    assert [d.id for d in result.likely()] == ["a", "b"]
    assert result.shown_differential() == result.differential  # something is likely: everything is shown
    without_model = _result(_item("a", "candidate", None))
    assert [d.id for d in without_model.likely()] == ["a"]  # rules alone give no probability: all count


def test_when_nothing_is_likely_every_surface_asks_for_the_log_and_names_no_cause():
    result = _result(_item("a", "candidate", 0.03), _item("b", "candidate", 0.01), _item("c", "ruled_out", None))
    assert result.likely() == [] and [d.id for d in result.shown_differential()] == ["c"]
    for text in (render_markdown(result), render_answer(result), draft_reply(result)):
        assert "title of a" not in text and "title of b" not in text
        assert "traceback" in text  # the request for the error, the config and the environment
    assert "title of c" in render_markdown(result)  # what the rules ruled out still gets its line


def _probable(evidence: list[Evidence]) -> DiagnoseResult:
    diagnosis = DiagnosisOut(id="a", category="a", title="title of a", status="probable", confidence=0.8, score=0.0,
                             evidence=evidence, conditions=[], cause="why a", fix=FixOut(steps=["do x"]),
                             references=[])
    return DiagnoseResult(lang="en", diagnoses=[diagnosis], differential=[], missing=[], related=[], signals=[])


def test_a_probable_cause_without_rule_evidence_says_what_its_ranking_stands_on():
    """Retrieval alone can make a cause probable: the answer says so instead of an empty "Evidence" heading."""
    for text in (render_markdown(_probable([])), render_answer(_probable([]))):
        assert NO_RULE_EVIDENCE["en"] in text
    line = Evidence(part="input", line=2, text="RuntimeError: boom", signal="a:boom")
    for text in (render_markdown(_probable([line])), render_answer(_probable([line]))):
        assert NO_RULE_EVIDENCE["en"] not in text and "RuntimeError: boom" in text


def test_after_a_diagnosis_only_a_question_that_still_separates_causes_is_asked_on_every_surface():
    """A certain fp16 overflow whose only open question is another cause's ("is this a GRPO run?", gain 0) asks
    nothing next, in the Markdown answer and the triage draft reply alike (the chat did so already); a question with
    gain above MIN_GAIN is asked. With nothing diagnosed, a likely cause's question is asked whatever its gain."""
    from service.models import MIN_GAIN, MissingOut

    idle = MissingOut(ask="Is this a GRPO run?", for_ids=["grpo"], gain=0.0)
    deciding = MissingOut(ask="Paste the DeepSpeed config", for_ids=["b"], gain=MIN_GAIN * 5)
    certain = _probable([]).model_copy(update={"missing": [idle]})
    assert certain.next_question() is None
    for text in (render_markdown(certain), draft_reply(certain)):
        assert "GRPO" not in text
    open_question = _probable([]).model_copy(update={"missing": [deciding, idle]})
    assert open_question.next_question() is deciding
    for text in (render_markdown(open_question), draft_reply(open_question)):
        assert "Paste the DeepSpeed config" in text and "GRPO" not in text
    abstaining = _result(_item("a", "candidate", 0.4)).model_copy(update={"missing": [idle]})
    assert abstaining.next_question() is idle and "GRPO" in render_markdown(abstaining)
    nothing_likely = _result(_item("a", "candidate", 0.01)).model_copy(update={"missing": [deciding]})
    assert nothing_likely.next_question() is None
