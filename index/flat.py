"""Exact search: every stored vector is compared with the query. Always correct, O(n) per query."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Self

import faiss
import numpy as np

from contra.index.base import ClaimIndex, read_id_map, search_params

INDEX_FILE = "index.faiss"


class FlatIndex(ClaimIndex):
    """``IndexIDMap2(IndexFlatIP)``: the reference every other backend is tested against."""

    kind: ClassVar[str] = "flat"

    def __init__(self, dimension: int, *, index: faiss.IndexIDMap2 | None = None) -> None:
        super().__init__(dimension)
        self._index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))

    def _add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self._index.add_with_ids(vectors, ids)

    def _remove(self, ids: np.ndarray) -> None:
        self._index.remove_ids(faiss.IDSelectorBatch(ids))

    def _search(
        self, queries: np.ndarray, k: int, selector: faiss.IDSelector | None, effort: int
    ) -> tuple[np.ndarray, np.ndarray]:
        scores, labels = self._index.search(queries, k, params=search_params(faiss.SearchParameters(), selector))
        return scores, labels

    def _stored_ids(self) -> np.ndarray:
        return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def _write_files(self, directory: Path) -> list[str]:
        faiss.write_index(self._index, str(directory / INDEX_FILE))
        return [INDEX_FILE]

    @classmethod
    def read_files(cls, directory: Path, dimension: int, params: dict[str, Any]) -> Self:
        return cls(dimension, index=read_id_map(directory / INDEX_FILE, dimension))

    def _nbytes(self) -> int:
        return int(faiss.serialize_index(self._index).nbytes)
