"""kb/ -> LangChain Documents: article cards and body chunks (kind `article`), trigger fixtures (kind `fixture`)
and the case base (kind `case`: each real report rendered in English and in Chinese, so a query in either language
meets it).

Every document carries `source` (one per article or fixture) so the indexing API can replace or delete exactly
the chunks of an article that changed or disappeared.
"""

from __future__ import annotations

from langchain_core.documents import Document
from langchain_text_splitters import RecursiveCharacterTextSplitter

from service.cases import Case, CaseBase
from service.kb import Article, Catalogue
from service.text import detect_lang

CHUNK_SIZE = 800  # MiniLM truncates at 256 tokens; ~800 characters stay inside that
CHUNK_OVERLAP = 80
FIXTURE_CHARS = 1500


def article_card(article: Article) -> str:
    return "\n".join([article.title.en, article.title.zh, article.summary.en, article.summary.zh,
                      article.confirm.en, article.confirm.zh])


def _meta(article: Article, kind: str, source: str, lang: str, chunk: int) -> dict[str, object]:
    return {"article_id": article.id, "category": article.category, "kind": kind, "source": source,
            "lang": lang, "chunk": chunk}


def article_documents(article: Article, splitter: RecursiveCharacterTextSplitter) -> list[Document]:
    source = f"article:{article.id}"
    docs = [Document(page_content=article_card(article), metadata=_meta(article, "article", source, "mixed", 0))]
    for i, chunk in enumerate(splitter.split_text(article.body), start=1):
        docs.append(Document(page_content=f"{article.title.en}\n{chunk}",
                             metadata=_meta(article, "article", source, "en", i)))
    return docs


def case_documents(case: Case) -> list[Document]:
    meta = {"article_id": "", "case_id": case.id, "category": case.cause, "kind": "case", "source": f"case:{case.id}"}
    return [Document(page_content=case.render(lang), metadata={**meta, "lang": lang, "chunk": i})
            for i, lang in enumerate(("en", "zh"))]


def build_documents(catalogue: Catalogue, cases: CaseBase | None = None) -> list[Document]:
    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
    docs: list[Document] = []
    for article in catalogue.articles:
        docs += article_documents(article, splitter)
        for fixture in catalogue.fixtures.get(article.id, []):
            if fixture.kind != "trigger":
                continue  # near misses describe what this cause is not: indexing them would mislead retrieval
            text = fixture.text[:FIXTURE_CHARS]
            lang = detect_lang(text.splitlines())
            docs.append(Document(page_content=text, metadata=_meta(
                article, "fixture", f"fixture:{article.id}:{fixture.name}", lang, 0)))
    cases = cases if cases is not None else CaseBase.load(catalogue.root)
    for case in cases.cases:
        docs += case_documents(case)
    return docs
