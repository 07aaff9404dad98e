"""Candidate search: which stored claims of other sources are worth judging against a claim.

One implementation for ``Check`` (``Detector.candidates``, over the store) and ``contra compare``
(the batch job, over an in-memory table of its corpus), so that a change to retrieval changes both:
dense nearest neighbours above ``min_similarity``, BM25 hits on the claim's rarest names, numbers and
words above ``lexical_min_similarity`` (with their real cosine, which the judge reads), fused by
reciprocal rank.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from contra.index import ClaimIndex, SearchFilter


class LexicalSource(Protocol):
    """Full-text search over the same ids the dense index holds (``ClaimStore``, ``LexicalTable``)."""

    def lexical_search(
        self,
        text: str,
        k: int,
        *,
        exclude_source: str | None = None,
        only_sources: frozenset[str] = frozenset(),
        since: dt.date | None = None,
        until: dt.date | None = None,
        include_undated: bool = True,
    ) -> list[tuple[int, float]]: ...


class VectorLookup(Protocol):
    def __call__(self, ids: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True, slots=True)
class RetrievalSettings:
    top_k: int = 20
    min_similarity: float = 0.35
    lexical_k: int = 20
    lexical_min_similarity: float = 0.15


@dataclass(slots=True)
class CandidateSearch:
    """Dense + lexical candidates per query claim, as ``(id, cosine)`` lists, best first."""

    index: ClaimIndex
    lexical: LexicalSource | None
    vectors_by_id: VectorLookup
    settings: RetrievalSettings
    #: Held around the lexical searches (the Detector's write lock: the store's full-text table and its
    #: claims must not change between the two reads); the dense search takes the index's own lock.
    lexical_lock: AbstractContextManager[object] = field(default_factory=contextlib.nullcontext)

    def search(
        self, texts: Sequence[str], vectors: np.ndarray, flt: SearchFilter, top_k: int | None = None
    ) -> list[list[tuple[int, float]]]:
        k = top_k or self.settings.top_k
        hits = self.index.search(vectors, k, flt)
        floor = self.settings.min_similarity
        dense = [{h.claim_id: h.similarity for h in row if h.similarity >= floor} for row in hits]
        if self.lexical is None or self.settings.lexical_k <= 0:
            return [list(d.items())[:k] for d in dense]
        with self.lexical_lock:
            lexical = [self._lexical(text, vector, flt) for text, vector in zip(texts, vectors, strict=True)]
        return [fuse(d, lx, k) for d, lx in zip(dense, lexical, strict=True)]

    def _lexical(self, text: str, vector: np.ndarray, flt: SearchFilter) -> dict[int, float]:
        """Claims sharing the rare terms of ``text``, best BM25 first, with their real cosine; those below
        ``lexical_min_similarity`` share words but not a topic."""
        assert self.lexical is not None
        found = self.lexical.lexical_search(
            text,
            self.settings.lexical_k,
            exclude_source=flt.exclude_source,
            only_sources=flt.only_sources,
            since=flt.since,
            until=flt.until,
            include_undated=flt.include_undated,
        )
        if not found:
            return {}
        ids = np.fromiter((cid for cid, _ in found), dtype=np.int64, count=len(found))
        cosines = self.vectors_by_id(ids) @ np.asarray(vector, dtype=np.float32)
        floor = self.settings.lexical_min_similarity
        return {int(cid): float(cos) for cid, cos in zip(ids, cosines, strict=True) if cos >= floor}


#: Reciprocal rank fusion's damping constant (Cormack et al., 2009): a hit's weight is 1 / (RRF_K + rank).
RRF_K = 60


def fuse(dense: dict[int, float], lexical: dict[int, float], k: int) -> list[tuple[int, float]]:
    """At most ``k`` (claim_id, cosine) pairs ranked by reciprocal rank fusion of the two lists.

    RRF needs no common scale between cosine and BM25, and a claim both retrievers found rises above
    one only one of them found. With no lexical hits this is the dense list unchanged.
    """
    if not lexical:
        return list(dense.items())[:k]
    score: dict[int, float] = {}
    for ranked in (dense, lexical):
        for rank, cid in enumerate(ranked, start=1):
            score[cid] = score.get(cid, 0.0) + 1.0 / (RRF_K + rank)
    cosine = {**lexical, **dense}
    order = sorted(score, key=lambda cid: (-score[cid], -cosine[cid], cid))
    return [(cid, cosine[cid]) for cid in order[:k]]
