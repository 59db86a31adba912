"""Ten short Chinese paragraphs of the seed report's kind, written for this check (one per common cause; the
settings and the symptom only in prose, no log), diagnosed with retrieval: is the expected cause answered first,
named first or in the top three while abstaining, or missed? A quick look at the genre tunedoc is weakest on, not
a score: ten hand-written texts say nothing about real reports. Needs the index (`tunedoc ingest`).

.venv/bin/python -m benchmarks.prose_paragraphs
"""

from __future__ import annotations

PARAGRAPHS = [
    ("fp16-overflow", "在 V100 上用 fp16 微调 Qwen2.5-7B，跑了一会儿 loss 就变成 0，grad_norm 是 nan，日志里一直提示 loss scale 在减小。"),
    ("cuda-oom-training", "8 张 4090 全参微调 Qwen2.5-14B，一开始训练就报 CUDA out of memory，batch size 已经设成 1 了。"),
    ("missing-eos-no-stop", "LoRA 微调完 Qwen2-7B，推理的时候模型一直输出停不下来，会重复回答直到 max_new_tokens。"),
    ("dataset-not-registered", "用 LLaMA-Factory 训练自己的数据，报错说 Undefined dataset my_data in dataset_info.json。"),
    ("chat-template-mismatch", "训练时 template 用的 qwen，推理的时候用 vllm 直接加载，回答格式完全乱了，和训练时效果差很多。"),
    ("resume-missing-optimizer-state", "断点续训之后 loss 一下子从 0.8 跳到 2.5，之前训练都很正常，checkpoint 里只有模型权重。"),
    ("nccl-timeout-during-preprocessing",
     "多卡训练的时候数据预处理时间很长，然后就报 NCCL timeout 了，Watchdog caught collective operation timeout。"),
    ("grpo-zero-advantage", "用 trl 做 GRPO 训练，loss 一直是 0，grad_norm 也是 0，reward 看起来每组都一样。"),
    ("lr-too-high-divergence", "全参微调 llama3-8b，学习率 1e-4，loss 先降到 1.2 然后开始上升，最后变成 nan。"),
    ("adapter-not-applied-at-inference", "LoRA 训练完用 vLLM 推理，输出和原始模型一模一样，好像 LoRA 没有生效。"),
]


def main() -> None:
    from benchmarks.written_reports import outcome
    from service.config import apply_offline_env

    apply_offline_env()
    from service.pipeline import diagnose, load_rules
    from service.retrieval import open_retriever

    rules, retriever = load_rules(), open_retriever()
    counts = {"answered": 0, "named first": 0, "top 3": 0, "missed": 0, "wrong first": 0}
    print("| expected | outcome | first | probability |")
    print("|---|---|---|---|")
    for expected, text in PARAGRAPHS:
        result = diagnose(text, rules=rules, retriever=retriever)
        ranked = [(d.id, d.confidence) for d in result.diagnoses] + [(d.id, d.probability) for d in result.differential]
        first, probability = ranked[0] if ranked else ("-", None)
        got = outcome(expected, [d.id for d in result.diagnoses], [i for i, _ in ranked])
        counts[got] += 1
        print(f"| {expected} | {got} | {first} | {probability} |")
    print(", ".join(f"{k}: {v}" for k, v in counts.items()))


if __name__ == "__main__":
    main()
