"""The vector index: which backend, and how it is loaded from a snapshot or rebuilt from the store.

Backends (all inner product over unit vectors, i.e. cosine similarity; all filter inside the search):

* ``flat``  exact; memory 4·d bytes per claim; query time grows linearly.
* ``hnsw``  graph, exact vectors; fast queries; memory a little above flat; removal marks ids dead.
* ``ivfpq`` compressed; needs training (10,000 vectors at least). Opened over a store, it re-ranks its
  candidates with the exact vectors read from the store and holds under 4 % of flat's memory; built
  without one, it keeps 6-bit codes for that (22 % of flat).

``auto`` picks by corpus size (the store's claim count when the index is opened):

* fewer than ``AUTO_HNSW_FROM`` (50,000) claims: flat, since a scan of 50k vectors takes a few ms and
  is exact;
* up to ``AUTO_IVFPQ_FROM`` (1,000,000): HNSW;
* from then on IVF-PQ, which holds under 5 % of flat's memory when it re-ranks from the store (see
  ``bench/bench_index.py``).

The choice is made when the index is opened; a corpus that grows past a threshold switches backend at
the next start (the snapshot's kind no longer matches, so the index is rebuilt from the store).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from contra.domain import IndexKind
from contra.index.base import ClaimIndex, Hit
from contra.index.filters import SearchFilter
from contra.index.flat import FlatIndex
from contra.index.hnsw import HNSWIndex
from contra.index.ivfpq import IVFPQIndex
from contra.index.snapshot import MANIFEST, SnapshotError, read_manifest
from contra.index.store import ClaimStore

__all__ = [
    "AUTO_HNSW_FROM",
    "AUTO_IVFPQ_FROM",
    "ClaimIndex",
    "FlatIndex",
    "HNSWIndex",
    "Hit",
    "IVFPQIndex",
    "SearchFilter",
    "build_from_store",
    "create_index",
    "open_index",
    "resolve_kind",
]

LOG = logging.getLogger(__name__)

AUTO_HNSW_FROM = 50_000
AUTO_IVFPQ_FROM = 1_000_000

_BACKENDS: dict[IndexKind, type[ClaimIndex]] = {
    IndexKind.FLAT: FlatIndex,
    IndexKind.HNSW: HNSWIndex,
    IndexKind.IVFPQ: IVFPQIndex,
}


def resolve_kind(kind: IndexKind | str, size: int) -> IndexKind:
    """The concrete backend for ``kind``; AUTO decides by ``size`` (see the module docstring)."""
    try:
        kind = IndexKind(kind)
    except ValueError:
        raise ValueError(f"unknown index kind {kind!r}; use one of {', '.join(k.value for k in IndexKind)}") from None
    if kind is not IndexKind.AUTO:
        return kind
    if size < AUTO_HNSW_FROM:
        return IndexKind.FLAT
    if size < AUTO_IVFPQ_FROM:
        return IndexKind.HNSW
    return IndexKind.IVFPQ


def create_index(
    kind: IndexKind | str, dimension: int, expected_size: int = 0, options: Mapping[str, Any] | None = None
) -> ClaimIndex:
    """An empty index; ``expected_size`` drives AUTO and sizes IVF-PQ's lists.

    ``options`` are keyword arguments of the backend's constructor (e.g. ``{"ef_search": 128}`` for
    HNSW, ``{"nprobe": 64}`` for IVF-PQ).
    """
    resolved = resolve_kind(kind, expected_size)
    settings = dict(options or {})
    if resolved is IndexKind.IVFPQ:
        settings.setdefault("expected_size", expected_size)
    try:
        return _BACKENDS[resolved](dimension, **settings)
    except TypeError as exc:
        raise ValueError(f"bad options for the {resolved.value} index {settings}: {exc}") from exc


def open_index(
    store: ClaimStore,
    directory: Path,
    kind: IndexKind | str,
    dimension: int,
    embedder: str,
    options: Mapping[str, Any] | None = None,
) -> ClaimIndex:
    """The index for ``store``: its snapshot under ``directory`` brought up to date, or a rebuild.

    A snapshot is used when its manifest matches (kind, dimension, embedder); then claims added to the
    store since (ids above the manifest's ``last_claim_id``) are added and claims deleted since are
    dropped. A missing, damaged or mismatched snapshot is logged as a WARNING and the index is rebuilt
    from the store; it never fails start-up. ``options`` go to the backend (see ``create_index``) and
    override the settings recorded in the snapshot; a snapshot that cannot honour them is rebuilt.
    IVF-PQ gets ``vectors=store.vectors_by_id`` (exact re-ranking) unless ``options`` set ``vectors``.
    """
    if dimension != store.dimension:
        raise ValueError(f"index dimension {dimension} differs from the store's {store.dimension}")
    directory = Path(directory)
    size = store.counts()[2]
    wanted = resolve_kind(kind, size)
    settings = _store_settings(store, wanted, options)
    loaded = _load_snapshot(directory, wanted, dimension, embedder, size, settings)
    if loaded is None:
        return build_from_store(store, wanted, dimension, options=settings)
    index, last_claim_id = loaded
    _catch_up(index, store, last_claim_id)
    return index


def build_from_store(
    store: ClaimStore,
    kind: IndexKind | str,
    dimension: int,
    batch_size: int = 20_000,
    options: Mapping[str, Any] | None = None,
) -> ClaimIndex:
    """A fresh index over every indexed claim of the store (trained first when the backend needs it)."""
    started = time.perf_counter()
    size = store.counts()[2]
    kind = resolve_kind(kind, size)
    index = create_index(kind, dimension, expected_size=size, options=_store_settings(store, kind, options))
    wanted = index.train_size(size)
    if index.needs_training and wanted:
        index.train(store.sample_vectors(wanted))
    for batch in store.iter_vectors(batch_size=batch_size):
        index.add(batch)
    elapsed = time.perf_counter() - started
    LOG.info("%s index built from the store: %d claims in %.1f s", index.kind, len(index), elapsed)
    return index


def _store_settings(store: ClaimStore, kind: IndexKind, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Backend options, with IVF-PQ re-ranking from the store's exact vectors unless told otherwise."""
    settings = dict(options or {})
    if kind is IndexKind.IVFPQ:
        settings.setdefault("vectors", store.vectors_by_id)
    return settings


def _load_snapshot(
    directory: Path, kind: IndexKind, dimension: int, embedder: str, size: int, options: Mapping[str, Any]
) -> tuple[ClaimIndex, int] | None:
    try:
        manifest = read_manifest(directory)
    except SnapshotError as exc:
        if size == 0 and not (directory / MANIFEST).exists():
            LOG.info("no index snapshot in %s and an empty store: starting an empty %s index", directory, kind)
        else:
            LOG.warning("index snapshot not usable, rebuilding from the store: %s", exc)
        return None
    expected = {"kind": kind.value, "dimension": dimension, "embedder": embedder}
    found = {"kind": manifest.kind, "dimension": manifest.dimension, "embedder": manifest.embedder}
    if found != expected:
        differ = [f"{key} {found[key]!r} != {want!r}" for key, want in expected.items() if found[key] != want]
        LOG.warning("index snapshot in %s does not match (%s), rebuilding from the store", directory, ", ".join(differ))
        return None
    try:
        params = {**manifest.params, **options}
        index = _BACKENDS[kind].read_files(directory / manifest.folder, dimension, params)
        stored = len(index.stored_ids())
        if stored < manifest.count:
            raise ValueError(f"it holds {stored} vectors, the manifest says {manifest.count}")
    except Exception as exc:  # a damaged file can fail inside FAISS or numpy with many error types
        LOG.warning("index snapshot in %s is damaged (%s), rebuilding from the store", directory, exc)
        return None
    if not index.suits(size):
        LOG.info("index snapshot in %s was built for a much smaller corpus, rebuilding for %d claims", directory, size)
        return None
    return index, manifest.last_claim_id


def _catch_up(index: ClaimIndex, store: ClaimStore, last_claim_id: int) -> None:
    """Make a loaded snapshot agree with the store: metadata attached, deletions dropped, additions added."""
    started = time.perf_counter()
    stored = index.stored_ids()
    in_store: list[np.ndarray] = []
    for batch in store.iter_metadata():
        present = np.isin(batch.ids, stored, assume_unique=True)
        if present.any():
            rows = np.flatnonzero(present)
            index.attach_metadata(
                batch.ids[rows], [batch.source_ids[i] for i in rows], [batch.published[i] for i in rows]
            )
        in_store.append(batch.ids)
    store_ids = np.concatenate(in_store) if in_store else np.zeros(0, dtype=np.int64)
    gone = np.setdiff1d(stored, store_ids, assume_unique=True)
    index.purge(gone)
    before = len(index)
    for vectors in store.iter_vectors(after_id=last_claim_id):
        index.add(vectors)
    # Claims at or below the snapshot's last id that it lacks (e.g. a snapshot saved mid-ingest).
    older = np.setdiff1d(store_ids[store_ids <= last_claim_id], stored, assume_unique=True)
    for start in range(0, len(older), 10_000):
        index.add(store.vectors_for(older[start : start + 10_000].tolist()))
    LOG.info(
        "%s index snapshot loaded: %d claims, %d added and %d removed since, in %.1f s",
        index.kind,
        len(index),
        len(index) - before,
        len(gone),
        time.perf_counter() - started,
    )
