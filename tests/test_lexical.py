"""Lexical candidate retrieval: key terms, the store's FTS5 index kept in step, and hybrid fusion in the detector."""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from table_embedder import TableEmbedder

from contra.domain import ClaimText, DocumentIn, Source
from contra.index import FlatIndex, SearchFilter
from contra.index.lexical import TermKind, key_terms, match_expression
from contra.index.store import ClaimStore
from contra.service.detector import CheckQuery, Detector
from contra.service.validate import Limits

DIM = 8


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def make_doc(source: str, sentences: list[str], published: dt.date | None = None) -> tuple[DocumentIn, list[ClaimText]]:
    claims, offset = [], 0
    for sentence in sentences:
        claims.append(ClaimText(sentence, offset, offset + len(sentence)))
        offset += len(sentence) + 1
    return DocumentIn(Source(source), " ".join(sentences), published=published), claims


def add(store: ClaimStore, source: str, sentences: list[str], published: dt.date | None = None) -> list[int]:
    doc, claims = make_doc(source, sentences, published)
    rng = np.random.default_rng(len(store.get_claims(range(1, 1000))) + len(sentences))
    vectors = rng.standard_normal((len(claims), DIM)).astype(np.float32)
    [result] = store.add_documents([doc], [claims], [vectors])
    return result.claim_ids


def fts_ids(path: Path) -> set[int]:
    with sqlite3.connect(path) as conn:
        return {int(r[0]) for r in conn.execute("SELECT rowid FROM claims_fts")}


def indexed_ids(path: Path) -> set[int]:
    with sqlite3.connect(path) as conn:
        return {int(r[0]) for r in conn.execute("SELECT claim_id FROM claims WHERE copy_of IS NULL")}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ClaimStore]:
    s = ClaimStore(tmp_path / "claims.sqlite3", DIM)
    yield s
    s.close()


# -- key terms ----------------------------------------------------------------------------------------


def test_key_terms_keep_numbers_names_and_content_words_but_not_stop_words() -> None:
    terms = {t.text: t.kind for t in key_terms("The ministry said Élena Marsh will cut 1,200 jobs by 3.5% in 2026.")}
    assert terms["1 200"] == TermKind.NUMBER and terms["1200"] == TermKind.NUMBER  # as written, and normalised
    assert terms["3 5"] == TermKind.NUMBER and "35" not in terms  # a decimal is not a thousands separator
    assert terms["elena"] == TermKind.NAME and terms["marsh"] == TermKind.NAME
    assert terms["ministry"] == TermKind.WORD and terms["jobs"] == TermKind.WORD
    assert not {"the", "said", "will", "by", "in"} & set(terms)


def test_match_expression_quotes_every_term() -> None:
    expression = match_expression(key_terms('Marsh "quoted" NEAR(x) OR *'))
    assert all(part.startswith('"') and part.endswith('"') for part in expression.split(" OR "))


# -- the FTS5 index inside the store ------------------------------------------------------------------


def test_fts_follows_inserts_copies_promotions_and_deletes(store: ClaimStore) -> None:
    add(store, "a", ["Halvorsen made 1.6 million tonnes of steel.", "Energy costs fell in the second half."])
    add(store, "b", ["Halvorsen made 1.6 million tonnes of steel.", "Tarrow clinic waits reach eight weeks."])
    assert fts_ids(store.path) == indexed_ids(store.path)  # b's copy is not indexed, lexically or densely
    deleted = store.delete_source("a")
    assert deleted.promoted_ids
    assert fts_ids(store.path) == indexed_ids(store.path)
    assert set(deleted.promoted_ids) <= fts_ids(store.path)
    assert not set(deleted.claim_ids) & fts_ids(store.path)
    [(found, _)] = store.lexical_search("Halvorsen steel output", 5)
    assert found in deleted.promoted_ids


def test_fts_is_rolled_back_with_a_failed_write(store: ClaimStore) -> None:
    add(store, "a", ["Voss won the Tour of Westmarch by 52 seconds."])
    before = fts_ids(store.path)
    good, good_claims = make_doc("b", ["Sandvik hosts the Westmarch start next year."])
    bad, bad_claims = make_doc("c", ["Another sentence that is fine."])
    vectors = [np.ones((1, DIM), np.float32), np.full((1, DIM), np.nan, np.float32)]
    with pytest.raises(ValueError):
        store.add_documents([good, bad], [good_claims, bad_claims], vectors)
    assert fts_ids(store.path) == before


def test_existing_store_without_fts_is_back_filled_on_open(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "claims.sqlite3"
    store = ClaimStore(path, DIM)
    add(store, "a", ["Voss won the Tour of Westmarch by 52 seconds.", "Her team took the team classification."])
    add(store, "b", ["Voss won the Tour of Westmarch by 52 seconds."])
    store.close()
    with sqlite3.connect(path) as conn:  # a database written before the lexical index existed
        for trigger in ("claims_fts_insert", "claims_fts_delete", "claims_fts_update"):
            conn.execute(f"DROP TRIGGER {trigger}")
        conn.execute("DROP TABLE claims_fts_terms")
        conn.execute("DROP TABLE claims_fts")
    with caplog.at_level(logging.INFO, logger="contra.index.store"):
        store = ClaimStore(path, DIM)
    try:
        assert any("full-text index over 2 existing claims" in r.getMessage() for r in caplog.records)
        assert fts_ids(path) == indexed_ids(path) and len(fts_ids(path)) == 2
        assert store.lexical_search("Westmarch 52", 5)
        add(store, "c", ["Sandvik will host the start of next year's Westmarch race."])
        assert fts_ids(path) == indexed_ids(path)  # the triggers are back too
    finally:
        store.close()


def test_own_source_and_filters_are_applied_inside_the_query(store: ClaimStore) -> None:
    day = dt.date(2025, 3, 4)
    own = add(store, "own", [f"Kessler Dam holds {n} cubic metres of water." for n in range(30)], published=day)
    [other] = add(store, "other", ["Kessler Dam released water on Tuesday."], published=day)
    [late] = add(store, "late", ["Kessler Dam was closed for repairs."], published=dt.date(2025, 6, 1))
    [undated] = add(store, "undated", ["Kessler Dam inspectors found cracks."])
    found = [cid for cid, _ in store.lexical_search("Kessler Dam water", 3, SearchFilter(exclude_source="own"))]
    assert other in found and not set(own) & set(found)  # the own source takes no place among the k
    only = store.lexical_search("Kessler Dam", 10, SearchFilter(exclude_source="own", only_sources=frozenset({"late"})))
    assert [cid for cid, _ in only] == [late]
    window = store.lexical_search("Kessler Dam", 10, SearchFilter(exclude_source="own", until=dt.date(2025, 4, 1)))
    assert {cid for cid, _ in window} == {other, undated}
    strict = store.lexical_search(
        "Kessler Dam", 10, SearchFilter(exclude_source="own", until=dt.date(2025, 4, 1), include_undated=False)
    )
    assert {cid for cid, _ in strict} == {other}
    scores = [score for _, score in store.lexical_search("Kessler Dam water", 10)]
    assert scores == sorted(scores, reverse=True)


HOSTILE = [
    "",
    '"',
    '""""',
    "AND OR NOT",
    "NEAR(a b, 2)",
    "text:foo",
    "^start",
    "* OR *",
    "col : - + ( ) { }",
    "'; DROP TABLE claims; --",
    "\x00\x01 zero",
    "ﬁ ligature Ǆ ǅ",
    "1,,,2...3",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_query_strings_never_raise(store: ClaimStore, text: str) -> None:
    add(store, "a", ["Marsh said AND OR NOT NEAR text foo start col drop table claims zero."])
    result = store.lexical_search(text, 5)
    assert all(isinstance(cid, int) for cid, _ in result)
    assert store.counts()[2] == 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
def test_any_text_is_a_valid_query(store: ClaimStore, text: str) -> None:
    if not store.counts()[2]:
        add(store, "a", ["Marsh cut 1,200 jobs at the Halvorsen steelworks in Tarrow."])
    store.lexical_search(text, 5)


# -- hybrid retrieval in the detector -------------------------------------------------------------------


QUERY = "Halvorsen steelworks produced 1.6 million tonnes of crude steel in 2025."
PARTNER = "Energy prices rose sharply, while Halvorsen steelworks made 1.9 million tonnes of crude steel in 2025."
FAR = "Halvorsen employees organised a summer football tournament near Tarrow."
NEAR = [
    "Consumer prices across the region went up again last quarter.",
    "Factory output in the north grew faster than economists expected.",
    "Industrial production figures beat forecasts for another quarter.",
]


def detector_for(tmp_path: Path, lexical_k: int) -> Detector:
    axis = np.eye(DIM, dtype=np.float32)
    table = {
        QUERY: axis[0],
        PARTNER: unit(0.3 * axis[0] + np.sqrt(0.91) * axis[5]),  # below min_similarity: dense drops it
        FAR: unit(0.05 * axis[0] + axis[6]),  # shares a name, not a topic: below the lexical floor
        **{t: unit(0.9 * axis[0] + np.sqrt(0.19) * axis[i + 1]) for i, t in enumerate(NEAR)},
    }
    store = ClaimStore(tmp_path / f"claims-{lexical_k}.sqlite3", DIM)
    detector = Detector(
        embedder=TableEmbedder(table),
        store=store,
        index=FlatIndex(DIM),
        judge=None,  # type: ignore[arg-type]  # candidates() never judges
        limits=Limits(),
        top_k=2,
        min_similarity=0.35,
        lexical_k=lexical_k,
        lexical_min_similarity=0.15,
    )
    detector.ingest(
        [
            DocumentIn(Source("wire"), " ".join(NEAR)),
            DocumentIn(Source("local"), PARTNER),
            DocumentIn(Source("club"), FAR),
            DocumentIn(Source("own"), QUERY),
        ]
    )
    return detector


def test_partner_found_lexically_when_dense_search_misses_it(tmp_path: Path) -> None:
    query = CheckQuery(text=QUERY, source=Source("own"))
    dense = detector_for(tmp_path, lexical_k=0)
    hybrid = detector_for(tmp_path, lexical_k=20)
    try:
        [dense_row] = dense.candidates(query)[1]
        assert PARTNER not in [c.claim.text for c in dense_row]
        assert len(dense_row) == 2
        [row] = hybrid.candidates(query)[1]
        texts = [c.claim.text for c in row]
        assert len(row) == 2  # the total per claim stays bounded by top_k
        assert PARTNER in texts and FAR not in texts and QUERY not in texts
        partner = next(c for c in row if c.claim.text == PARTNER)
        assert partner.similarity == pytest.approx(0.3, abs=1e-5)  # the real cosine, for the judge
        assert all(c.claim.source_id != "own" for c in row)
    finally:
        dense.close()
        hybrid.close()
