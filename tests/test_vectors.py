"""Vector index backends against exact search, filters inside the search, snapshots and their recovery."""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import faiss
import numpy as np
import pytest

from contra.domain import ClaimText, DocumentIn, IndexKind, Source
from contra.index.base import ClaimIndex, Hit
from contra.index.filters import SearchFilter
from contra.index.snapshot import MANIFEST, read_manifest
from contra.index.store import ClaimStore, VectorBatch
from contra.index.vectors import (
    AUTO_HNSW_FROM,
    AUTO_IVFPQ_FROM,
    FlatIndex,
    HNSWIndex,
    IVFPQIndex,
    create_index,
    open_index,
    resolve_kind,
)

DIM = 48
N = 4000
SOURCES = [f"src{i}" for i in range(8)]
EMBEDDER = "test-embedder"
KINDS = ["flat", "hnsw", "ivfpq"]
#: Options that let IVF-PQ train on the small test corpora (the default asks for 10,000 vectors).
SMALL = {"min_train": 2000}


@pytest.fixture(scope="module", autouse=True)
def one_faiss_thread() -> Iterator[None]:
    """OpenMP threads spin against each other on a busy 2-core machine; one thread is faster here."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


def clustered(n: int, seed: int, clusters: int = 200, spread: float = 0.35) -> np.ndarray:
    """Unit vectors around fixed random centres (the same for every seed), so that neighbours are meaningful."""
    centres = np.random.default_rng(1234).standard_normal((clusters, DIM))
    rng = np.random.default_rng(seed)
    points = centres[rng.integers(0, clusters, n)] + spread * rng.standard_normal((n, DIM)) * np.sqrt(DIM) / 4
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    return points.astype(np.float32)


def make_batch(n: int = N, seed: int = 0, first_id: int = 1) -> VectorBatch:
    rng = np.random.default_rng(seed + 1)
    days = rng.integers(0, 365, n)
    return VectorBatch(
        ids=np.arange(first_id, first_id + n, dtype=np.int64),
        vectors=clustered(n, seed),
        source_ids=[SOURCES[i] for i in rng.integers(0, len(SOURCES), n)],
        published=[None if d % 10 == 0 else dt.date(2024, 1, 1) + dt.timedelta(days=int(d)) for d in days],
    )


def own_clusters(probes: np.ndarray, per_probe: int = 60, first_id: int = 100_000) -> VectorBatch:
    """For each probe, ``per_probe`` claims of source "own" that are closer to it than any other claim."""
    rng = np.random.default_rng(5)
    near = np.repeat(probes, per_probe, axis=0) + 0.02 * rng.standard_normal((len(probes) * per_probe, DIM))
    near /= np.linalg.norm(near, axis=1, keepdims=True)
    return VectorBatch(
        ids=np.arange(first_id, first_id + len(near), dtype=np.int64),
        vectors=near.astype(np.float32),
        source_ids=["own"] * len(near),
        published=[None] * len(near),
    )


def concat(*batches: VectorBatch) -> VectorBatch:
    return VectorBatch(
        ids=np.concatenate([b.ids for b in batches]),
        vectors=np.concatenate([b.vectors for b in batches]),
        source_ids=[s for b in batches for s in b.source_ids],
        published=[d for b in batches for d in b.published],
    )


def part(batch: VectorBatch, rows: slice) -> VectorBatch:
    return VectorBatch(batch.ids[rows], batch.vectors[rows], batch.source_ids[rows], batch.published[rows])


def build(kind: str, batch: VectorBatch) -> ClaimIndex:
    index = create_index(kind, DIM, options=SMALL if kind == "ivfpq" else None)
    index.add(batch)
    assert not index.needs_training
    return index


def ids_of(rows: list[list[Hit]]) -> list[list[int]]:
    return [[h.claim_id for h in row] for row in rows]


def recall(approx: list[list[int]], exact: list[list[int]]) -> float:
    return float(np.mean([len(set(a) & set(e)) / len(e) for a, e in zip(approx, exact, strict=True)]))


@pytest.fixture(scope="module")
def batch() -> VectorBatch:
    return make_batch()


@pytest.fixture(scope="module")
def queries() -> np.ndarray:
    return clustered(100, seed=99)


@pytest.fixture(scope="module")
def probes() -> np.ndarray:
    return clustered(20, seed=7)


@pytest.fixture(scope="module")
def corpus(batch: VectorBatch, probes: np.ndarray) -> VectorBatch:
    """The batch plus, around each probe, a tight cluster of source "own"."""
    return concat(batch, own_clusters(probes))


@pytest.fixture(scope="module")
def shared(corpus: VectorBatch) -> dict[str, ClaimIndex]:
    """One index of each kind over the corpus, for the tests that only search."""
    return {kind: build(kind, corpus) for kind in KINDS}


def brute_force(batch: VectorBatch, queries: np.ndarray, k: int, allowed: np.ndarray) -> list[list[int]]:
    scores = queries @ batch.vectors.T
    scores[:, ~allowed] = -np.inf
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return [[int(batch.ids[j]) for j in row if np.isfinite(scores[i, j])] for i, row in enumerate(order)]


# -- exactness and recall -------------------------------------------------------------------------


def test_flat_is_exact(shared: dict[str, ClaimIndex], corpus: VectorBatch, queries: np.ndarray) -> None:
    flat = shared["flat"]
    everything = np.ones(len(corpus.ids), dtype=bool)
    assert ids_of(flat.search(queries, 10)) == brute_force(corpus, queries, 10, everything)
    not_src0 = np.array([s != "src0" for s in corpus.source_ids])
    got = flat.search(queries, 10, SearchFilter(exclude_source="src0"))
    assert ids_of(got) == brute_force(corpus, queries, 10, not_src0)
    expected_scores = np.sort(queries @ corpus.vectors[not_src0].T, axis=1)[:, ::-1][:, :10]
    np.testing.assert_allclose([[h.similarity for h in row] for row in got], expected_scores, atol=1e-5)


@pytest.mark.parametrize("kind", ["hnsw", "ivfpq"])
@pytest.mark.parametrize("flt", [SearchFilter(), SearchFilter(exclude_source="src3")], ids=["open", "exclude"])
def test_backend_recall_against_flat(
    kind: str, flt: SearchFilter, shared: dict[str, ClaimIndex], corpus: VectorBatch, queries: np.ndarray
) -> None:
    index = shared[kind]
    assert len(index) == len(shared["flat"]) == len(corpus.ids)
    exact = ids_of(shared["flat"].search(queries, 10, flt))
    got = index.search(queries, 10, flt)
    assert all(len(row) == 10 for row in got)
    assert recall(ids_of(got), exact) >= 0.9
    excluded = {int(i) for i, s in zip(corpus.ids, corpus.source_ids, strict=True) if s == flt.exclude_source}
    assert not excluded & {h.claim_id for row in got for h in row}
    for row in got:  # best first, and the similarity is a cosine
        sims = [h.similarity for h in row]
        assert sims == sorted(sims, reverse=True) and -1.01 <= sims[-1] <= sims[0] <= 1.01


@pytest.mark.parametrize("kind", KINDS)
def test_own_source_is_excluded_inside_the_search(
    kind: str, shared: dict[str, ClaimIndex], corpus: VectorBatch, probes: np.ndarray
) -> None:
    """A query whose 60 nearest claims are all its own source's still gets k claims of other sources."""
    index = shared[kind]
    own = {int(i) for i, s in zip(corpus.ids, corpus.source_ids, strict=True) if s == "own"}
    exact_open = ids_of(shared["flat"].search(probes, 50))
    assert all(set(row) <= own for row in exact_open)  # post-filtering these 50 would leave nothing
    got = index.search(probes, 10, SearchFilter(exclude_source="own"))
    assert all(len(row) == 10 for row in got)
    assert not own & {h.claim_id for row in got for h in row}
    exact = ids_of(shared["flat"].search(probes, 10, SearchFilter(exclude_source="own")))
    assert recall(ids_of(got), exact) >= (1.0 if kind == "flat" else 0.9)


@pytest.mark.parametrize("kind", KINDS)
def test_source_and_date_filters(
    kind: str, shared: dict[str, ClaimIndex], corpus: VectorBatch, queries: np.ndarray
) -> None:
    index = shared[kind]
    since, until = dt.date(2024, 3, 1), dt.date(2024, 4, 30)
    info = {int(i): (s, d) for i, s, d in zip(corpus.ids, corpus.source_ids, corpus.published, strict=True)}
    only = index.search(queries[:20], 10, SearchFilter(only_sources=frozenset({"src1", "src2"})))
    assert all(info[h.claim_id][0] in {"src1", "src2"} for row in only for h in row)
    window = index.search(queries[:20], 10, SearchFilter(since=since, until=until))
    dates = [info[h.claim_id][1] for row in window for h in row]
    assert None in dates  # undated claims pass a window by default
    assert all(d is None or since <= d <= until for d in dates)
    dated = index.search(queries[:20], 10, SearchFilter(since=since, until=until, include_undated=False))
    assert all(len(row) == 10 for row in dated)
    assert all(info[h.claim_id][1] is not None for row in dated for h in row)
    assert index.search(queries[:2], 5, SearchFilter(only_sources=frozenset({"nobody"}))) == [[], []]


def test_fewer_allowed_claims_than_k(batch: VectorBatch) -> None:
    index = build("hnsw", part(batch, slice(0, 1000)))
    index.add(VectorBatch(np.array([9_000_001, 9_000_002]), clustered(2, 7), ["rare", "rare"], [None, None]))
    hits = index.search(batch.vectors[:3], 10, SearchFilter(only_sources=frozenset({"rare"})))
    assert [sorted(h.claim_id for h in row) for row in hits] == [[9_000_001, 9_000_002]] * 3


# -- adding, removing, checking -------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_remove_and_readd_are_idempotent(kind: str, batch: VectorBatch, queries: np.ndarray) -> None:
    index = build(kind, batch)
    index.add(batch)  # replaying a batch adds nothing
    assert len(index) == N
    gone = batch.ids[batch.ids % 5 == 0]
    index.remove(gone)
    index.remove([*gone.tolist(), 10**9])  # unknown and already removed ids are ignored
    assert len(index) == N - len(gone)
    hits = index.search(queries, 10)
    assert all(len(row) == 10 for row in hits)
    assert not set(gone.tolist()) & {h.claim_id for row in hits for h in row}


def test_hnsw_rebuilds_its_graph_when_a_quarter_is_dead(batch: VectorBatch, queries: np.ndarray) -> None:
    index = HNSWIndex(DIM)
    index.add(part(batch, slice(0, 2000)))
    index.remove(batch.ids[:400])
    assert index.dead == 400  # marked, still in the graph
    index.remove(batch.ids[400:600])
    assert index.dead == 0 and len(index) == 1400  # 600 > 25 % of 2,000: rebuilt
    assert index.stored_ids().tolist() == batch.ids[600:2000].tolist()
    hits = index.search(queries, 10)
    assert all(len(row) == 10 and all(600 < h.claim_id <= 2000 for h in row) for row in hits)
    index.add(part(batch, slice(0, 10)))  # removed ids may come back
    assert len(index) == 1410
    index.remove(batch.ids[600:610])
    assert index.dead == 10
    index.add(part(batch, slice(600, 610)))  # back while still dead in the graph: rebuilt first
    assert index.dead == 0 and len(index) == len(index.stored_ids()) == 1410
    assert {h.claim_id for h in index.search(batch.vectors[600:601], 1)[0]} == {601}


def test_ivfpq_searches_exactly_until_trained_then_trains_itself(batch: VectorBatch, queries: np.ndarray) -> None:
    index = IVFPQIndex(DIM, **SMALL)
    first, rest = part(batch, slice(0, 1500)), part(batch, slice(1500, 3000))
    index.add(first)
    assert index.needs_training and len(index) == 1500
    reference = FlatIndex(DIM)
    reference.add(first)
    assert ids_of(index.search(queries, 10)) == ids_of(reference.search(queries, 10))
    index.add(rest)
    assert not index.needs_training and len(index) == 3000
    assert len(index.stored_ids()) == 3000
    reference.add(rest)
    assert recall(ids_of(index.search(queries, 10)), ids_of(reference.search(queries, 10))) >= 0.9


def test_shapes_are_checked_at_the_boundary(shared: dict[str, ClaimIndex]) -> None:
    flat = shared["flat"]
    with pytest.raises(ValueError, match=r"queries must have shape \(n, 48\), got \(48,\)"):
        flat.search(np.ones(DIM, dtype=np.float32), 5)
    with pytest.raises(ValueError, match=r"got \(2, 16\)"):
        flat.search(np.ones((2, 16), dtype=np.float32), 5)
    with pytest.raises(ValueError, match="k must be at least 1"):
        flat.search(np.ones((1, DIM), dtype=np.float32), 0)
    with pytest.raises(ValueError, match="all-zero"):
        flat.search(np.zeros((1, DIM), dtype=np.float32), 1)
    bad = VectorBatch(np.array([1, 2]), np.ones((2, DIM + 1), dtype=np.float32), ["a", "b"], [None, None])
    with pytest.raises(ValueError, match=r"shape \(2, 49\), expected \(2, 48\)"):
        FlatIndex(DIM).add(bad)
    short = VectorBatch(np.array([1, 2]), np.ones((2, DIM), dtype=np.float32), ["a"], [None, None])
    with pytest.raises(ValueError, match="1 source_ids"):
        FlatIndex(DIM).add(short)
    with pytest.raises(ValueError, match="training vectors"):
        IVFPQIndex(DIM).train(np.ones((100, DIM), dtype=np.float32))
    with pytest.raises(ValueError, match="bad options for the hnsw index"):
        create_index("hnsw", DIM, options={"nprobe": 3})


def test_kind_resolution() -> None:
    assert resolve_kind("auto", 0) is IndexKind.FLAT
    assert resolve_kind(IndexKind.AUTO, AUTO_HNSW_FROM - 1) is IndexKind.FLAT
    assert resolve_kind(IndexKind.AUTO, AUTO_HNSW_FROM) is IndexKind.HNSW
    assert resolve_kind(IndexKind.AUTO, AUTO_IVFPQ_FROM) is IndexKind.IVFPQ
    assert resolve_kind("hnsw", 0) is IndexKind.HNSW
    assert IVFPQIndex(DIM).min_train <= AUTO_IVFPQ_FROM  # AUTO never picks an index it cannot train
    with pytest.raises(ValueError, match="auto, flat, hnsw, ivfpq"):
        resolve_kind("annoy", 10)
    assert isinstance(create_index("auto", DIM, AUTO_IVFPQ_FROM), IVFPQIndex)


def test_searches_run_while_claims_are_added(batch: VectorBatch, queries: np.ndarray) -> None:
    index = HNSWIndex(DIM)
    index.add(part(batch, slice(0, 1000)))
    errors: list[BaseException] = []
    stop = threading.Event()

    def searcher() -> None:
        try:
            while not stop.is_set():
                rows = index.search(queries[:5], 10, SearchFilter(exclude_source="src1"))
                assert all(len(row) == 10 for row in rows)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=searcher) for _ in range(3)]
    for t in threads:
        t.start()
    for start in range(1000, 2000, 250):
        index.add(part(batch, slice(start, start + 250)))
    index.remove(batch.ids[:100])
    stop.set()
    for t in threads:
        t.join()
    assert errors == [] and len(index) == 1900


# -- snapshots and the store ----------------------------------------------------------------------

STORED = 3000


#: What the snapshot tests open: IVF-PQ over a store re-ranks with the store's vectors, "ivfpq-codes" with
#: its own 6-bit codes.
VARIANTS = ["flat", "hnsw", "ivfpq", "ivfpq-codes"]


def kind_of(variant: str) -> str:
    return variant.split("-")[0]


def options(variant: str) -> dict[str, object] | None:
    return {"ivfpq": SMALL, "ivfpq-codes": {**SMALL, "vectors": None}}.get(variant)


def fill_store(store: ClaimStore, batch: VectorBatch, start: int, stop: int) -> None:
    """One document per claim, with the batch's source, date and vector."""
    docs, claims = [], []
    for i in range(start, stop):
        text = f"Synthetic claim number {i}."
        docs.append(DocumentIn(Source(batch.source_ids[i]), text, published=batch.published[i]))
        claims.append([ClaimText(text, 0, len(text))])
    store.add_documents(docs, claims, [batch.vectors[i : i + 1] for i in range(start, stop)])


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, batch: VectorBatch) -> Path:
    """A closed store file with the first 3,000 claims of the batch, copied by each test."""
    path = tmp_path_factory.mktemp("template") / "claims.sqlite3"
    store = ClaimStore(path, DIM)
    fill_store(store, batch, 0, STORED)
    store.close()
    return path


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory: pytest.TempPathFactory, template: Path) -> Iterator[dict[str, tuple[Path, ClaimIndex]]]:
    """A saved snapshot of each variant over the template store, with the index that was saved."""
    work = tmp_path_factory.mktemp("snapshots")
    shutil.copy(template, work / "claims.sqlite3")
    store = ClaimStore(work / "claims.sqlite3", DIM)
    out: dict[str, tuple[Path, ClaimIndex]] = {}
    for variant in VARIANTS:
        index = open_index(store, work / variant, kind_of(variant), DIM, EMBEDDER, options(variant))
        index.save(work / variant, store.max_claim_id(), EMBEDDER)
        out[variant] = (work / variant, index)
    yield out
    store.close()


@pytest.fixture
def store(tmp_path: Path, template: Path) -> Iterator[ClaimStore]:
    shutil.copy(template, tmp_path / "claims.sqlite3")
    s = ClaimStore(tmp_path / "claims.sqlite3", DIM)
    yield s
    s.close()


def snapshot_copy(snapshots: dict[str, tuple[Path, ClaimIndex]], kind: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(snapshots[kind][0], tmp_path / "index"))


def reference_results(store: ClaimStore, queries: np.ndarray, flt: SearchFilter) -> list[list[int]]:
    reference = FlatIndex(DIM)
    for vectors in store.iter_vectors():
        reference.add(vectors)
    return ids_of(reference.search(queries, 10, flt))


@pytest.mark.parametrize("variant", VARIANTS)
def test_snapshot_round_trip(
    variant: str,
    snapshots: dict[str, tuple[Path, ClaimIndex]],
    store: ClaimStore,
    tmp_path: Path,
    queries: np.ndarray,
    caplog: pytest.LogCaptureFixture,
) -> None:
    kind = kind_of(variant)
    saved = snapshots[variant][1]
    assert len(saved) == STORED and saved.kind == kind and not saved.needs_training
    snap = snapshot_copy(snapshots, variant, tmp_path)
    manifest = read_manifest(snap)
    assert (manifest.kind, manifest.dimension, manifest.embedder) == (kind, DIM, EMBEDDER)
    assert (manifest.last_claim_id, manifest.count) == (store.max_claim_id(), STORED)
    assert manifest.created and manifest.contra_version and manifest.faiss_version
    with caplog.at_level(logging.INFO, logger="contra.index"):
        loaded = open_index(store, snap, kind, DIM, EMBEDDER, options(variant))
    assert [r.levelname for r in caplog.records] == ["INFO"]
    assert "snapshot loaded" in caplog.records[0].getMessage()
    assert len(loaded) == STORED
    flt = SearchFilter(exclude_source="src2")
    got = loaded.search(queries, 10, flt)
    assert got == saved.search(queries, 10, flt)
    # exact re-ranking from the store leaves only the PQ candidate stage approximate
    expected = {"flat": 1.0, "hnsw": 0.9, "ivfpq": 0.97, "ivfpq-codes": 0.9}[variant]
    assert recall(ids_of(got), reference_results(store, queries, flt)) >= expected
    loaded.save(snap, store.max_claim_id(), EMBEDDER)  # a second save replaces the first
    assert len(list(snap.glob("snap-*"))) == 1 and read_manifest(snap).folder != manifest.folder


@pytest.mark.parametrize("variant", VARIANTS)
def test_snapshot_catches_up_with_the_store(
    variant: str,
    snapshots: dict[str, tuple[Path, ClaimIndex]],
    store: ClaimStore,
    batch: VectorBatch,
    tmp_path: Path,
    queries: np.ndarray,
) -> None:
    kind = kind_of(variant)
    snap = snapshot_copy(snapshots, variant, tmp_path)
    fill_store(store, batch, STORED, STORED + 500)  # added after the snapshot
    deleted = store.delete_source("src4")  # deleted after the snapshot
    assert deleted.claim_ids
    loaded = open_index(store, snap, kind, DIM, EMBEDDER, options(variant))
    assert len(loaded) == store.counts()[2] == STORED + 500 - len(deleted.claim_ids)
    expected_ids = np.concatenate([b.ids for b in store.iter_vectors()])
    if kind != "hnsw":  # HNSW keeps removed ids in its graph until a quarter of it is dead
        assert loaded.stored_ids().tolist() == expected_ids.tolist()
    flt = SearchFilter(exclude_source="src1")
    got = ids_of(loaded.search(queries, 10, flt))
    assert not set(deleted.claim_ids) & {i for row in got for i in row}
    assert {i for row in got for i in row} & set(range(STORED + 1, STORED + 501))  # new claims are found
    assert recall(got, reference_results(store, queries, flt)) >= (1.0 if kind == "flat" else 0.9)


def damage_truncate(snap: Path) -> None:
    biggest = max(snap.glob("snap-*/*"), key=lambda p: p.stat().st_size)
    biggest.write_bytes(biggest.read_bytes()[: biggest.stat().st_size // 2])


def damage_truncate_quietly(snap: Path) -> None:
    """Truncate a file and fix its size in the manifest, so that FAISS or numpy meets the damage."""
    damage_truncate(snap)
    data = json.loads((snap / MANIFEST).read_text())
    for path in snap.glob("snap-*/*"):
        data["files"][path.name] = path.stat().st_size
    (snap / MANIFEST).write_text(json.dumps(data))


def damage_manifest(snap: Path) -> None:
    (snap / MANIFEST).write_text("{not json")


def damage_manifest_fields(snap: Path) -> None:
    (snap / MANIFEST).write_text('{"kind": "flat", "surprise": 1}')


@pytest.mark.parametrize(
    ("variant", "damage"),
    [(variant, damage) for variant in VARIANTS for damage in (damage_truncate, damage_truncate_quietly)]
    + [("flat", damage_manifest), ("flat", damage_manifest_fields)],
)
def test_damaged_snapshot_is_rebuilt_with_a_warning(
    variant: str,
    damage: Callable[[Path], None],
    snapshots: dict[str, tuple[Path, ClaimIndex]],
    store: ClaimStore,
    tmp_path: Path,
    queries: np.ndarray,
    caplog: pytest.LogCaptureFixture,
) -> None:
    kind = kind_of(variant)
    snap = snapshot_copy(snapshots, variant, tmp_path)
    damage(snap)
    with caplog.at_level(logging.WARNING, logger="contra.index"):
        index = open_index(store, snap, kind, DIM, EMBEDDER, options(variant))
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "rebuilding from the store" in caplog.records[0].getMessage()
    assert len(index) == STORED and index.kind == kind
    flt = SearchFilter(exclude_source="src0")
    assert recall(ids_of(index.search(queries, 10, flt)), reference_results(store, queries, flt)) >= 0.9


@pytest.mark.parametrize(
    ("kind", "embedder", "reason"),
    [
        ("flat", "another-embedder", "embedder 'test-embedder' != 'another-embedder'"),
        ("hnsw", EMBEDDER, "kind 'flat' != 'hnsw'"),
    ],
)
def test_mismatched_snapshot_is_rebuilt(
    kind: str,
    embedder: str,
    reason: str,
    snapshots: dict[str, tuple[Path, ClaimIndex]],
    store: ClaimStore,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    snap = snapshot_copy(snapshots, "flat", tmp_path)
    with caplog.at_level(logging.WARNING, logger="contra.index"):
        index = open_index(store, snap, kind, DIM, embedder)
    assert len(caplog.records) == 1 and reason in caplog.records[0].getMessage()
    assert index.kind == kind and len(index) == STORED


def test_missing_snapshot_is_built_from_the_store(
    store: ClaimStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="contra.index"):
        index = open_index(store, tmp_path / "nothing-here", "auto", DIM, EMBEDDER)
    assert len(caplog.records) == 1 and "no snapshot manifest" in caplog.records[0].getMessage()
    assert index.kind == "flat" and len(index) == STORED


def test_promoted_copies_reach_the_index(tmp_path: Path, batch: VectorBatch) -> None:
    store = ClaimStore(tmp_path / "claims.sqlite3", DIM)
    text = "The same wire sentence everywhere."
    for source in ["wire", "local"]:
        store.add_documents([DocumentIn(Source(source), text)], [[ClaimText(text, 0, len(text))]], [batch.vectors[:1]])
    index = open_index(store, tmp_path / "index", "flat", DIM, EMBEDDER)
    [original] = index.search(batch.vectors[:1], 5)[0]
    deleted = store.delete_source("wire")
    index.remove(deleted.claim_ids)
    index.add(store.vectors_for(deleted.promoted_ids))
    [promoted] = index.search(batch.vectors[:1], 5)[0]
    assert promoted.claim_id == deleted.promoted_ids[0] != original.claim_id
    assert index.search(batch.vectors[:1], 5, SearchFilter(exclude_source="local")) == [[]]
    store.close()


def test_ivfpq_snapshot_with_the_other_reranking_is_rebuilt(
    snapshots: dict[str, tuple[Path, ClaimIndex]], store: ClaimStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    snap = snapshot_copy(snapshots, "ivfpq-codes", tmp_path)
    with caplog.at_level(logging.WARNING, logger="contra.index"):
        index = open_index(store, snap, "ivfpq", DIM, EMBEDDER, SMALL)  # asks for the store's vectors
    assert len(caplog.records) == 1 and "re-ranks with 6-bit codes" in caplog.records[0].getMessage()
    assert index.params()["exact_rerank"] and len(index) == STORED
