"""Ingestion: kb/ -> documents -> embeddings -> Chroma, idempotent and incremental."""
