"""Ingest and hybrid retrieval with the real embedding model and a real embedded Chroma."""

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from ingest.indexer import ingest, is_stale
from service.config import get_settings
from service.embeddings import PackagedEmbeddings
from service.kb import Catalogue
from service.retrieval import Retriever
from service.store import open_vector_store

KB = Path(__file__).resolve().parent.parent / "kb"


@pytest.fixture(scope="module")
def embeddings():
    return PackagedEmbeddings(get_settings().embedding_model)


def small_kb(tmp_path: Path, ids: list[str]) -> Path:
    root = tmp_path / "kb"
    root.mkdir()
    for name in ("categories.yaml", "groups.yaml", "patterns.yaml", "areas.yaml"):
        shutil.copy(KB / name, root / name)
    for article_id in ids:
        for path in KB.rglob(f"{article_id}.*"):
            shutil.copy(path, root / path.name)
    return root


def _ids_in_store(settings, embeddings) -> set[str]:
    store = open_vector_store(settings, embeddings, settings.embedding_model)
    return {m["article_id"] for m in store.get(include=["metadatas"])["metadatas"]}


def test_ingest_is_idempotent_incremental_and_deletes_removed_articles(tmp_path, embeddings):
    kb = small_kb(tmp_path, ["bf16-numerical-instability", "fp16-overflow", "nccl-p2p-hang"])
    settings = replace(get_settings(), kb_dir=kb, data_dir=tmp_path / "data", collection="t-ingest")
    first = ingest(settings=settings, embeddings=embeddings)
    assert first.added > 3 and first.deleted == 0
    assert not is_stale(settings)
    again = ingest(settings=settings, embeddings=embeddings)
    assert (again.added, again.updated, again.deleted) == (0, 0, 0) and again.skipped == first.added
    for path in kb.glob("nccl-p2p-hang.*"):
        path.unlink()
    assert is_stale(settings)
    third = ingest(settings=settings, embeddings=embeddings)
    assert third.deleted > 0 and third.added == 0
    assert _ids_in_store(settings, embeddings) == {"bf16-numerical-instability", "fp16-overflow"}


def test_hybrid_search_finds_the_article_in_english_and_chinese(retriever):
    english = [h.id for h in retriever.search("NCCL hangs at the first all_reduce on RTX 4090, works on one GPU", k=3)]
    assert "nccl-p2p-hang" in english
    chinese = [h.id for h in retriever.search("多张4090显卡训练卡住不动，单卡正常", k=3)]
    assert "nccl-p2p-hang" in chinese


def test_related_is_filled_and_never_repeats_a_diagnosis(retriever, rules):
    from service.pipeline import diagnose
    from tests.unit.test_engine_acceptance import SEED

    result = diagnose(SEED, rules=rules, retriever=retriever)
    assert result.related
    assert not {r.id for r in result.related} & {d.id for d in result.diagnoses}


def test_retrieval_alone_never_makes_a_diagnosis(retriever, rules):
    from service.pipeline import diagnose

    question = "How much GPU memory do I need to fine-tune a 7B model with LoRA?"
    result = diagnose(question, rules=rules, retriever=retriever)
    assert result.diagnoses == []


def test_a_question_that_names_no_cause_gets_retrievals_best_articles_as_related(retriever, rules):
    """The differential's few-percent candidates are hidden when nothing is likely; they must not also be kept out
    of the related articles, or a sizing question is pointed at whatever retrieval ranked below them."""
    from service.parse import parse
    from service.pipeline import analyse_input, as_parts

    question = "How much GPU memory do I need to fine-tune Qwen2.5-72B with QLoRA?"
    analysis = analyse_input(parse(as_parts(question)), rules=rules, retriever=retriever)
    result = analysis.result
    assert result is not None and analysis.hits is not None and not result.names_causes()
    best = [hit.id for hit in analysis.hits.articles if hit.id not in {d.id for d in result.shown_differential()}]
    assert [r.id for r in result.related] == best[:3]
    assert "cuda-oom-training" in {r.id for r in result.related}


def test_bm25_handles_chinese_without_a_dictionary():
    from service.bm25 import BM25, tokenize

    assert "显存" in tokenize("加载模型时显存不足")
    bm25 = BM25({"oom": "CUDA out of memory 显存不足 爆显存", "nccl": "NCCL timeout 超时 卡住"})
    assert bm25.scores("训练时显存不够")[0][0] == "oom"


def test_retriever_over_a_fresh_store(tmp_path, embeddings):
    kb = small_kb(tmp_path, ["cuda-oom-training", "nccl-p2p-hang"])
    settings = replace(get_settings(), kb_dir=kb, data_dir=tmp_path / "data", collection="t-fresh")
    ingest(settings=settings, embeddings=embeddings)
    retriever = Retriever(Catalogue.load(kb), open_vector_store(settings, embeddings, settings.embedding_model),
                          embeddings)
    assert retriever.search("CUDA out of memory. Tried to allocate 2.00 GiB", k=1)[0].id == "cuda-oom-training"


def test_free_text_questions_in_both_languages_find_their_article(retriever):
    """Retrieval quality with the default (multilingual) model on questions written for this test set."""
    import json

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "questions.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for lang in ("en", "zh"):
        subset = [r for r in rows if r["lang"] == lang]
        top3 = sum(r["expected"] in [h.id for h in retriever.search(r["q"], k=3)] for r in subset)
        assert top3 >= 0.9 * len(subset), (lang, top3, len(subset))
