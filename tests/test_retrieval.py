"""Candidate search made for conflicts: the re-ranked dense pool (story, stance cues), copies dropped before
the cut, fusion with the lexical hits, and the settings that Check and compare share."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from table_embedder import TableEmbedder

from contra.domain import DocumentIn, Source
from contra.index import FlatIndex, SearchFilter, VectorBatch
from contra.index.lexical import LexicalTable
from contra.index.store import ClaimStore
from contra.service.config import Settings
from contra.service.detector import CheckQuery, Detector
from contra.service.judge.polarity import polarity
from contra.service.retrieval import CandidateSearch, RetrievalSettings, fuse, opposite_cues
from contra.service.validate import Limits

DIM = 8
AXIS = np.eye(DIM, dtype=np.float32)


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def near(cosine: float, towards: int, away: int = 7) -> np.ndarray:
    """A unit vector with the given cosine to axis ``towards``, the rest along axis ``away``."""
    return unit(cosine * AXIS[towards] + np.sqrt(1 - cosine**2) * AXIS[away])


OFF = RetrievalSettings(top_k=2, min_similarity=0.0, lexical_k=0, pool_k=0, story=0, stance_bonus=0.0)

CLAIM = "The harbour board approved the new ferry terminal on Tuesday."
REPEATS = [
    "The harbour board has approved a new ferry terminal.",
    "Harbour board approves the ferry terminal plan.",
    "A new ferry terminal was approved by the harbour board.",
]
DENIAL = "The harbour board denied that it had approved any ferry terminal."


class Corpus:
    """A flat index and texts over hand-made vectors: ids 0.. in the order given, each its own source."""

    def __init__(self, rows: Sequence[tuple[str, np.ndarray]]) -> None:
        self.texts = [text for text, _ in rows]
        self.vectors = np.vstack([vector for _, vector in rows]).astype(np.float32)
        self.index = FlatIndex(DIM)
        ids = np.arange(len(rows), dtype=np.int64)
        self.index.add(VectorBatch(ids, self.vectors, [f"s{i}" for i in ids], [None] * len(rows)))

    def search(self, settings: RetrievalSettings, query: str, vector: np.ndarray, texts: bool = True) -> list[int]:
        search = CandidateSearch(
            self.index,
            None,
            lambda ids: self.vectors[ids],
            settings,
            texts_by_id=(lambda ids: {int(i): self.texts[i] for i in ids}) if texts else None,
        )
        [row] = search.search([query], vector[None, :], SearchFilter(exclude_source="own"))
        return [cid for cid, _ in row]


# -- stance cues ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "opposite"),
    [
        (CLAIM, DENIAL, True),  # a denial on one side only
        ("The bridge will not reopen this year.", "The bridge reopens in June.", True),
        ("Water use rose in the valley last summer.", "Water use fell in the valley last summer.", True),
        (CLAIM, REPEATS[0], False),
        ("The mayor denied the report.", "The report is a hoax, the mayor said.", False),  # two denials agree
    ],
)
def test_opposite_cues_read_a_stance_as_the_judge_does(a: str, b: str, opposite: bool) -> None:
    assert opposite_cues(a, b) is opposite
    cues = polarity(a, b)
    assert (cues.denial_flip or cues.opposites > 0) is opposite


# -- the re-ranked pool ---------------------------------------------------------------------------------


def test_a_denial_below_the_repeats_reaches_the_judge_with_the_stance_bonus() -> None:
    rows = [(t, near(c, 0, 1 + i)) for i, (t, c) in enumerate(zip(REPEATS, (0.95, 0.94, 0.93), strict=True))]
    corpus = Corpus([*rows, (DENIAL, near(0.90, 0, 5))])
    denial_id = 3
    plain = corpus.search(OFF, CLAIM, AXIS[0])
    assert plain == [0, 1]  # the repeats fill the places
    with_pool = RetrievalSettings(**{**_fields(OFF), "pool_k": 10, "stance_bonus": 0.1})
    found = corpus.search(with_pool, CLAIM, AXIS[0])
    assert denial_id in found and len(found) == 2
    # Without the texts there is no stance to read: the pool stays in cosine order.
    assert corpus.search(with_pool, CLAIM, AXIS[0], texts=False) == [0, 1]


def test_the_story_search_ranks_the_reports_around_the_claim_first_with_each_claims_own_cosine() -> None:
    rows = [
        ("Report one on the ferry terminal vote.", unit(AXIS[0] + 0.8 * AXIS[1] + 0.05 * AXIS[2])),
        ("Report two on the ferry terminal vote.", unit(AXIS[0] + 0.8 * AXIS[1] + 0.05 * AXIS[3])),
        ("A distant item that only shares wording.", unit(AXIS[0] + 0.9 * AXIS[4])),
        ("Report three, in other words, on the vote.", unit(AXIS[0] + 1.1 * AXIS[1] + 0.2 * AXIS[5])),
    ]
    corpus = Corpus(rows)
    query = AXIS[0]
    cosines = corpus.vectors @ query
    assert cosines[0] > cosines[2] > cosines[3]  # by the claim alone, the off-story item ranks above report three
    settings = RetrievalSettings(**{**_fields(OFF), "top_k": 4, "story": 2})
    search = CandidateSearch(corpus.index, None, lambda ids: corpus.vectors[ids], settings)
    pool = {int(i): float(cosines[i]) for i in np.argsort(-cosines)}
    [story] = search._stories(query[None, :], [pool], 4, SearchFilter())
    assert list(story)[2:] == [3, 2]  # around the first two reports, report three comes before the distant item
    assert story == pytest.approx({cid: float(cosines[cid]) for cid in story}, abs=1e-5)
    [row] = search.search(["claim"], query[None, :], SearchFilter())
    assert {cid for cid, _ in row} == {0, 1, 2, 3}
    assert dict(row) == pytest.approx({cid: float(cosines[cid]) for cid, _ in row}, abs=1e-5)


def test_copies_of_the_claim_give_up_their_places_before_the_cut() -> None:
    corpus = Corpus([(CLAIM, AXIS[0]), (CLAIM, AXIS[0]), (REPEATS[0], near(0.9, 0)), (REPEATS[1], near(0.8, 0))])
    pooled = RetrievalSettings(**{**_fields(OFF), "pool_k": 4})
    assert sorted(corpus.search(pooled, CLAIM, AXIS[0], texts=False)) == [0, 1]  # the old way: both dropped later
    assert corpus.search(pooled, CLAIM, AXIS[0]) == [2, 3]


# -- fusion with the lexical hits -------------------------------------------------------------------------


def test_fuse_keeps_a_lone_list_and_fuses_several_by_reciprocal_rank() -> None:
    dense = {1: 0.9, 2: 0.8, 3: 0.7}
    assert fuse([dense], 2) == [(1, 0.9), (2, 0.8)]
    assert fuse([dense, {}], 3) == list(dense.items())
    fused = [cid for cid, _ in fuse([dense, {3: 0.7, 9: 0.3}], 3)]
    assert fused[0] == 3  # found by both lists


def test_lexical_hits_join_the_re_ranked_pool() -> None:
    texts = [
        "Regional shipping volumes grew again in the spring.",
        "Port authorities expect more passengers this year.",
        "Coastal transport budgets were set for the decade.",
        "Ferry terminal vote: Marlowe harbour board split 4-3.",
    ]
    vectors = [near(c, 0, 1 + i) for i, c in enumerate((0.95, 0.94, 0.93))] + [near(0.3, 0, 6)]
    ids = list(range(len(texts)))
    index = FlatIndex(DIM)
    index.add(VectorBatch(np.asarray(ids, dtype=np.int64), np.vstack(vectors), [f"s{i}" for i in ids], [None] * 4))
    table = LexicalTable(ids, [f"s{i}" for i in ids], texts)
    try:
        stack = np.vstack(vectors)
        settings = RetrievalSettings(top_k=3, min_similarity=0.5, lexical_k=5, lexical_min_similarity=0.15)
        search = CandidateSearch(index, table, lambda i: stack[i], settings)
        [row] = search.search(["Marlowe harbour board ferry terminal vote"], AXIS[0][None, :], SearchFilter())
        found = dict(row)
        assert len(row) == 3 and 3 in found  # below the dense floor, found by its rare name
        assert found[3] == pytest.approx(0.3, abs=1e-5)  # with its real cosine, for the judge
    finally:
        table.close()


# -- settings shared by Check and compare ----------------------------------------------------------------


def test_retrieval_settings_come_from_the_service_settings() -> None:
    assert RetrievalSettings.from_settings(Settings()) == RetrievalSettings()
    changed = RetrievalSettings.from_settings(Settings(pool_k=0, stance_bonus=0.0, top_k=7))
    assert changed.pool_k == 0 and changed.stance_bonus == 0.0 and changed.top_k == 7


def test_check_brings_the_denial_through_the_store(tmp_path: Path) -> None:
    table = {CLAIM: AXIS[0], DENIAL: near(0.90, 0, 5)}
    table.update({t: near(c, 0, 1 + i) for i, (t, c) in enumerate(zip(REPEATS, (0.95, 0.94, 0.93), strict=True))})

    def detector(retrieval: RetrievalSettings) -> Detector:
        store = ClaimStore(tmp_path / f"claims-{retrieval.stance_bonus}.sqlite3", DIM)
        d = Detector(
            embedder=TableEmbedder(table),
            store=store,
            index=FlatIndex(DIM),
            judge=None,  # type: ignore[arg-type]  # candidates() never judges
            limits=Limits(),
            top_k=2,
            lexical_k=0,
            retrieval=retrieval,
        )
        d.ingest([DocumentIn(Source(f"outlet-{i}"), text) for i, text in enumerate([*REPEATS, DENIAL])])
        return d

    query = CheckQuery(text=CLAIM, source=Source("own"))
    for bonus, expected in ((0.0, False), (0.1, True)):
        d = detector(RetrievalSettings(pool_k=10, story=0, stance_bonus=bonus))
        try:
            [row] = d.candidates(query)[1]
            assert len(row) == 2 and (DENIAL in [c.claim.text for c in row]) is expected
        finally:
            d.close()


def _fields(settings: RetrievalSettings) -> dict[str, object]:
    return {name: getattr(settings, name) for name in RetrievalSettings.__dataclass_fields__}
