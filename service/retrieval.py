"""Candidate search: which stored claims of other sources are worth judging against a claim.

One implementation for ``Check`` (``Detector.candidates``, over the store) and ``contra compare``
(the batch job, over an in-memory table of its corpus), so that a change to retrieval changes both:
dense nearest neighbours above ``min_similarity``, BM25 hits on the claim's rarest names, numbers and
words above ``lexical_min_similarity`` (with their real cosine, which the judge reads), fused by
reciprocal rank.

The two sides of a real conflict are written by opposite parties, in different words: when many outlets
repeat a claim, its denial ranks below all the repetitions and falls out of the first ``top_k``. So the
dense search fetches a deeper pool (``pool_k``), re-ranks it with a bonus for a candidate whose stance
cues oppose the claim's (a denial on one side only, opposite news verbs), and merges it by reciprocal rank
with a search for the claim's story (the claim plus its first hits); that dense list and the lexical
hits are fused by reciprocal rank as before and cut to ``top_k``. Measured on real outlets by
``make eval-retrieval``; see docs/retrieval.md.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from contra.index import ClaimIndex, SearchFilter

# The judge's stance lexicons, read rather than copied (retrieval must see a denial where the judge does).
from contra.service.judge import polarity as judge_polarity


class LexicalSource(Protocol):
    """Full-text search over the same ids the dense index holds (``ClaimStore``, ``LexicalTable``)."""

    def lexical_search(self, text: str, k: int, flt: SearchFilter = ...) -> list[tuple[int, float]]: ...


class VectorLookup(Protocol):
    def __call__(self, ids: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True, slots=True)
class RetrievalSettings:
    top_k: int = 20
    min_similarity: float = 0.35
    #: BM25 hits fused with the dense list. Five, not twenty: with twenty, reciprocal-rank fusion let the
    #: lexical list push dense hits out of the 20 places, and on real outlets' text (Emergent, ClaimDiff,
    #: FNC-1, judge-role queries) five gave higher recall of both conflicting and agreeing partners
    #: (docs/retrieval.md, session 7); a figure inside an unrelated sentence is still found lexically.
    lexical_k: int = 5
    lexical_min_similarity: float = 0.15
    #: The dense search fetches this many, re-ranked below, before the fused list is cut back to ``top_k``
    #: (0 or <= top_k: the first ``top_k`` only).
    pool_k: int = 60
    #: Search the claim's story too, as one more dense list: the claim's vector plus ``story_weight`` times
    #: the mean of its first ``story`` dense hits (pseudo-relevance feedback, Rocchio). Reports of one event
    #: by many outlets sit around that centre whatever their stance, while the claim alone sits nearest its
    #: own repetitions (0 = off).
    story: int = 5
    story_weight: float = 1.0
    #: Added to a pooled candidate's score when it and the claim carry opposite stance cues (a denial or
    #: debunking on one side only, or opposite news verbs, read as ``judge.polarity`` reads them).
    stance_bonus: float = 0.05

    @classmethod
    def from_settings(cls, settings: Any) -> RetrievalSettings:
        """The retrieval part of ``contra.service.config.Settings`` (any object with those attributes)."""
        return cls(**{f.name: getattr(settings, f.name) for f in dataclasses.fields(cls) if hasattr(settings, f.name)})


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
    #: Texts of stored claims by id: copies of the claim's own text are dropped before the cut rather than
    #: after it, and ``stance_bonus`` reads them; without it ``stance_bonus`` does nothing.
    texts_by_id: Callable[[Sequence[int]], Mapping[int, str]] | None = None

    def search(
        self, texts: Sequence[str], vectors: np.ndarray, flt: SearchFilter, top_k: int | None = None
    ) -> list[list[tuple[int, float]]]:
        s = self.settings
        k = top_k or s.top_k
        depth = max(k, s.pool_k)
        vectors = np.asarray(vectors, dtype=np.float32)
        dense = self._dense(vectors, depth, flt)
        stories = self._stories(vectors, dense, depth, flt)
        out: list[list[tuple[int, float]]] = []
        for text, vector, pool, story in zip(texts, vectors, dense, stories, strict=True):
            lists = [pool, story]
            with self.lexical_lock:
                if self.lexical is not None and s.lexical_k > 0:
                    lists.append(self._lexical(text, vector, flt))
                known = self._texts(lists)
            if known:  # a syndicated copy of the claim's own text takes no place among the k
                lists = [{cid: cos for cid, cos in ranked.items() if known.get(cid) != text} for ranked in lists]
            pool = self._rerank(text, vector, lists[0], known)
            if lists[1]:
                # One dense list from the two dense searches, so that the lexical hits keep their weight.
                pool = dict(_rrf([pool, lists[1]], len(pool) + len(lists[1])))
            out.append(fuse([pool, *lists[2:]], k))
        return out

    def _dense(self, vectors: np.ndarray, k: int, flt: SearchFilter) -> list[dict[int, float]]:
        floor = self.settings.min_similarity
        hits = self.index.search(vectors, k, flt)
        return [{h.claim_id: h.similarity for h in row if h.similarity >= floor} for row in hits]

    def _stories(
        self, vectors: np.ndarray, dense: Sequence[dict[int, float]], k: int, flt: SearchFilter
    ) -> list[dict[int, float]]:
        """Dense hits of each claim's story (the claim plus the mean of its first ``story`` hits), in one
        search for all claims, each hit with its cosine to the claim itself; empty where ``story`` is off."""
        s = self.settings
        rows = [i for i, pool in enumerate(dense) if pool] if s.story > 0 else []
        out: list[dict[int, float]] = [{} for _ in dense]
        if not rows:
            return out
        centres = np.empty((len(rows), vectors.shape[1]), dtype=np.float32)
        for n, i in enumerate(rows):
            ids = np.fromiter(list(dense[i])[: s.story], dtype=np.int64)
            centre = vectors[i] + s.story_weight * self.vectors_by_id(ids).mean(axis=0)
            centres[n] = centre / max(float(np.linalg.norm(centre)), 1e-12)
        for i, hits in zip(rows, self.index.search(centres, k, flt), strict=True):
            found = np.fromiter((h.claim_id for h in hits), dtype=np.int64, count=len(hits))
            if len(found):
                cosines = self.vectors_by_id(found) @ vectors[i]
                kept = cosines >= s.min_similarity
                out[i] = {int(cid): float(cos) for cid, cos in zip(found[kept], cosines[kept], strict=True)}
        return out

    def _texts(self, lists: Sequence[dict[int, float]]) -> Mapping[int, str]:
        if self.texts_by_id is None:
            return {}
        return self.texts_by_id(sorted({cid for ranked in lists for cid in ranked}))

    def _rerank(
        self, text: str, vector: np.ndarray, hits: dict[int, float], known: Mapping[int, str]
    ) -> dict[int, float]:
        """The dense pool re-ranked by cosine plus ``_bonus`` (unchanged where there is no bonus); the
        cosines stay the claim's own."""
        if len(hits) < 2:
            return hits
        ids = np.fromiter(hits, dtype=np.int64, count=len(hits))
        bonus = self._bonus(text, vector, ids, known)
        if bonus is None:
            return hits
        cosines = np.fromiter(hits.values(), dtype=np.float32, count=len(hits))
        order = np.argsort(-(cosines + bonus), kind="stable")
        return {int(ids[i]): float(cosines[i]) for i in order}

    def _bonus(self, text: str, vector: np.ndarray, ids: np.ndarray, known: Mapping[int, str]) -> np.ndarray | None:
        """What each pool member's cosine gains in the re-rank: ``stance_bonus`` where its stance cues oppose
        the claim's; None (dense order kept) when the bonus is 0 or no texts are known."""
        s = self.settings
        if s.stance_bonus == 0.0 or not known:
            return None
        cues = np.fromiter(
            (opposite_cues(text, known.get(int(cid), "")) for cid in ids), dtype=np.float32, count=len(ids)
        )
        return s.stance_bonus * cues

    def _lexical(self, text: str, vector: np.ndarray, flt: SearchFilter) -> dict[int, float]:
        """Claims sharing the rare terms of ``text``, best BM25 first, with their real cosine; those below
        ``lexical_min_similarity`` share words but not a topic."""
        assert self.lexical is not None
        found = self.lexical.lexical_search(text, self.settings.lexical_k, flt)
        if not found:
            return {}
        ids = np.fromiter((cid for cid, _ in found), dtype=np.int64, count=len(found))
        cosines = self.vectors_by_id(ids) @ np.asarray(vector, dtype=np.float32)
        floor = self.settings.lexical_min_similarity
        return {int(cid): float(cos) for cid, cos in zip(ids, cosines, strict=True) if cos >= floor}


#: Reciprocal rank fusion's damping constant (Cormack et al., 2009): a hit's weight is 1 / (RRF_K + rank).
RRF_K = 60


def _rrf(lists: Sequence[dict[int, float]], k: int) -> list[tuple[int, float]]:
    score: dict[int, float] = {}
    cosine: dict[int, float] = {}
    for ranked in lists:
        for rank, cid in enumerate(ranked, start=1):
            score[cid] = score.get(cid, 0.0) + 1.0 / (RRF_K + rank)
        cosine.update(ranked)
    order = sorted(score, key=lambda cid: (-score[cid], -cosine[cid], cid))
    return [(cid, cosine[cid]) for cid in order[:k]]


def fuse(lists: Sequence[dict[int, float]], k: int) -> list[tuple[int, float]]:
    """At most ``k`` (claim_id, cosine) pairs from ranked lists, the claim's dense list first: a lone list
    is kept as it is, more are fused by reciprocal rank (Cormack et al., 2009), which needs no common scale
    between cosine and BM25 and lifts a claim that several lists found."""
    nonempty = [ranked for ranked in lists if ranked]
    if not nonempty:
        return []
    if len(nonempty) == 1:
        return list(nonempty[0].items())[:k]
    return _rrf(nonempty, k)


@functools.lru_cache(maxsize=65_536)
def stance_marks(text: str) -> tuple[bool, frozenset[int], frozenset[int]]:
    """What ``opposite_cues`` compares, once per text: whether it negates, denies or debunks, and which
    of the judge's opposite verb pairs it uses on the left and on the right side. The lexicons are the
    judge's (``judge.polarity``), so that retrieval and judge read a stance the same way."""
    words = judge_polarity._words(text)
    present = set(words)
    denies = any(w in judge_polarity._NEGATION for w in words) or bool(present & judge_polarity._DEBUNK)
    left = frozenset(i for i, (stems, _) in enumerate(judge_polarity._OPPOSITES) if judge_polarity._has(present, stems))
    right = frozenset(
        i for i, (_, stems) in enumerate(judge_polarity._OPPOSITES) if judge_polarity._has(present, stems)
    )
    return denies, left, right


def opposite_cues(a: str, b: str) -> bool:
    """One claim denies, negates or debunks and the other does not, or one uses a news verb and the other
    its opposite (``judge.polarity``'s denial flip and opposites, without its costlier name-order test)."""
    da, la, ra = stance_marks(a)
    db, lb, rb = stance_marks(b)
    if da != db:
        return True
    return any((i in rb and i not in lb and i not in ra) for i in la) or any(
        (i in lb and i not in rb and i not in la) for i in ra
    )
