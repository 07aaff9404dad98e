"""ClaimStore: round trips, deduplication of repeats and syndicated copies, atomicity, durability, deletion."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from contra.domain import ClaimText, DatePrecision, DocumentIn, Source
from contra.errors import NotFound
from contra.index.store import ClaimStore, IngestedDocument, document_id_for

DIM = 8


class Texts:
    """A fixed random unit vector per distinct text, as a real embedder would give."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = np.random.default_rng(seed)
        self._vectors: dict[str, np.ndarray] = {}

    def vector(self, text: str) -> np.ndarray:
        if text not in self._vectors:
            v = self._rng.standard_normal(DIM).astype(np.float32)
            self._vectors[text] = v / np.linalg.norm(v)
        return self._vectors[text]


def make_doc(
    source: str, sentences: list[str], *, external_id: str = "", published: dt.date | None = None, outlet: str = ""
) -> tuple[DocumentIn, list[ClaimText]]:
    text = " ".join(sentences)
    claims, offset = [], 0
    for sentence in sentences:
        claims.append(ClaimText(sentence, offset, offset + len(sentence)))
        offset += len(sentence) + 1
    url = f"https://{source}.example/{len(text)}"
    doc = DocumentIn(Source(source, outlet), text, url=url, published=published, external_id=external_id)
    return doc, claims


def ingest(store: ClaimStore, texts: Texts, *docs: tuple[DocumentIn, list[ClaimText]]) -> list[IngestedDocument]:
    return store.add_documents(
        [d for d, _ in docs],
        [c for _, c in docs],
        [np.stack([texts.vector(c.text) for c in claims]) if claims else np.zeros((0, DIM)) for _, claims in docs],
    )


@pytest.fixture
def texts() -> Texts:
    return Texts()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ClaimStore]:
    s = ClaimStore(tmp_path / "claims.sqlite3", DIM)
    yield s
    s.close()


def test_round_trip_keeps_every_field(store: ClaimStore, texts: Texts) -> None:
    day = dt.date(2024, 5, 17)
    doc, claims = make_doc(
        "reuters", ["Rates rose by 2 percent.", "The bank said so."], published=day, outlet="Reuters"
    )
    [result] = ingest(store, texts, (doc, claims))
    assert result.document_id == document_id_for(doc)
    assert result.claim_ids == result.new_claim_ids and len(set(result.claim_ids)) == 2
    assert result.duplicates == 0
    stored = store.get_claims([*result.claim_ids, 999])
    assert sorted(stored) == sorted(result.claim_ids)
    for claim_id, claim in zip(result.claim_ids, claims, strict=True):
        got = stored[claim_id]
        assert (got.text, got.start, got.end) == (claim.text, claim.start, claim.end)
        assert doc.text[got.start : got.end] == got.text
        assert (got.source_id, got.outlet, got.url, got.published) == ("reuters", "Reuters", doc.url, day)
        assert got.document_id == result.document_id
    assert store.counts() == (1, 1, 2)
    assert store.max_claim_id() == max(result.claim_ids)


def test_vectors_come_back_as_unit_float32_in_id_order(store: ClaimStore, texts: Texts) -> None:
    docs = [make_doc(f"s{i % 3}", [f"Sentence number {i} here."], published=dt.date(2024, 1, 1 + i)) for i in range(25)]
    results = ingest(store, texts, *docs)
    doc, claims = make_doc("s9", ["Scaled vector claim."])
    scaled = store.add_documents([doc], [claims], [np.full((1, DIM), 3.0)])  # stored normalised
    batches = list(store.iter_vectors(batch_size=7))
    assert [len(b.ids) for b in batches] == [7, 7, 7, 5]
    ids = np.concatenate([b.ids for b in batches])
    assert ids.dtype == np.int64 and (np.diff(ids) > 0).all()
    vectors = np.concatenate([b.vectors for b in batches])
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    first = results[0].claim_ids[0]
    np.testing.assert_allclose(vectors[0], texts.vector("Sentence number 0 here."), rtol=1e-6)
    assert batches[0].source_ids[0] == "s0" and batches[0].published[0] == dt.date(2024, 1, 1)
    np.testing.assert_allclose(vectors[-1], np.full(DIM, 1 / np.sqrt(DIM)), rtol=1e-6)
    after = list(store.iter_vectors(after_id=first + 20))
    assert np.concatenate([b.ids for b in after]).tolist() == [*ids[ids > first + 20].tolist()]
    assert store.vectors_for([scaled[0].claim_ids[0], first, 12345]).ids.tolist() == [first, scaled[0].claim_ids[0]]


def test_vectors_by_id_keeps_the_order_asked_for(store: ClaimStore, texts: Texts) -> None:
    [result] = ingest(store, texts, make_doc("a", ["First vector claim.", "Second vector claim."]))
    first, second = result.claim_ids
    got = store.vectors_by_id(np.array([second, -1, 999, first, second]))
    assert got.shape == (5, DIM) and got.dtype == np.float32
    np.testing.assert_allclose(got[0], texts.vector("Second vector claim."), rtol=1e-6)
    np.testing.assert_allclose(got[3], texts.vector("First vector claim."), rtol=1e-6)
    np.testing.assert_array_equal(got[4], got[0])
    assert not got[1].any() and not got[2].any()  # unknown ids read as zero rows


def test_reingesting_a_document_is_idempotent(store: ClaimStore, texts: Texts) -> None:
    doc = make_doc("ap", ["First claim of the story.", "Second claim of the story."])
    [first] = ingest(store, texts, doc)
    [again] = ingest(store, texts, doc)
    assert again.document_id == first.document_id
    assert again.claim_ids == first.claim_ids
    assert again.new_claim_ids == [] and again.duplicates == 2
    assert store.counts() == (1, 1, 2)
    with_id = make_doc("ap", ["Third claim with an id."], external_id="ap-42")
    [a] = ingest(store, texts, with_id)
    [b] = ingest(store, texts, with_id)
    assert a.document_id == b.document_id == "ap-42" and b.new_claim_ids == []


def test_same_text_same_source_is_stored_once(store: ClaimStore, texts: Texts) -> None:
    [one] = ingest(store, texts, make_doc("bbc", ["Prices fell sharply in May.", "Other news."]))
    [two] = ingest(store, texts, make_doc("bbc", ["Prices  fell sharply in May. ", "Prices fell sharply in May."]))
    # white space differences do not make a new claim; a repeat inside one document neither
    assert two.claim_ids == [one.claim_ids[0], one.claim_ids[0]]
    assert two.new_claim_ids == [] and two.duplicates == 2
    assert store.counts() == (1, 2, 2)


def test_copy_from_another_source_is_linked_not_indexed(store: ClaimStore, texts: Texts) -> None:
    [orig] = ingest(store, texts, make_doc("ap", ["Wire story claim number one.", "Only AP says this."]))
    [copy] = ingest(store, texts, make_doc("local", ["Wire story claim number one.", "Local angle here."]))
    assert copy.claim_ids[0] == orig.claim_ids[0]
    assert copy.new_claim_ids == [copy.claim_ids[1]] and copy.duplicates == 1
    indexed = np.concatenate([b.ids for b in store.iter_vectors()]).tolist()
    assert indexed == [*orig.claim_ids, copy.claim_ids[1]]
    assert store.counts() == (2, 2, 3)  # the copy is not a second claim
    stats = {s.source_id: s for s in store.source_stats()}
    assert [s.source_id for s in store.source_stats()] == ["ap", "local"]
    assert (stats["ap"].documents, stats["ap"].claims) == (1, 2)
    assert (stats["local"].documents, stats["local"].claims) == (1, 2)  # the source did publish it


def test_one_external_id_under_two_sources_is_two_documents(store: ClaimStore, texts: Texts) -> None:
    [a] = ingest(store, texts, make_doc("a", ["Claim from source a."], external_id="doc-1"))
    [b] = ingest(store, texts, make_doc("b", ["Claim from source b."], external_id="doc-1"))
    assert not b.updated and b.new_claim_ids and store.counts() == (2, 2, 2)
    assert {c.source_id for c in store.get_claims([*a.claim_ids, *b.claim_ids]).values()} == {"a", "b"}


def test_bad_vectors_fail_before_anything_is_written(store: ClaimStore, texts: Texts) -> None:
    doc, claims = make_doc("a", ["One claim here.", "Two claims here."])
    with pytest.raises(ValueError, match=r"shape \(1, 8\), expected \(2, 8\)"):
        store.add_documents([doc], [claims], [np.ones((1, DIM))])
    with pytest.raises(ValueError, match="NaN"):
        store.add_documents([doc], [claims], [np.full((2, DIM), np.nan)])
    with pytest.raises(ValueError, match="one entry per document"):
        store.add_documents([doc], [claims, claims], [np.ones((2, DIM))])
    assert store.counts() == (0, 0, 0)


def test_close_and_reopen_keeps_everything(tmp_path: Path, texts: Texts) -> None:
    path = tmp_path / "claims.sqlite3"
    store = ClaimStore(path, DIM)
    results = ingest(store, texts, make_doc("a", ["Durable claim one."]), make_doc("b", ["Durable claim two."]))
    store.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    reopened = ClaimStore(path, DIM)
    try:
        assert reopened.counts() == (2, 2, 2)
        ids = [r.claim_ids[0] for r in results]
        assert {c.text for c in reopened.get_claims(ids).values()} == {"Durable claim one.", "Durable claim two."}
        np.testing.assert_allclose(reopened.vectors_for(ids).vectors[1], texts.vector("Durable claim two."))
        assert reopened._writer.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        reopened.close()
    with pytest.raises(ValueError, match="8-dimensional"):
        ClaimStore(path, DIM * 2)


def test_delete_source_removes_its_claims(store: ClaimStore, texts: Texts) -> None:
    [a1, a2] = ingest(store, texts, make_doc("a", ["Alpha one claim.", "Alpha two claim."]), make_doc("a", ["A3 c."]))
    [b1] = ingest(store, texts, make_doc("b", ["Beta one claim."]))
    deleted = store.delete_source("a")
    assert (deleted.documents, deleted.claims) == (2, 3)
    assert deleted.claim_ids == sorted(a1.claim_ids + a2.claim_ids) and deleted.promoted_ids == []
    assert store.get_claims(deleted.claim_ids) == {}
    assert store.counts() == (1, 1, 1)
    assert [s.source_id for s in store.source_stats()] == ["b"]
    assert np.concatenate([b.ids for b in store.iter_vectors()]).tolist() == b1.claim_ids
    with pytest.raises(NotFound, match="'a'"):
        store.delete_source("a")


def test_delete_source_promotes_copies(store: ClaimStore, texts: Texts) -> None:
    shared = "The storm closed 40 schools on Monday."
    [orig] = ingest(store, texts, make_doc("wire", [shared, "Wire only claim."]))
    [copy_b] = ingest(store, texts, make_doc("b", ["B intro claim.", shared], published=dt.date(2024, 2, 2)))
    [copy_c] = ingest(store, texts, make_doc("c", [shared]))
    original_id = orig.claim_ids[0]
    assert copy_b.claim_ids[1] == copy_c.claim_ids[0] == original_id
    top = store.max_claim_id()

    deleted = store.delete_source("wire")
    assert deleted.claim_ids == orig.claim_ids and deleted.claims == 2
    [promoted] = deleted.promoted_ids
    assert promoted > top  # a fresh id, so the index can add it like any new claim
    claim = store.get_claims([promoted])[promoted]
    assert (claim.text, claim.source_id, claim.published) == (shared, "b", dt.date(2024, 2, 2))
    assert claim.document_id == copy_b.document_id and (claim.start, claim.end) == (15, 15 + len(shared))
    batch = store.vectors_for([promoted])
    np.testing.assert_allclose(batch.vectors[0], texts.vector(shared), rtol=1e-6)
    assert store.counts() == (2, 2, 2)

    # the remaining copy now points at the promoted claim
    [again] = ingest(store, texts, make_doc("d", [shared]))
    assert again.claim_ids == [promoted] and again.new_claim_ids == []
    second = store.delete_source("b")
    assert second.claim_ids == [copy_b.claim_ids[0], promoted]
    [next_promoted] = second.promoted_ids
    assert store.get_claims([next_promoted])[next_promoted].source_id == "c"
    assert store.counts() == (2, 2, 1)


def test_deleting_a_source_with_only_copies_promotes_nothing(store: ClaimStore, texts: Texts) -> None:
    ingest(store, texts, make_doc("wire", ["Shared wire claim text."]))
    ingest(store, texts, make_doc("b", ["Shared wire claim text."]))
    deleted = store.delete_source("b")
    assert (deleted.claims, deleted.claim_ids, deleted.promoted_ids) == (1, [], [])
    assert store.counts() == (1, 1, 1)


def test_sample_and_metadata(store: ClaimStore, texts: Texts) -> None:
    ingest(store, texts, *[make_doc("s", [f"Sampled claim {i}."], published=dt.date(2023, 1, 1)) for i in range(30)])
    sample = store.sample_vectors(10, seed=1)
    assert sample.shape == (10, DIM)
    assert len({row.tobytes() for row in sample}) == 10
    assert store.sample_vectors(100).shape == (30, DIM)
    meta = list(store.iter_metadata(batch_size=16))
    assert [len(m.ids) for m in meta] == [16, 14]
    assert meta[0].source_ids[0] == "s" and meta[0].published[0] == dt.date(2023, 1, 1)


def test_reopen_keeps_the_full_text_index_without_rebuilding(
    tmp_path: Path, texts: Texts, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "claims.sqlite3"
    store = ClaimStore(path, DIM)
    ingest(store, texts, make_doc("a", ["Voss won the Tour of Westmarch.", "Sandvik hosts the next start."]))
    before = store.lexical_search("Westmarch Voss", 5)
    store.close()
    with caplog.at_level("INFO", logger="contra.index.store"):
        store = ClaimStore(path, DIM)
    try:
        assert not any("full-text index" in r.getMessage() for r in caplog.records)
        assert before and store.lexical_search("Westmarch Voss", 5) == before
    finally:
        store.close()


# -- document versions ------------------------------------------------------------------------------


def _indexed_ids(store: ClaimStore) -> list[int]:
    return [int(i) for batch in store.iter_vectors() for i in batch.ids]


def test_a_new_version_of_a_document_replaces_its_claims(store: ClaimStore, texts: Texts) -> None:
    first = ["The fire in the depot injured 12 people.", "Crews worked through the night.", "The cause is unknown."]
    [v1] = ingest(store, texts, make_doc("wire", first, external_id="story-42", published=dt.date(2025, 5, 3)))
    assert not v1.updated
    second = ["The fire in the depot injured 15 people.", "Crews worked through the night."]
    [v2] = ingest(store, texts, make_doc("wire", second, external_id="story-42", published=dt.date(2025, 5, 4)))
    assert v2.document_id == "story-42" and v2.updated and v2.superseded == 3
    assert sorted(v2.removed_claim_ids) == sorted(v1.claim_ids)
    assert v2.new_claim_ids == v2.claim_ids and not set(v2.claim_ids) & set(v1.claim_ids)
    assert store.get_claims(v1.claim_ids) == {}
    stored = store.get_claims(v2.claim_ids)
    assert [stored[i].text for i in v2.claim_ids] == second
    assert {c.published for c in stored.values()} == {dt.date(2025, 5, 4)}  # the new version's date
    assert store.counts() == (1, 1, 2)
    assert _indexed_ids(store) == sorted(v2.claim_ids)
    assert store.lexical_search("depot injured people", 5) == [(v2.claim_ids[0], pytest.approx(1.0, abs=10))]
    # The same version again is "already stored": nothing changes, the ids stay.
    [again] = ingest(store, texts, make_doc("wire", second, external_id="story-42", published=dt.date(2025, 5, 4)))
    assert not again.updated and again.claim_ids == v2.claim_ids and again.duplicates == 2


def test_only_the_date_or_url_changing_is_an_update(store: ClaimStore, texts: Texts) -> None:
    doc, claims = make_doc("wire", ["The ferry strike ended on Friday morning."], external_id="s1")
    ingest(store, texts, (doc, claims))
    redated = DocumentIn(doc.source, doc.text, url=doc.url, published=dt.date(2025, 5, 2), external_id="s1")
    [v2] = ingest(store, texts, (redated, claims))
    assert v2.updated and v2.superseded == 1
    assert store.get_claims(v2.claim_ids)[v2.claim_ids[0]].published == dt.date(2025, 5, 2)


def test_an_update_promotes_other_sources_copies(store: ClaimStore, texts: Texts) -> None:
    [v1] = ingest(store, texts, make_doc("wire", ["Wire text that others reprint."], external_id="w-1"))
    [copy] = ingest(store, texts, make_doc("local", ["Wire text that others reprint.", "A local line here."]))
    [v2] = ingest(store, texts, make_doc("wire", ["A corrected wire text, reprinted less."], external_id="w-1"))
    assert v2.updated and v2.removed_claim_ids == v1.claim_ids
    [promoted] = v2.promoted_ids
    assert store.get_claims([promoted])[promoted].source_id == "local"
    assert sorted(_indexed_ids(store)) == sorted([promoted, copy.claim_ids[1], *v2.claim_ids])


def test_a_failed_update_keeps_the_old_version(store: ClaimStore, texts: Texts) -> None:
    [v1] = ingest(store, texts, make_doc("wire", ["The old version of the story stands."], external_id="s9"))
    new, claims = make_doc("wire", ["The new version of the story."], external_id="s9")
    with pytest.raises(ValueError):
        store.add_documents([new], [claims], [np.zeros((1, DIM))])  # an all-zero vector fails the call
    assert list(store.get_claims(v1.claim_ids)) == v1.claim_ids


def test_precision_of_the_publish_date_is_kept(store: ClaimStore, texts: Texts) -> None:
    doc, claims = make_doc("monthly", ["The monthly review counted 40 new firms."], external_id="m1")
    month = DocumentIn(doc.source, doc.text, published=dt.date(2025, 5, 1), external_id="m1",
                       published_precision=DatePrecision.MONTH)  # fmt: skip
    [result] = ingest(store, texts, (month, claims))
    claim = store.get_claims(result.claim_ids)[result.claim_ids[0]]
    assert (claim.published, claim.published_precision) == (dt.date(2025, 5, 1), DatePrecision.MONTH)
    assert claim.exact_published is None


def test_a_store_keyed_by_id_alone_is_rebuilt_with_source_and_id(tmp_path: Path, texts: Texts) -> None:
    """A store from before (source, id) keys: the tables are rebuilt on open, claim ids and the id
    sequence kept, and then two sources can use one id."""
    path = tmp_path / "claims.sqlite3"
    store = ClaimStore(path, DIM)
    [a] = ingest(store, texts, make_doc("wire", ["A harbour story filed early.", "A second line."], external_id="d1"))
    [b] = ingest(store, texts, make_doc("post", ["A post story filed later."], external_id="d2"))
    store.delete_source("post")  # the id sequence is ahead of the largest stored id now
    store.close()
    with sqlite3.connect(path) as conn:  # the tables as an older contra made them
        conn.executescript(
            """
            PRAGMA foreign_keys=OFF;
            CREATE TABLE documents_old (document_id TEXT PRIMARY KEY, source_id TEXT NOT NULL REFERENCES sources
                (source_id), url TEXT NOT NULL DEFAULT '', published TEXT, ingested_at TEXT NOT NULL,
                published_precision TEXT, version_key BLOB) STRICT;
            INSERT INTO documents_old SELECT document_id, source_id, url, published, ingested_at,
                published_precision, version_key FROM documents;
            DROP TABLE documents;
            ALTER TABLE documents_old RENAME TO documents;
            """
        )
        assert [r[1] for r in conn.execute("PRAGMA table_info(documents)") if r[5]] == ["document_id"]
    store = ClaimStore(path, DIM)
    try:
        assert sorted(store.get_claims(a.claim_ids)) == sorted(a.claim_ids)
        [same_id] = ingest(store, texts, make_doc("post", ["Another outlet's story under d1."], external_id="d1"))
        assert not same_id.updated and min(same_id.new_claim_ids) > max(b.claim_ids)  # ids never reused
        assert sorted(store.get_claims(a.claim_ids)) == sorted(a.claim_ids)  # wire's d1 untouched
        [update] = ingest(store, texts, make_doc("wire", ["The harbour story, corrected."], external_id="d1"))
        assert update.updated and update.superseded == 2 and store.get_claims(same_id.claim_ids)
    finally:
        store.close()


def test_a_store_from_before_versions_opens_and_updates(tmp_path: Path, texts: Texts) -> None:
    path = tmp_path / "claims.sqlite3"
    store = ClaimStore(path, DIM)
    [v1] = ingest(store, texts, make_doc("wire", ["An early story kept before versions."], external_id="e1"))
    store.close()
    with sqlite3.connect(path) as conn:  # what an older contra left: no version recorded
        conn.execute("UPDATE documents SET version_key = NULL, published_precision = NULL")
    store = ClaimStore(path, DIM)
    try:
        [same] = ingest(store, texts, make_doc("wire", ["An early story kept before versions."], external_id="e1"))
        assert not same.updated and same.claim_ids == v1.claim_ids
        [new] = ingest(store, texts, make_doc("wire", ["The early story, corrected."], external_id="e1"))
        assert new.updated and store.get_claims(v1.claim_ids) == {}
    finally:
        store.close()
