"""Claim store (SQLite, the source of truth) and vector index (FAISS, derived from it)."""

from __future__ import annotations

from contra.index.base import ClaimIndex, Hit
from contra.index.filters import SearchFilter
from contra.index.flat import FlatIndex
from contra.index.hnsw import HNSWIndex
from contra.index.ivfpq import IVFPQIndex
from contra.index.store import (
    ClaimStore,
    DeletedSource,
    IngestedDocument,
    MetadataBatch,
    SourceStats,
    VectorBatch,
)
from contra.index.vectors import build_from_store, create_index, open_index, resolve_kind

__all__ = [
    "ClaimIndex",
    "ClaimStore",
    "DeletedSource",
    "FlatIndex",
    "HNSWIndex",
    "Hit",
    "IVFPQIndex",
    "IngestedDocument",
    "MetadataBatch",
    "SearchFilter",
    "SourceStats",
    "VectorBatch",
    "build_from_store",
    "create_index",
    "open_index",
    "resolve_kind",
]
