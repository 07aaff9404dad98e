"""Inverted lists of product-quantised codes (IVF-PQ), re-ranked with finer scalar-quantised codes.

Memory is the point. PQ scores alone are too coarse for a good top 10 (recall@10 about 0.67 on MiniLM
embeddings), so each search fetches ``k * k_factor`` candidates by PQ score and re-orders them by a finer
score, from one of two sources:

* ``vectors`` given (``open_index`` passes ``ClaimStore.vectors_by_id``): the exact float32 vectors of the
  candidates, read from the store. A claim then costs 48 bytes of PQ code and 8 bytes of id in memory,
  under 4 % of a float32 vector (1,536 bytes), and the ranking is exact; each search reads
  ``k * k_factor`` rows from SQLite (page cache), which adds about a millisecond.
* no ``vectors`` (a self-contained index): 6-bit scalar-quantised codes kept in memory, 288 more bytes
  a claim (22 % of flat in all). Their cosines are off by 0.002 (standard deviation) on MiniLM
  embeddings, which loses recall where neighbours are that close; ``refine_bits=8`` (28 % of flat) wins
  most of it back. The codes sit in a dense array indexed by claim id, so deleted ids keep their row.

IVF-PQ must be trained (k-means for the lists and the PQ codebooks) on at least ``min_train`` vectors.
Until it has seen that many, claims sit in an exact staging area (a flat index) that searches use; the
add that crosses the threshold trains on the staged vectors and moves them into the lists. ``nlist``
follows the corpus size given at construction (``expected_size``) or at training time, whichever is
larger; an index trained for a much smaller corpus reports ``suits(size) == False`` and ``open_index``
then rebuilds it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Self

import faiss
import numpy as np

from contra.index.base import ClaimIndex, read_id_map, search_params, unit_rows

LOG = logging.getLogger(__name__)

STAGING_FILE = "staging.faiss"
IVF_FILE = "ivf.faiss"
REFINE_FILE = "refine.faiss"
CODES_FILE = "codes.npy"

#: Exact vectors by claim id, ``(len(ids), d)`` float32 with a zero row for an unknown id
#: (``ClaimStore.vectors_by_id``).
VectorLookup = Callable[[np.ndarray], np.ndarray]

_REFINE_TYPES = {
    4: faiss.ScalarQuantizer.QT_4bit,
    6: faiss.ScalarQuantizer.QT_6bit,
    8: faiss.ScalarQuantizer.QT_8bit,
}


def choose_nlist(size: int, n_train: int) -> int:
    """About 4 * sqrt(n) lists (a power of two), with at least 39 training vectors per list."""
    target = 2 ** round(math.log2(4 * math.sqrt(max(size, 1))))
    return int(max(1, min(target, 65_536, n_train // 39)))


def choose_m(dimension: int) -> int:
    """PQ sub-quantizers: one per 8 dimensions (48 for 384), a divisor of the dimension."""
    target = max(1, dimension // 8)
    return min((m for m in range(1, dimension + 1) if dimension % m == 0), key=lambda m: (abs(m - target), m))


class IVFPQIndex(ClaimIndex):
    """``IndexIVFPQ`` (inner product, its own ids) plus dense 6-bit re-ranking codes by claim id."""

    kind: ClassVar[str] = "ivfpq"
    #: 0: ``nprobe`` lists; 1: four times as many; 2: every list.
    max_effort: ClassVar[int] = 2

    def __init__(
        self,
        dimension: int,
        expected_size: int = 0,
        *,
        nlist: int = 0,
        m: int = 0,
        nprobe: int = 0,
        k_factor: int = 16,
        refine_bits: int = 6,
        vectors: VectorLookup | None = None,
        min_train: int = 10_000,
        max_train: int = 200_000,
    ) -> None:
        super().__init__(dimension)
        if refine_bits not in _REFINE_TYPES:
            raise ValueError(f"refine_bits must be one of {sorted(_REFINE_TYPES)}, got {refine_bits}")
        if k_factor < 1 or min_train < 256 or max_train < min_train:
            raise ValueError("IVF-PQ needs k_factor >= 1, min_train >= 256 and max_train >= min_train")
        self.m = m or choose_m(dimension)
        if dimension % self.m:
            raise ValueError(f"PQ sub-quantizers ({self.m}) must divide the dimension ({dimension})")
        self.expected_size = expected_size
        self.nlist = nlist
        self.nprobe = nprobe
        self.k_factor = k_factor
        self.refine_bits = refine_bits
        self._vectors = vectors
        self.min_train = min_train
        self.max_train = max_train
        self._staging: faiss.IndexIDMap2 | None = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        self._ivf: faiss.IndexIVFPQ | None = None
        self._refine: faiss.IndexScalarQuantizer | None = None
        self._codes = np.zeros((0, 0), dtype=np.uint8)

    def params(self) -> dict[str, Any]:
        return {
            "expected_size": self.expected_size,
            "nlist": self.nlist,
            "m": self.m,
            "nprobe": self.nprobe,
            "k_factor": self.k_factor,
            "refine_bits": self.refine_bits,
            "exact_rerank": self._vectors is not None,
            "min_train": self.min_train,
            "max_train": self.max_train,
            "trained": self._ivf is not None,
        }

    @property
    def needs_training(self) -> bool:
        return self._ivf is None

    def suits(self, size: int) -> bool:
        return self._ivf is None or self.nlist * 4 >= choose_nlist(size, size)

    def train_size(self, size: int) -> int:
        """How many vectors ``train`` wants for a corpus of ``size``; 0 below ``min_train``."""
        if size < self.min_train:
            return 0
        nlist = self.nlist or choose_nlist(max(size, self.expected_size), size)
        return int(min(size, max(self.min_train, 50 * nlist), self.max_train))

    # -- training ---------------------------------------------------------------------------------

    def train(self, sample: np.ndarray) -> None:
        vectors = np.asarray(sample)
        if vectors.ndim != 2 or vectors.shape[1] != self.dimension:
            raise ValueError(f"training sample must have shape (n, {self.dimension}), got {vectors.shape}")
        if len(vectors) < self.min_train:
            raise ValueError(f"IVF-PQ needs at least {self.min_train} training vectors, got {len(vectors)}")
        with self._writer:
            if self._ivf is None:
                self._train(unit_rows(vectors, "training sample"))

    def _after_add(self) -> None:
        staging = self._staging
        if self._ivf is None and staging is not None and staging.ntotal >= self.min_train:
            vectors = self._staged_vectors()
            if len(vectors) > self.max_train:
                rows = np.random.default_rng(0).choice(len(vectors), self.max_train, replace=False)
                vectors = vectors[np.sort(rows)]
            self._train(vectors)

    def _train(self, sample: np.ndarray) -> None:
        """Train on ``sample``, move the staged claims in, then swap; searches use staging meanwhile."""
        started = time.perf_counter()
        size = max(self.expected_size, len(self), len(sample))
        nlist = self.nlist or choose_nlist(size, len(sample))
        ivf = faiss.index_factory(self.dimension, f"IVF{nlist},PQ{self.m}", faiss.METRIC_INNER_PRODUCT)
        assert isinstance(ivf, faiss.IndexIVFPQ)  # the factory returns the concrete (owning) class
        # The factory turns on polysemous training (minutes of annealing) that the re-ranked search never uses.
        ivf.do_polysemous_training = False  # type: ignore[attr-defined]  # missing from the FAISS stubs
        ivf.train(sample)
        refine = faiss.IndexScalarQuantizer(self.dimension, _REFINE_TYPES[self.refine_bits], faiss.METRIC_INNER_PRODUCT)
        refine.train(sample)
        staging = self._staging
        ids = np.zeros(0, dtype=np.int64)
        vectors = np.zeros((0, self.dimension), dtype=np.float32)
        if staging is not None and staging.ntotal:
            ids = faiss.vector_to_array(staging.id_map).astype(np.int64)
            vectors = self._staged_vectors()
        codes = np.zeros((0, refine.sa_code_size()), dtype=np.uint8)
        if len(ids):
            ivf.add_with_ids(vectors, ids)
            if self._vectors is None:
                codes = _put_rows(codes, ids, refine.sa_encode(vectors))
        with self._rw.write():
            self.nlist = nlist
            self.nprobe = self.nprobe or default_nprobe(nlist)
            self._ivf, self._refine, self._codes, self._staging = ivf, refine, codes, None
        LOG.info(
            "IVF-PQ trained on %d vectors (nlist=%d, m=%d, nprobe=%d) in %.1f s; %d staged claims moved in",
            len(sample),
            nlist,
            self.m,
            self.nprobe,
            time.perf_counter() - started,
            len(ids),
        )

    def _staged_vectors(self) -> np.ndarray:
        assert self._staging is not None
        flat = faiss.downcast_index(self._staging.index)
        # Positions in the flat storage follow the id map, so row i belongs to id_map[i].
        return np.asarray(flat.reconstruct_n(0, int(flat.ntotal)), dtype=np.float32)

    # -- index operations -------------------------------------------------------------------------

    def _add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if self._ivf is None:
            assert self._staging is not None
            self._staging.add_with_ids(vectors, ids)
            return
        assert self._refine is not None
        self._ivf.add_with_ids(vectors, ids)
        if self._vectors is None:
            self._codes = _put_rows(self._codes, ids, self._refine.sa_encode(vectors))

    def _remove(self, ids: np.ndarray) -> None:
        target = self._ivf if self._ivf is not None else self._staging
        assert target is not None
        target.remove_ids(faiss.IDSelectorBatch(ids))

    def _search(
        self, queries: np.ndarray, k: int, selector: faiss.IDSelector | None, effort: int
    ) -> tuple[np.ndarray, np.ndarray]:
        if self._ivf is None:
            assert self._staging is not None
            params = search_params(faiss.SearchParameters(), selector)
            scores, labels = self._staging.search(queries, k, params=params)
            return scores, labels
        nprobe = (self.nprobe, min(self.nlist, 4 * self.nprobe), self.nlist)[min(effort, 2)]
        params = faiss.SearchParametersIVF()
        params.nprobe = nprobe
        _, candidates = self._ivf.search(queries, k * self.k_factor, params=search_params(params, selector))
        return self._rerank(queries, candidates, k)

    def _rerank(self, queries: np.ndarray, candidates: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The best ``k`` candidates by exact stored vectors (when given) or by their 6-bit codes."""
        assert self._refine is not None
        n, width = candidates.shape
        valid = candidates >= 0
        if self._vectors is not None:
            decoded = self._vectors(candidates.ravel())
            valid &= decoded.any(axis=1).reshape(n, width)  # deleted from the store meanwhile
        else:
            decoded = self._refine.sa_decode(self._codes[np.where(valid, candidates, 0).ravel()])
        scores = np.einsum("nkd,nd->nk", decoded.reshape(n, width, self.dimension), queries)
        scores[~valid] = -np.inf
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        top_scores = np.take_along_axis(scores, order, axis=1).astype(np.float32)
        labels = np.where(np.isfinite(top_scores), np.take_along_axis(candidates, order, axis=1), -1)
        return top_scores, labels

    def _stored_ids(self) -> np.ndarray:
        if self._ivf is None:
            assert self._staging is not None
            return faiss.vector_to_array(self._staging.id_map).astype(np.int64)
        lists = self._ivf.invlists
        assert lists is not None
        parts = [
            faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
            for i in range(lists.nlist)
            if lists.list_size(i)
        ]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)

    # -- files ------------------------------------------------------------------------------------

    def _write_files(self, directory: Path) -> list[str]:
        if self._ivf is None:
            assert self._staging is not None
            faiss.write_index(self._staging, str(directory / STAGING_FILE))
            return [STAGING_FILE]
        assert self._refine is not None
        faiss.write_index(self._ivf, str(directory / IVF_FILE))
        faiss.write_index(self._refine, str(directory / REFINE_FILE))
        np.save(directory / CODES_FILE, self._codes[: self._rows_used()])
        return [IVF_FILE, REFINE_FILE, CODES_FILE]

    def _rows_used(self) -> int:
        live = self._meta.live_ids()
        return int(live.max()) + 1 if len(live) else 0

    @classmethod
    def read_files(cls, directory: Path, dimension: int, params: dict[str, Any]) -> Self:
        index = cls(
            dimension,
            int(params.get("expected_size", 0)),
            nlist=int(params.get("nlist", 0)),
            m=int(params.get("m", 0)),
            nprobe=int(params.get("nprobe", 0)),
            k_factor=int(params.get("k_factor", 16)),
            refine_bits=int(params.get("refine_bits", 6)),
            vectors=params.get("vectors"),
            min_train=int(params.get("min_train", 10_000)),
            max_train=int(params.get("max_train", 200_000)),
        )
        if bool(params.get("exact_rerank", False)) != (index._vectors is not None):
            saved = "exact vectors" if params.get("exact_rerank") else "6-bit codes"
            raise ValueError(f"the snapshot re-ranks with {saved}, which this index is not set up for")
        if not params.get("trained", False):
            index._staging = read_id_map(directory / STAGING_FILE, dimension)
            return index
        ivf = faiss.read_index(str(directory / IVF_FILE))
        refine = faiss.read_index(str(directory / REFINE_FILE))
        codes = np.load(directory / CODES_FILE, allow_pickle=False)
        if not isinstance(ivf, faiss.IndexIVFPQ) or ivf.d != dimension or ivf.nlist != index.nlist:
            raise ValueError(f"{directory / IVF_FILE} is not a {dimension}-dimensional IVF{index.nlist} PQ index")
        if not isinstance(refine, faiss.IndexScalarQuantizer) or refine.d != dimension:
            raise ValueError(f"{directory / REFINE_FILE} is not a {dimension}-dimensional scalar quantizer")
        if index._vectors is None and (
            codes.dtype != np.uint8 or codes.ndim != 2 or codes.shape[1] != refine.sa_code_size()
        ):
            raise ValueError(f"{directory / CODES_FILE} does not hold {refine.sa_code_size()}-byte codes")
        index._ivf, index._refine, index._codes, index._staging = ivf, refine, codes, None
        ids = index._stored_ids()
        if index._vectors is None and len(ids) and ids.max() >= len(codes):
            raise ValueError(f"{directory / CODES_FILE} lacks codes for claim ids up to {ids.max()}")
        return index

    def _nbytes(self) -> int:
        if self._ivf is None:
            assert self._staging is not None
            return int(faiss.serialize_index(self._staging).nbytes)
        assert self._refine is not None
        return int(
            faiss.serialize_index(self._ivf).nbytes + faiss.serialize_index(self._refine).nbytes + self._codes.nbytes
        )


def default_nprobe(nlist: int) -> int:
    """Lists searched per query: enough for recall@10 >= 0.95 on sentence embeddings (see bench_index)."""
    return int(min(nlist, max(64, nlist // 32)))


#: The dense code array grows by a quarter, but by at most this many rows (18 MB at 288 bytes a row).
_GROWTH = 65_536


def _put_rows(codes: np.ndarray, ids: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Write ``rows`` at positions ``ids`` of the dense code array, growing it when an id falls outside."""
    needed = int(ids.max()) + 1
    if needed > len(codes) or codes.shape[1] != rows.shape[1]:
        step = min(max(len(codes) // 4, 1024), _GROWTH)
        grown = np.zeros((max(needed, len(codes) + step), rows.shape[1]), dtype=np.uint8)
        if codes.shape[1] == rows.shape[1]:
            grown[: len(codes)] = codes
        codes = grown
    codes[ids] = rows
    return codes
