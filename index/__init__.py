"""Claim store (SQLite, the source of truth) and vector index (FAISS, derived from it)."""
