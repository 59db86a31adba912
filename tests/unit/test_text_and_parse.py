from service.models import Part
from service.parse import parse, scalar
from service.text import decode_bytes, detect_lang, split_lines


def test_line_numbers_follow_editor_conventions():
    text = "a\r\nb\rc\n\x1b[31md\x1b[0m\n"
    assert split_lines(text) == ["a", "b", "c", "d"]


def test_decode_reports_what_it_could_not_decode():
    assert decode_bytes("训练".encode("gb18030")).text == "训练"
    assert decode_bytes("hi".encode("utf-16")).text == "hi"  # encode() writes the BOM
    assert decode_bytes(b"\xef\xbb\xbfok").text == "ok"
    bad = decode_bytes(b"ok \xff\xfe\xfa\x80\x81")
    assert bad.text.startswith("ok ") and bad.note and "replaced" in bad.note


def test_scalars_mean_what_config_users_mean():
    assert scalar("true") is True and scalar("False") is False
    assert scalar("1.0e-4") == 1e-4 and scalar("8") == 8
    assert scalar("'sdpa'") == "sdpa" and scalar("null") is None


def test_yaml_json_flags_and_kwargs_become_facts_with_their_lines():
    text = "\n".join([
        "### train",                                           # 1
        "bf16: true  # mixed precision",                       # 2
        "{",                                                   # 3
        '  "zero_optimization": {',                            # 4
        '    "stage": 2,',                                     # 5
        '    "overlap_comm": true',                            # 6
        "  }",                                                 # 7
        "}",                                                   # 8
        "torchrun train.py --learning_rate 2e-4 --fp16",       # 9
        "model = AutoModel.from_pretrained(name, device_map='auto')",  # 10
    ])
    facts = {(f.path, f.source): (f.value, f.line.number) for f in parse([Part("input", text)]).facts}
    assert facts[("bf16", "yaml")] == (True, 2)
    assert facts[("zero_optimization.stage", "json")] == (2, 5)
    assert facts[("zero_optimization.overlap_comm", "json")] == (True, 6)
    assert facts[("learning_rate", "flag")] == (2e-4, 9)
    assert facts[("fp16", "flag")] == (True, 9)
    assert facts[("device_map", "kwarg")] == ("auto", 10)


def test_json_objects_written_on_one_line_inside_a_block_or_after_words_become_facts():
    text = "\n".join([
        "ds_config.json:",                                                   # 1
        "{",                                                                 # 2
        '  "zero_optimization": {"stage": 2, "overlap_comm": true},',        # 3
        '  "bf16": {"enabled": true}',                                       # 4
        "}",                                                                 # 5
        'ZeRO-3 this time: {"zero_optimization": {"stage": 3, "offload_param": {"device": "cpu"}}}',  # 6
    ])
    facts = [(f.path, f.value, f.line.number) for f in parse([Part("input", text)]).facts if f.source == "json"]
    assert facts == [("zero_optimization.stage", 2, 3), ("zero_optimization.overlap_comm", True, 3),
                     ("bf16.enabled", True, 4), ("zero_optimization.stage", 3, 6),
                     ("zero_optimization.offload_param.device", "cpu", 6)]


def test_metric_records_from_dicts_and_trainer_state_json():
    text = "\n".join([
        "{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 1e-05, 'epoch': 0.1}",
        "{'eval_loss': 1.2, 'epoch': 0.1}",
        '  {',
        '    "epoch": 0.2,',
        '    "grad_norm": NaN,',
        '    "learning_rate": 2e-05,',
        '    "loss": 0.0,',
        '    "step": 20',
        '  },',
    ])
    records = parse([Part("input", text)]).metrics
    assert [r.line.number for r in records] == [1, 7]
    assert records[1].values["step"] == 20


def test_parts_keep_their_own_line_numbers():
    parsed = parse([Part("log", "x\ny"), Part("config", "bf16: true")])
    fact = next(f for f in parsed.facts if f.key == "bf16")
    assert (fact.line.part, fact.line.number) == ("config", 1)


def test_language_detection():
    assert detect_lang(["训练时 loss 为 0"]) == "zh"
    assert detect_lang(["loss is 0", "grad_norm nan"]) == "en"


def test_spaced_metrics_count_in_log_lines_not_in_prose():
    parsed = parse([Part("input", "Qwen LoRA: loss 0 and grad_norm nan\nstep 10 | loss 2.6030 | grad_norm nan")])
    assert [r.line.number for r in parsed.metrics] == [2]


def test_line_numbers_count_lines_as_grep_n_does():
    """Issue 14: a bare carriage return (a progress bar redrawn in place) does not start a line."""
    from service.parse import number_lines

    text = "epoch 1\n 1%|#\r 50%|####\r100%|########\nRuntimeError: CUDA error: an illegal memory access\r\nlast\n"
    lines = number_lines([Part("input", text)])
    error = next(line for line in lines if line.text.startswith("RuntimeError"))
    assert error.number == 3  # grep -n says 3
    assert {line.number for line in lines if "%|" in line.text} == {2}  # every frame kept, under one number
