"""Property-based tests over the whole rules path with generated mixed pastes.

Default run: 200 cases per property. Nightly mode: `TUNEDOC_FUZZ_EXAMPLES=10000 ./scripts/test tests/test_properties.py`.
Invariants: no exception; evidence points at lines that exist and hold the quoted text; the same input gives the
same JSON; adding unrelated noise lines never removes a diagnosis.
"""

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.models import Line, Part
from service.pipeline import diagnose, load_rules
from service.redact import redact
from service.text import numbered_frames

EXAMPLES = int(os.environ.get("TUNEDOC_FUZZ_EXAMPLES", "200"))
RULES = load_rules()
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

numbers = st.sampled_from(["0.0", "nan", "inf", "1.2345", "0.5", "12.7", "1e-05", "0"])
metric = st.builds(lambda a, b, c, e: f"{{'loss': {a}, 'grad_norm': {b}, 'learning_rate': {c}, 'epoch': {e}}}",
                   numbers, numbers, st.sampled_from(["0.0", "1e-05", "0.0002", "2e-05"]), numbers)
config = st.builds(lambda k, v: f"{k}: {v}", st.sampled_from(
    ["bf16", "fp16", "deepspeed", "model_name_or_path", "template", "cutoff_len", "learning_rate", "save_only_model",
     "flash_attn", "finetuning_type", "lora_target", "gradient_checkpointing", "quantization_bit"]),
    st.sampled_from(["true", "false", "Qwen/Qwen2.5-7B-Instruct", "meta-llama/Meta-Llama-3-8B", "llama3", "qwen",
                     "ds_z2_config.json", "1024", "sdpa", "lora", "q_proj,v_proj", "4", "1.0e-4"]))
json_block = st.sampled_from(['{\n  "zero_optimization": {\n    "stage": 2,\n    "overlap_comm": true\n  }\n}',
                              '{"fp16": {"enabled": true}, "bf16": {"enabled": false}}', "[[[[", "}}}"])
traceback = st.builds(lambda e, m: f"Traceback (most recent call last):\n  File \"train.py\", line 1\n{e}: {m}",
                      st.sampled_from(["ValueError", "RuntimeError", "torch.OutOfMemoryError", "KeyError", "ImportError"]),
                      st.sampled_from(["CUDA out of memory. Tried to allocate 2.00 GiB", "'qwen2_vl'",
                                       "Attempting to unscale FP16 gradients.", "Target modules ['q'] not found",
                                       "element 0 of tensors does not require grad and does not have a grad_fn"]))
known = st.sampled_from([
    "[deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 2, reducing to 1",
    "Current loss scale already at minimum - cannot decrease scale anymore.",
    "WARNING: tokenization mismatch: 120 vs. 134. (ignored)",
    "UserWarning: None of the inputs have requires_grad=True. Gradients will be None",
    "Watchdog caught collective operation timeout: WorkNCCL(SeqNum=1, OpType=ALLREDUCE, NumelIn=1, NumelOut=1, Timeout(ms)=1800000)",
    "- GPU type: Tesla V100-SXM2-32GB", "- Transformers version: 4.46.1", "训练时 loss 为 0",
    "\x1b[31mERROR\x1b[0m something failed", "  3%|▎  | 10/300 [00:10<04:50, 1.00s/it]\r 4%|▍ | 12/300",
])
noise_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80)
piece = st.one_of(metric, config, json_block, traceback, known, noise_text)
paste = st.lists(piece, min_size=1, max_size=25).map("\n".join)

NEUTRAL = ["alpha", "bravo", "charlie", "delta", "note", "item", "value", "walked", "river", "green", "table"]
noise_line = st.lists(st.sampled_from(NEUTRAL), min_size=1, max_size=8).map(" ".join)


@SETTINGS
@given(paste)
def test_no_exception_and_evidence_points_at_real_lines(text):
    result = diagnose(text, rules=RULES)
    frames: dict[int, set[str]] = {}
    for number, frame in numbered_frames(text):  # numbered as `grep -n` counts: a bare \r shares the line's number
        frames.setdefault(number, set()).add(redact(frame))
    for item in [e for d in result.diagnoses for e in d.evidence] + [e for s in result.signals for e in s.lines]:
        assert item.line in frames
        assert item.text in frames[item.line]


@SETTINGS
@given(paste)
def test_same_input_same_json(text):
    assert diagnose(text, rules=RULES).model_dump_json() == diagnose(text, rules=RULES).model_dump_json()


@SETTINGS
@given(paste, st.lists(st.tuples(st.integers(min_value=1), noise_line), max_size=5))
def test_unrelated_noise_never_removes_a_diagnosis(text, insertions):
    lines = text.split("\n")
    before = {d.id for d in diagnose([Part("input", text)], rules=RULES).diagnoses}
    for position, noise in insertions:
        assert not RULES.scan([Line("noise", 1, noise)])  # the noise itself matches no KB pattern
        lines.insert(1 + position % len(lines), noise)
    after = {d.id for d in diagnose([Part("input", "\n".join(lines))], rules=RULES).diagnoses}
    assert before <= after
