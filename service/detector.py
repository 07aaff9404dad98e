"""The detection pipeline: validate -> claims -> embed -> search -> judge -> respond.

One object holds the parts (embedder, store, index, judge) and runs each request through them in
that order. It is synchronous and thread-safe; the gRPC server calls it from worker threads and
the CLI calls it in-process, so both get the same behaviour.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from contra.domain import Candidate, ClaimText, Conflict, DocumentIn, Source, Verdict
from contra.index import ClaimIndex, ClaimStore, DeletedSource, IngestedDocument, SearchFilter, SourceStats, VectorBatch
from contra.service import validate
from contra.service.claims import split_claims
from contra.service.judge.judge import Judge, PairInput
from contra.service.models.embedder import Embedder
from contra.service.retrieval import CandidateSearch, RetrievalSettings

LOG = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CheckQuery:
    """A claim to check against other sources' stored claims."""

    text: str
    source: Source
    published: dt.date | None = None
    top_k: int = 0
    only_sources: frozenset[str] = frozenset()
    since: dt.date | None = None
    until: dt.date | None = None


@dataclass(frozen=True, slots=True)
class CheckResult:
    conflicts: list[Conflict]
    candidates: int


@dataclass(frozen=True, slots=True)
class Stats:
    sources: int
    documents: int
    claims: int
    indexed: int
    index_kind: str
    embedder: str
    nli_model: str
    per_source: list[SourceStats] = field(default_factory=list)


class Detector:
    """contra's use cases over one store and one index."""

    def __init__(
        self,
        *,
        embedder: Embedder,
        store: ClaimStore,
        index: ClaimIndex,
        judge: Judge,
        limits: validate.Limits,
        top_k: int = 20,
        min_similarity: float = 0.35,
        snapshot_dir: Path | None = None,
        lexical_k: int = 20,
        lexical_min_similarity: float = 0.15,
        judge_all_candidates: bool = False,
        retrieval: RetrievalSettings | None = None,
    ) -> None:
        self.embedder = embedder
        self.store = store
        self.index = index
        self.judge = judge
        self.limits = limits
        self.top_k = top_k
        self.min_similarity = min_similarity
        self.snapshot_dir = snapshot_dir
        self.lexical_k = lexical_k
        self.lexical_min_similarity = lexical_min_similarity
        self.judge_all_candidates = judge_all_candidates
        #: The rest of the retrieval settings (pool, re-ranking); top_k and the floors above take precedence.
        self.retrieval_settings = retrieval or RetrievalSettings()
        # The store commits and the index update must happen in one order for every writer.
        self._write_lock = threading.Lock()

    def ingest(self, documents: Sequence[DocumentIn]) -> list[IngestedDocument]:
        """Split, embed and store the documents; they are durable when this returns."""
        validate.documents(documents, self.limits)
        claims = [split_claims(doc.text, self.limits.max_claim_chars) for doc in documents]
        flat = [claim.text for doc_claims in claims for claim in doc_claims]
        validate.claim_count("documents", len(flat), self.limits)
        vectors = self.embedder.embed(flat)
        per_doc = []
        offset = 0
        for doc_claims in claims:
            per_doc.append(vectors[offset : offset + len(doc_claims)])
            offset += len(doc_claims)
        with self._write_lock:
            results = self.store.add_documents(documents, claims, per_doc)
            # An updated document's earlier claims leave the index in the same step, as a deleted source's do.
            removed = {cid for result in results for cid in result.removed_claim_ids}
            if removed:
                self.index.remove(sorted(removed))
            self._index_new(results, documents, claims, per_doc, removed)
            self._reindex([cid for result in results for cid in result.promoted_ids if cid not in removed])
        return results

    def _index_new(
        self,
        results: Sequence[IngestedDocument],
        documents: Sequence[DocumentIn],
        claims: Sequence[Sequence[ClaimText]],
        vectors: Sequence[np.ndarray],
        removed: set[int],
    ) -> None:
        ids: list[int] = []
        rows: list[np.ndarray] = []
        sources: list[str] = []
        dates: list[dt.date | None] = []
        for result, doc, doc_vectors in zip(results, documents, vectors, strict=True):
            # A claim stored and superseded within one call (two versions of one id) is not indexed.
            fresh = set(result.new_claim_ids) - removed
            for position, claim_id in enumerate(result.claim_ids):
                if claim_id in fresh:
                    fresh.discard(claim_id)
                    ids.append(claim_id)
                    rows.append(doc_vectors[position])
                    sources.append(doc.source.source_id)
                    dates.append(doc.published)
        if ids:
            self.index.add(
                VectorBatch(
                    ids=np.asarray(ids, dtype=np.int64),
                    vectors=np.vstack(rows).astype(np.float32),
                    source_ids=sources,
                    published=dates,
                )
            )

    def check(self, query: CheckQuery) -> CheckResult:
        """Stored claims of other sources that conflict with the query, highest score first."""
        claims, candidates = self.candidates(query)
        pairs: list[PairInput] = []
        meta: list[tuple[ClaimText, Candidate]] = []
        for claim, row in zip(claims, candidates, strict=True):
            for candidate in row:
                pairs.append(
                    PairInput(
                        claim.text,
                        candidate.claim.text,
                        query.published,
                        # A month or a year cannot anchor "on Tuesday": the judge gets only day-precise dates.
                        candidate.claim.exact_published,
                        similarity=candidate.similarity,
                    )
                )
                meta.append((claim, candidate))
        verdicts = self.judge.judge(pairs, nli_for_all=self.judge_all_candidates)
        conflicts = [
            Conflict(query=claim, other=candidate.claim, similarity=candidate.similarity, verdict=verdict)
            for (claim, candidate), verdict in zip(meta, verdicts, strict=True)
            if verdict.is_conflict
        ]
        conflicts.sort(key=lambda c: (-c.verdict.score, -c.similarity, c.other.claim_id))
        return CheckResult(conflicts=conflicts, candidates=len(pairs))

    def candidates(self, query: CheckQuery) -> tuple[list[ClaimText], list[list[Candidate]]]:
        """The query's claims and, for each, the stored claims of other sources worth judging."""
        validate.text("text", query.text, self.limits.max_claim_chars)
        validate.source_id("source.source_id", query.source.source_id)
        claims = split_claims(query.text) or [ClaimText(query.text.strip(), 0, len(query.text.strip()))]
        validate.claim_count("text", len(claims), self.limits)
        vectors = self.embedder.embed([c.text for c in claims])
        flt = SearchFilter(
            exclude_source=query.source.source_id,
            only_sources=query.only_sources,
            since=query.since,
            until=query.until,
        )
        fused = self.retrieval().search([c.text for c in claims], vectors, flt, query.top_k or None)
        with self._write_lock:
            stored = self.store.get_claims({cid for row in fused for cid, _ in row})
        rows: list[list[Candidate]] = []
        for claim, row in zip(claims, fused, strict=True):
            rows.append(
                [
                    Candidate(stored[cid], similarity)
                    for cid, similarity in row
                    # A syndicated copy of the same text is agreement, not a conflict.
                    if cid in stored and stored[cid].text != claim.text
                ]
            )
        return claims, rows

    def retrieval(self) -> CandidateSearch:
        """The candidate search over this detector's index and store, with its current settings."""
        settings = dataclasses.replace(
            self.retrieval_settings,
            top_k=self.top_k,
            min_similarity=self.min_similarity,
            lexical_k=self.lexical_k,
            lexical_min_similarity=self.lexical_min_similarity,
        )
        return CandidateSearch(
            self.index, self.store, self.store.vectors_by_id, settings, self._write_lock, self._stored_texts
        )

    def _stored_texts(self, ids: Sequence[int]) -> dict[int, str]:
        """Texts of stored claims, for the candidate search's re-ranking (called under the write lock)."""
        return {cid: claim.text for cid, claim in self.store.get_claims(ids).items()}

    def judge_pair(self, a: str, b: str, a_date: dt.date | None = None, b_date: dt.date | None = None) -> Verdict:
        validate.text("a", a, self.limits.max_claim_chars)
        validate.text("b", b, self.limits.max_claim_chars)
        return self.judge.judge([PairInput(a, b, a_date, b_date)], nli_for_all=True)[0]

    def delete_source(self, source_id: str) -> DeletedSource:
        validate.source_id("source_id", source_id)
        with self._write_lock:
            deleted = self.store.delete_source(source_id)
            self.index.remove(deleted.claim_ids)
            self._reindex(deleted.promoted_ids)
        return deleted

    def _reindex(self, claim_ids: Sequence[int]) -> None:
        """Claims that were copies of a deleted source's claims now stand for themselves."""
        if claim_ids:
            self.index.add(self.store.vectors_for(claim_ids))

    def stats(self) -> Stats:
        with self._write_lock:
            sources, documents, claims = self.store.counts()
            per_source = self.store.source_stats()
        return Stats(
            sources=sources,
            documents=documents,
            claims=claims,
            indexed=len(self.index),
            index_kind=self.index.kind,
            embedder=self.embedder.name,
            nli_model=self.judge.nli.name if self.judge.nli is not None else "",
            per_source=per_source,
        )

    def close(self) -> None:
        """Snapshot the index (so the next start loads instead of rebuilding) and close the store."""
        with self._write_lock:
            if self.snapshot_dir is not None:
                self.index.save(self.snapshot_dir, self.store.max_claim_id(), self.embedder.name)
                LOG.info("index snapshot saved: %d vectors", len(self.index))
            self.store.close()
