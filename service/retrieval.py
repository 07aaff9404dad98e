"""Candidate search: which stored claims of other sources are worth judging against a claim.

One implementation for ``Check`` (``Detector.candidates``, over the store) and ``contra compare``
(the batch job, over an in-memory table of its corpus), so that a change to retrieval changes both:
dense nearest neighbours above ``min_similarity``, BM25 hits on the claim's rarest names, numbers and
words above ``lexical_min_similarity`` (with their real cosine, which the judge reads), fused by
reciprocal rank.

The two sides of a real conflict are written by opposite parties, in different words: the conflicting
report ranks below the many reports that repeat the claim. The optional parts below widen the net for it
(measured one by one by ``make eval-retrieval``, see docs/retrieval.md): a deeper pool cut back to
``top_k`` by the fused rank, a lexical query on the claim's names alone, a denial of the claim and the
clauses of a long claim searched beside it, a publish-time window around the query's date.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from contra.index import ClaimIndex, SearchFilter
from contra.index.lexical import TermKind, key_terms
from contra.service.judge.polarity import polarity


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


Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True, slots=True)
class RetrievalSettings:
    top_k: int = 20
    min_similarity: float = 0.35
    lexical_k: int = 20
    lexical_min_similarity: float = 0.15
    #: The dense search fetches this many before the fused list is cut back to ``top_k`` (0 or <= top_k: no cut).
    pool_k: int = 0
    #: Hits of a second lexical query made of the claim's names and numbers only (0 = off).
    name_k: int = 0
    #: Search a denial of the claim beside the claim itself (one more embedded text per claim).
    denial: bool = False
    #: Search the clauses of a long claim beside the claim itself (more embedded texts per long claim).
    clauses: bool = False
    #: Days either side of the query's publish date that candidates may lie (0 = no window); undated
    #: claims always pass.
    window_days: int = 0
    #: At most this many of the ``top_k`` candidates may come from the other lists alone (lexical, names,
    #: denial, clauses) rather than from the claim's own dense pool (0 = no cap).
    other_quota: int = 0
    #: Re-rank the dense pool by closeness to the claim's story as well as to the claim: the claim's vector
    #: plus ``story_weight`` times the mean of its first ``story`` dense hits (pseudo-relevance feedback,
    #: Rocchio). Reports of one event by many outlets sit around that centre, whatever their stance (0 = off).
    story: int = 0
    story_weight: float = 1.0
    #: Added to a pooled candidate's score when it and the claim carry opposite stance cues (a denial or
    #: debunking on one side only, or opposite news verbs: ``judge.polarity``): the shape of a conflict.
    stance_bonus: float = 0.0

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
    #: Embeds extra query texts (denials, clauses); without it those settings do nothing.
    embed: Embed | None = None
    #: Texts of stored claims by id: copies of the claim's own text are dropped before the cut rather than
    #: after it, and ``stance_bonus`` reads them; without it ``stance_bonus`` does nothing.
    texts_by_id: Callable[[Sequence[int]], Mapping[int, str]] | None = None
    #: Extra texts embedded by the last ``search`` (for cost accounting).
    last_extra_texts: int = 0

    def search(
        self,
        texts: Sequence[str],
        vectors: np.ndarray,
        flt: SearchFilter,
        top_k: int | None = None,
        published: Sequence[dt.date | None] | None = None,
    ) -> list[list[tuple[int, float]]]:
        s = self.settings
        k = top_k or s.top_k
        depth = max(k, s.pool_k)
        vectors = np.asarray(vectors, dtype=np.float32)
        dates = list(published) if published is not None else [None] * len(texts)
        filters = [self._window(flt, d) for d in dates]
        extra = self._extra_queries(texts)
        self.last_extra_texts = sum(len(e) for e in extra)
        extra_vectors = self._embed_extra(extra)
        ordered: list[list[tuple[int, float]]] = [[] for _ in texts]
        # Queries sharing a filter are searched together (one FAISS call); with no window that is all.
        for window, members in _by_filter(filters).items():
            batch = vectors[members]
            dense = self._dense(batch, depth, window)
            for position, member in enumerate(members):
                text, vector = texts[member], batch[position]
                lists = [dense[position]]
                more = extra_vectors[member]
                if more is not None:
                    lists.extend(self._recosine(row, vector) for row in self._dense(more, depth, window))
                with self.lexical_lock:
                    if self.lexical is not None and (s.lexical_k > 0 or s.name_k > 0):
                        lists.extend(self._lexical(text, vector, window))
                    known = self._texts(lists)
                if known:  # a syndicated copy of the claim's own text takes no place among the k
                    lists = [{cid: cos for cid, cos in ranked.items() if known.get(cid) != text} for ranked in lists]
                lists[0] = self._rerank(text, vector, lists[0], known)
                ordered[member] = fuse_lists(lists, k, s.other_quota)
        return ordered

    def _window(self, flt: SearchFilter, published: dt.date | None) -> SearchFilter:
        days = self.settings.window_days
        if days <= 0 or published is None:
            return flt
        since = published - dt.timedelta(days=days)
        until = published + dt.timedelta(days=days)
        return dataclasses.replace(
            flt,
            since=max(since, flt.since) if flt.since else since,
            until=min(until, flt.until) if flt.until else until,
        )

    def _dense(self, vectors: np.ndarray, k: int, flt: SearchFilter) -> list[dict[int, float]]:
        floor = self.settings.min_similarity
        hits = self.index.search(vectors, k, flt)
        return [{h.claim_id: h.similarity for h in row if h.similarity >= floor} for row in hits]

    def _texts(self, lists: Sequence[dict[int, float]]) -> Mapping[int, str]:
        if self.texts_by_id is None:
            return {}
        return self.texts_by_id(sorted({cid for ranked in lists for cid in ranked}))

    def _rerank(
        self, text: str, vector: np.ndarray, hits: dict[int, float], known: Mapping[int, str]
    ) -> dict[int, float]:
        """The dense pool in the order of ``story`` and ``stance_bonus`` (unchanged when both are off);
        the cosines stay the claim's own."""
        s = self.settings
        if len(hits) < 2 or (s.story <= 0 and s.stance_bonus == 0.0):
            return hits
        ids = np.fromiter(hits, dtype=np.int64, count=len(hits))
        cosines = np.fromiter(hits.values(), dtype=np.float32, count=len(hits))
        score = cosines.copy()
        if s.story > 0:
            pooled = self.vectors_by_id(ids)
            centre = vector + s.story_weight * pooled[: s.story].mean(axis=0)
            centre /= max(float(np.linalg.norm(centre)), 1e-12)
            score = (cosines + pooled @ centre) / 2
        if s.stance_bonus and known:
            score = score + s.stance_bonus * np.fromiter(
                (opposite_cues(text, known.get(int(cid), "")) for cid in ids), dtype=np.float32, count=len(ids)
            )
        order = np.argsort(-score, kind="stable")
        return {int(ids[i]): float(cosines[i]) for i in order}

    def _recosine(self, found: dict[int, float], vector: np.ndarray) -> dict[int, float]:
        """An extra query's hits, in its order, with their cosine to the claim itself (which the judge reads)."""
        if not found:
            return found
        ids = np.fromiter(found, dtype=np.int64, count=len(found))
        cosines = self.vectors_by_id(ids) @ np.asarray(vector, dtype=np.float32)
        return {int(cid): float(cos) for cid, cos in zip(ids, cosines, strict=True)}

    def _extra_queries(self, texts: Sequence[str]) -> list[list[str]]:
        s = self.settings
        out: list[list[str]] = []
        for text in texts:
            extra: list[str] = []
            if self.embed is not None:
                if s.denial:
                    extra.append(denial_of(text))
                if s.clauses:
                    extra.extend(c for c in clauses_of(text) if c != text)
            out.append([e for e in dict.fromkeys(extra) if e and e != text])
        return out

    def _embed_extra(self, extra: list[list[str]]) -> list[np.ndarray | None]:
        flat = [t for row in extra for t in row]
        if not flat or self.embed is None:
            return [None] * len(extra)
        vectors = np.asarray(self.embed(flat), dtype=np.float32)
        out: list[np.ndarray | None] = []
        offset = 0
        for row in extra:
            out.append(vectors[offset : offset + len(row)] if row else None)
            offset += len(row)
        return out

    def _lexical(self, text: str, vector: np.ndarray, flt: SearchFilter) -> list[dict[int, float]]:
        """Claims sharing the rare terms of ``text``, best BM25 first, with their real cosine; those below
        ``lexical_min_similarity`` share words but not a topic. With ``name_k``, a second list of claims
        sharing its names and numbers alone: the people, places and events a conflicting report names too."""
        assert self.lexical is not None
        s = self.settings
        queries: list[tuple[str, int]] = []
        if s.lexical_k > 0:
            queries.append((text, s.lexical_k))
        if s.name_k > 0:
            names = " ".join(t.text for t in key_terms(text) if t.kind != TermKind.WORD)
            if names:
                queries.append((names, s.name_k))
        out: list[dict[int, float]] = []
        for query, k in queries:
            found = self.lexical.lexical_search(
                query,
                k,
                exclude_source=flt.exclude_source,
                only_sources=flt.only_sources,
                since=flt.since,
                until=flt.until,
                include_undated=flt.include_undated,
            )
            if not found:
                continue
            ids = np.fromiter((cid for cid, _ in found), dtype=np.int64, count=len(found))
            cosines = self.vectors_by_id(ids) @ np.asarray(vector, dtype=np.float32)
            floor = s.lexical_min_similarity
            out.append({int(cid): float(cos) for cid, cos in zip(ids, cosines, strict=True) if cos >= floor})
        return out


def _by_filter(filters: Sequence[SearchFilter]) -> dict[SearchFilter, list[int]]:
    groups: dict[SearchFilter, list[int]] = {}
    for position, flt in enumerate(filters):
        groups.setdefault(flt, []).append(position)
    return groups


#: Reciprocal rank fusion's damping constant (Cormack et al., 2009): a hit's weight is 1 / (RRF_K + rank).
RRF_K = 60


def fuse(dense: dict[int, float], lexical: dict[int, float], k: int) -> list[tuple[int, float]]:
    """At most ``k`` (claim_id, cosine) pairs ranked by reciprocal rank fusion of the two lists.

    RRF needs no common scale between cosine and BM25, and a claim both retrievers found rises above
    one only one of them found. With no lexical hits this is the dense list unchanged.
    """
    if not lexical:
        return list(dense.items())[:k]
    return _rrf([dense, lexical], k)


def _rrf(lists: Sequence[dict[int, float]], k: int) -> list[tuple[int, float]]:
    score: dict[int, float] = {}
    cosine: dict[int, float] = {}
    for ranked in lists:
        for rank, cid in enumerate(ranked, start=1):
            score[cid] = score.get(cid, 0.0) + 1.0 / (RRF_K + rank)
        cosine.update(ranked)
    order = sorted(score, key=lambda cid: (-score[cid], -cosine[cid], cid))
    return [(cid, cosine[cid]) for cid in order[:k]]


def fuse_lists(lists: Sequence[dict[int, float]], k: int, other_quota: int = 0) -> list[tuple[int, float]]:
    """``fuse`` over any number of ranked lists, the claim's dense list first: a lone list is kept as it
    is, more are fused by reciprocal rank. With ``other_quota``, the dense list keeps its own order for
    the first places and the last ``other_quota`` (at most a quarter of ``k``) go to the best fused
    candidates that it lacks."""
    nonempty = [ranked for ranked in lists if ranked]
    if not nonempty:
        return []
    if len(nonempty) == 1:
        return list(nonempty[0].items())[:k]
    if other_quota <= 0:
        return _rrf(nonempty, k)
    main = lists[0]
    fused = _rrf(nonempty, len({cid for ranked in nonempty for cid in ranked}))
    others = [(cid, cos) for cid, cos in fused if cid not in main][: min(other_quota, k // 4)]
    return [*list(main.items())[: k - len(others)], *others]


def opposite_cues(a: str, b: str) -> bool:
    """One claim denies, negates or debunks and the other does not, or they use opposite news verbs."""
    cues = polarity(a, b)
    return cues.denial_flip or cues.opposites > 0


# -- extra queries -------------------------------------------------------------------------------------

_NEGATION = re.compile(r"\s*\b(?:not|never|no longer)\b|n't\b", re.IGNORECASE)
_AUXILIARY = re.compile(
    r"\b(is|are|was|were|has|have|had|will|would|can|could|should|may|might|must|did|does|do)\b", re.IGNORECASE
)


def denial_of(claim: str) -> str:
    """The claim written the other way round: its negation removed where it has one, else ``not`` after
    its first auxiliary verb, else the claim denied as a whole."""
    if _NEGATION.search(claim):
        return " ".join(_NEGATION.sub("", claim).split())
    match = _AUXILIARY.search(claim)
    if match:
        return f"{claim[: match.end()]} not{claim[match.end() :]}"
    return f"It is false that {claim[:1].lower()}{claim[1:]}"


#: Where one clause of a news sentence ends and another begins: semicolons, colons and dashes, and a comma
#: before a conjunction or a clause of attribution or time.
_CLAUSE_BREAK = re.compile(
    r"\s*(?:[;:]|\s[-\u2013\u2014]\s|\u2014)\s*"
    r"|,\s*(?=(?:but|while|although|though|whereas|and|as|after|before|because|since|which|who|when|despite)\b)",
    re.IGNORECASE,
)
#: Clauses shorter than this (in words) are not claims on their own.
MIN_CLAUSE_WORDS = 4
#: Sentences shorter than this (in words) are already atomic.
MIN_SPLIT_WORDS = 12


def clauses_of(claim: str) -> list[str]:
    """The clauses of a long claim that can stand as claims; a short claim is its own only clause."""
    if len(claim.split()) < MIN_SPLIT_WORDS:
        return [claim]
    pieces = [p.strip(" ,") for p in _CLAUSE_BREAK.split(claim)]
    kept = [p for p in pieces if len(p.split()) >= MIN_CLAUSE_WORDS]
    return kept if len(kept) > 1 else [claim]
