"""The vector index contract: one base class holding what every backend shares.

The base checks shapes at the boundary, keeps the per-claim metadata that filters need, turns filters
into ID selectors, locks (many searches or one writer), retries short result lists with more search
effort, and writes snapshots. A backend only wraps one FAISS structure: ``_add``, ``_remove``,
``_search``, and reading/writing its files.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

import faiss
import numpy as np

from contra.index.filters import ANY, ClaimMetadata, SearchFilter
from contra.index.rwlock import RWLock
from contra.index.snapshot import write_snapshot
from contra.index.store import VectorBatch

LOG = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Hit:
    claim_id: int
    #: Cosine similarity (inner product of unit vectors); exact for flat and HNSW, from 6-bit codes for IVF-PQ.
    similarity: float


def read_id_map(path: Path, dimension: int) -> faiss.IndexIDMap2:
    """A saved ``IndexIDMap2`` of ``dimension``; anything else is a damaged or foreign snapshot."""
    index = faiss.read_index(str(path))
    if not isinstance(index, faiss.IndexIDMap2) or index.d != dimension:
        raise ValueError(f"{path} is not a {dimension}-dimensional IndexIDMap2")
    return index


def search_params(params: faiss.SearchParameters, selector: faiss.IDSelector | None) -> faiss.SearchParameters:
    """``params`` with ``selector`` set (the FAISS stubs lack keyword constructors)."""
    if selector is not None:
        params.sel = selector
    return params


class ClaimIndex(ABC):
    """Cosine-similarity search over claim vectors, keyed by claim id, with source and date filters.

    Thread-safe: searches run concurrently; ``add``, ``remove`` and ``save`` run one at a time and
    exclude searches only while the FAISS structure itself changes.
    """

    kind: ClassVar[str]
    #: How many times a search is retried with more effort when it returns fewer hits than it could.
    max_effort: ClassVar[int] = 0

    def __init__(self, dimension: int) -> None:
        if dimension <= 0:
            raise ValueError(f"dimension must be positive, got {dimension}")
        self.dimension = dimension
        self._meta = ClaimMetadata()
        self._rw = RWLock()
        self._writer = threading.Lock()

    # -- public API -------------------------------------------------------------------------------

    def add(self, batch: VectorBatch) -> None:
        """Index the claims of ``batch``; ids already indexed are skipped, so replaying a batch is harmless."""
        ids, vectors = check_batch(batch, self.dimension)
        with self._writer:
            ids, first = np.unique(ids, return_index=True)
            keep = first[~self._meta.is_live(ids)]
            if len(keep) == 0:
                return
            keep.sort()
            ids = np.ascontiguousarray(batch.ids[keep], dtype=np.int64)
            self._before_add(ids)
            with self._rw.write():
                self._add(ids, np.ascontiguousarray(vectors[keep]))
                self._meta.set(ids, [batch.source_ids[i] for i in keep], [batch.published[i] for i in keep])
            self._after_add()

    def remove(self, ids: Sequence[int] | np.ndarray) -> None:
        """Stop returning these claims; ids that are not indexed are ignored."""
        array = np.unique(np.asarray(ids, dtype=np.int64).reshape(-1))
        with self._writer:
            array = array[self._meta.is_live(array)] if len(array) else array
            if len(array) == 0:
                return
            with self._rw.write():
                self._remove(array)
                self._meta.drop(array)
            self._after_remove()

    def search(self, queries: np.ndarray, k: int, flt: SearchFilter = ANY) -> list[list[Hit]]:
        """Up to ``k`` most similar claims passing ``flt`` for each query row, most similar first.

        Fewer than ``k`` hits come back only when fewer than ``k`` claims pass the filter.
        """
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        q = check_queries(queries, self.dimension)
        if len(q) == 0:
            return []
        with self._rw.read():
            selection = self._meta.selection(flt, self._has_dead())
            if selection.allowed == 0:
                return [[] for _ in range(len(q))]
            want = min(k, selection.allowed)
            scores, labels = self._search(q, want, selection.selector, 0)
            for effort in range(1, self.max_effort + 1):
                short = np.flatnonzero((labels >= 0).sum(axis=1) < want)
                if len(short) == 0:
                    break
                LOG.debug("%s: %d queries short of %d hits, effort %d", self.kind, len(short), want, effort)
                scores[short], labels[short] = self._search(q[short], want, selection.selector, effort)
        return [
            [Hit(int(c), float(s)) for c, s in zip(row_labels, row_scores, strict=True) if c >= 0]
            for row_labels, row_scores in zip(labels, scores, strict=True)
        ]

    def __len__(self) -> int:
        """Live (searchable) claims."""
        return len(self._meta)

    def save(self, directory: Path, last_claim_id: int, embedder: str) -> None:
        """Write a snapshot plus manifest under ``directory``, replacing the previous one atomically."""
        with self._writer:
            write_snapshot(
                Path(directory),
                files=self._write_files,
                kind=self.kind,
                dimension=self.dimension,
                embedder=embedder,
                last_claim_id=last_claim_id,
                count=len(self),
                params=self.params(),
            )

    @property
    def needs_training(self) -> bool:
        """True while a trained backend (IVF-PQ) still searches its exact staging area."""
        return False

    def train(self, sample: np.ndarray) -> None:  # noqa: B027 (optional hook)
        """Train on a representative sample before bulk adds; a no-op for backends without training."""

    def train_size(self, size: int) -> int:
        """How many sample vectors ``train`` wants for a corpus of ``size`` claims; 0 for none."""
        return 0

    def params(self) -> dict[str, Any]:
        """Backend settings, recorded in the snapshot manifest and used to re-open it."""
        return {}

    def suits(self, size: int) -> bool:
        """Whether this index's structure (e.g. IVF list count) still fits a corpus of ``size`` claims."""
        return True

    def nbytes(self) -> int:
        """Bytes of vector data and structure the index holds (its FAISS serialisation plus extras)."""
        with self._writer:
            return self._nbytes()

    # -- snapshot loading (used by ``open_index``) ------------------------------------------------

    @classmethod
    @abstractmethod
    def read_files(cls, directory: Path, dimension: int, params: dict[str, Any]) -> Self:
        """Load the backend from files written by ``_write_files``; the metadata starts empty."""

    def stored_ids(self) -> np.ndarray:
        """Sorted ids physically in the FAISS structure (for HNSW: removed ones too)."""
        with self._writer:
            return np.unique(self._stored_ids())

    def attach_metadata(self, ids: np.ndarray, source_ids: Sequence[str], published: Sequence[Any]) -> None:
        """Mark stored ids live with their metadata, after a snapshot load."""
        with self._writer, self._rw.write():
            self._meta.set(ids, source_ids, published)

    def purge(self, ids: np.ndarray) -> None:
        """Physically drop ids that have no metadata (deleted from the store since the snapshot)."""
        if len(ids) == 0:
            return
        with self._writer:
            with self._rw.write():
                self._remove(ids)
            self._after_remove()

    # -- backend hooks ----------------------------------------------------------------------------

    @abstractmethod
    def _add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...

    @abstractmethod
    def _remove(self, ids: np.ndarray) -> None: ...

    @abstractmethod
    def _search(
        self, queries: np.ndarray, k: int, selector: faiss.IDSelector | None, effort: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, labels), each (n, k); label -1 pads rows with fewer hits. Higher effort searches harder."""

    @abstractmethod
    def _stored_ids(self) -> np.ndarray: ...

    @abstractmethod
    def _write_files(self, directory: Path) -> list[str]:
        """Write the backend's files into ``directory`` (which exists); return their names."""

    @abstractmethod
    def _nbytes(self) -> int: ...

    def _has_dead(self) -> bool:
        """True while the FAISS structure holds removed ids that every search must skip."""
        return False

    def _before_add(self, ids: np.ndarray) -> None:  # noqa: B027 (optional hook)
        """Called under the writer lock, before the write lock, with the ids about to be added."""

    def _after_add(self) -> None:  # noqa: B027 (optional hook)
        """Called under the writer lock (not the write lock) after an add."""

    def _after_remove(self) -> None:  # noqa: B027 (optional hook)
        """Called under the writer lock (not the write lock) after a removal."""


def check_batch(batch: VectorBatch, dimension: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids, unit vectors) of a batch, or ValueError naming what is wrong."""
    ids = np.asarray(batch.ids)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"VectorBatch.ids must be a 1-D integer array, got {ids.dtype} with shape {ids.shape}")
    n = len(ids)
    vectors = np.asarray(batch.vectors)
    if vectors.ndim != 2 or vectors.shape != (n, dimension):
        raise ValueError(f"VectorBatch.vectors has shape {vectors.shape}, expected ({n}, {dimension})")
    if len(batch.source_ids) != n or len(batch.published) != n:
        raise ValueError(
            f"VectorBatch has {n} ids but {len(batch.source_ids)} source_ids and {len(batch.published)} dates"
        )
    if n and ids.min() < 0:
        raise ValueError("claim ids must be non-negative")
    return ids.astype(np.int64, copy=False), unit_rows(vectors, "VectorBatch.vectors")


def check_queries(queries: np.ndarray, dimension: int) -> np.ndarray:
    q = np.asarray(queries)
    if q.ndim != 2 or q.shape[1] != dimension:
        raise ValueError(f"queries must have shape (n, {dimension}), got {q.shape}")
    return unit_rows(q, "queries")


def unit_rows(array: np.ndarray, name: str) -> np.ndarray:
    """float32 C-contiguous copy with rows scaled to unit length, so inner products are cosines."""
    out = np.array(array, dtype=np.float32, order="C", copy=True)
    if not np.isfinite(out).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    if len(out) and (norms == 0).any():
        raise ValueError(f"{name} contains an all-zero vector")
    if len(out):
        out /= norms
    return out
