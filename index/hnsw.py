"""Graph search (HNSW): sub-linear queries with every vector kept exactly.

FAISS's HNSW cannot delete nodes, so ``remove`` only marks ids dead: they lose their metadata, every
search then runs with a selector that skips them, and they still cost memory and traversal time. Once
more than ``max_dead_fraction`` of the graph is dead, the graph is rebuilt from the live vectors (read
back from the HNSW storage). The rebuild runs under the writer lock only, so searches go on against the
old graph meanwhile; other adds and removals wait (at 1M claims, minutes).

Known weakness: large groups of near-identical vectors fill each other's neighbour lists and cut the
graph into islands. In ``bench/bench_index.py`` a 1M corpus made of 500 noisy copies of each of 2,000
sentences gave recall@10 0.27; with 50 copies per sentence it behaves. Exact duplicates never reach the
index (the store links them as copies), but a feed of lightly edited wire copy can come close.

``ef_search`` defaults to 192: in ``make bench-index`` at 1M claims it gave recall@10 0.958 against
flat (128 gave 0.927) with a query p99 under 10 ms on two shared cores.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, ClassVar, Self

import faiss
import numpy as np

from contra.index.base import ClaimIndex, read_id_map, search_params

LOG = logging.getLogger(__name__)

INDEX_FILE = "index.faiss"


class HNSWIndex(ClaimIndex):
    """``IndexIDMap2(IndexHNSWFlat)``, inner product."""

    kind: ClassVar[str] = "hnsw"
    #: 0: ``ef_search``; 1: four times that; 2: exact scan of the stored vectors under the same selector.
    max_effort: ClassVar[int] = 2

    def __init__(
        self,
        dimension: int,
        *,
        m: int = 32,
        ef_construction: int = 80,
        ef_search: int = 192,
        max_dead_fraction: float = 0.25,
        index: faiss.IndexIDMap2 | None = None,
    ) -> None:
        super().__init__(dimension)
        if m < 2 or ef_construction < 1 or ef_search < 1 or not 0.0 < max_dead_fraction < 1.0:
            raise ValueError("HNSW needs m >= 2, ef_construction >= 1, ef_search >= 1, 0 < max_dead_fraction < 1")
        self.m = m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.max_dead_fraction = max_dead_fraction
        self._index = index if index is not None else self._new_graph()
        self._in_graph = np.zeros(0, dtype=bool)
        self._mark_in_graph(self._stored_ids())

    def _new_graph(self) -> faiss.IndexIDMap2:
        graph = faiss.IndexHNSWFlat(self.dimension, self.m, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = self.ef_construction
        return faiss.IndexIDMap2(graph)

    def params(self) -> dict[str, Any]:
        return {
            "m": self.m,
            "ef_construction": self.ef_construction,
            "ef_search": self.ef_search,
            "max_dead_fraction": self.max_dead_fraction,
        }

    @property
    def dead(self) -> int:
        """Removed ids still in the graph."""
        return int(self._index.ntotal) - len(self)

    def _has_dead(self) -> bool:
        return self.dead > 0

    def _add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self._index.add_with_ids(vectors, ids)
        self._mark_in_graph(ids)

    def _remove(self, ids: np.ndarray) -> None:
        """Nothing to do in the graph: the ids lose their metadata, so selectors skip them."""

    def _before_add(self, ids: np.ndarray) -> None:
        inside = ids < len(self._in_graph)
        if self._in_graph[ids[inside]].any():
            # A removed id coming back (a snapshot replay): the graph cannot hold one id twice.
            self._compact()

    def _after_remove(self) -> None:
        total = int(self._index.ntotal)
        if total and self.dead > self.max_dead_fraction * total:
            self._compact()

    def _compact(self) -> None:
        """Rebuild the graph from the live vectors; searches keep using the old graph until the swap."""
        started = time.perf_counter()
        live = self._meta.live_ids()
        graph = self._new_graph()
        if len(live):
            graph.add_with_ids(self._index.reconstruct_batch(live), live)
        with self._rw.write():
            dropped = int(self._index.ntotal) - len(live)
            self._index = graph
            self._in_graph = np.zeros(0, dtype=bool)
            self._mark_in_graph(live)
        LOG.info(
            "HNSW graph rebuilt without %d removed claims in %.1f s (%d live)",
            dropped,
            time.perf_counter() - started,
            len(live),
        )

    def _search(
        self, queries: np.ndarray, k: int, selector: faiss.IDSelector | None, effort: int
    ) -> tuple[np.ndarray, np.ndarray]:
        if effort >= 2:
            return self._exact(queries, k, selector)
        ef = max(self.ef_search, k) * (4 if effort else 1)
        params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]  # missing from the FAISS stubs
        params.efSearch = ef
        scores, labels = self._index.search(queries, k, params=search_params(params, selector))
        return scores, labels

    def _exact(self, queries: np.ndarray, k: int, selector: faiss.IDSelector | None) -> tuple[np.ndarray, np.ndarray]:
        """Brute force over the graph's stored vectors: the last resort for heavily filtered queries."""
        graph = faiss.downcast_index(self._index.index)
        assert isinstance(graph, faiss.IndexHNSWFlat)
        translated = None
        if selector is not None:
            # The storage knows graph positions, the selector claim ids: translate through the id map.
            translated = faiss.IDSelectorTranslated(self._index.id_map, selector)  # type: ignore[arg-type]
        params = search_params(faiss.SearchParameters(), translated)
        scores, positions = graph.storage.search(queries, k, params=params)
        id_map = faiss.vector_to_array(self._index.id_map)
        labels = np.where(positions >= 0, id_map[np.maximum(positions, 0)], -1)
        return scores, labels

    def _mark_in_graph(self, ids: np.ndarray) -> None:
        if len(ids) == 0:
            return
        size = int(ids.max()) + 1
        if size > len(self._in_graph):
            grown = np.zeros(max(size, 2 * len(self._in_graph), 1024), dtype=bool)
            grown[: len(self._in_graph)] = self._in_graph
            self._in_graph = grown
        self._in_graph[ids] = True

    def _stored_ids(self) -> np.ndarray:
        return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def _write_files(self, directory: Path) -> list[str]:
        faiss.write_index(self._index, str(directory / INDEX_FILE))
        return [INDEX_FILE]

    @classmethod
    def read_files(cls, directory: Path, dimension: int, params: dict[str, Any]) -> Self:
        index = read_id_map(directory / INDEX_FILE, dimension)
        if not isinstance(faiss.downcast_index(index.index), faiss.IndexHNSWFlat):
            raise ValueError(f"{directory / INDEX_FILE} does not hold an HNSW graph")
        return cls(
            dimension,
            m=int(params.get("m", 32)),
            ef_construction=int(params.get("ef_construction", 80)),
            ef_search=int(params.get("ef_search", 192)),
            max_dead_fraction=float(params.get("max_dead_fraction", 0.25)),
            index=index,
        )

    def _nbytes(self) -> int:
        return int(faiss.serialize_index(self._index).nbytes)
