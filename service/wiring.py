"""The one place where contra's parts are built from settings and put together."""

from __future__ import annotations

import logging

from contra.index import ClaimStore, open_index
from contra.service.config import Settings
from contra.service.detector import Detector
from contra.service.judge.calibration import Calibration
from contra.service.judge.judge import Judge
from contra.service.judge.numbers import figure_evidence
from contra.service.models.batching import BatchingEmbedder, BatchingNLI
from contra.service.models.embedder import Embedder
from contra.service.models.loading import load_embedder
from contra.service.models.modeltime import ModelClock, TimedEmbedder, TimedNLI
from contra.service.models.nli import NLIModel, load_nli
from contra.service.models.nli_cache import CachedNLI
from contra.service.models.vector_space import check_vector_space
from contra.service.retrieval import RetrievalSettings
from contra.service.validate import Limits

LOG = logging.getLogger(__name__)


def build_judge(settings: Settings, clock: ModelClock | None = None, embedder: Embedder | None = None) -> Judge:
    """The judge alone (NLI model, figures check, same-event test, fitted calibration): all that
    `contra judge` needs. The embedder gives the same-event cosine for pairs that come without one."""
    nli = build_nli(settings, clock)
    LOG.info("NLI model: %s", nli.name)
    calibration = Calibration.load()
    return Judge(
        nli,
        figure_evidence,
        threshold=settings.conflict_threshold,
        calibration=calibration,
        embedder=embedder if embedder is not None else build_embedder(settings, clock),
    )


def build_nli(settings: Settings, clock: ModelClock | None = None) -> NLIModel:
    """The NLI model, clocked when ``clock`` is given, under the batcher, under the pair cache."""
    nli: NLIModel = load_nli(settings.nli_model, batch_size=settings.nli_batch_size)
    batch = settings.micro_batching and not _shares_runners(nli)
    if clock is not None:
        nli = TimedNLI(nli, clock)
    if batch:
        nli = BatchingNLI(nli, max_items=settings.batch_max_items, max_wait=settings.batch_wait_ms / 1000)
    if settings.nli_cache_entries:
        nli = CachedNLI(nli, max_entries=settings.nli_cache_entries)
    return nli


def build_embedder(settings: Settings, clock: ModelClock | None = None) -> Embedder:
    """The embedder on the configured backend, clocked when ``clock`` is given, under the batcher."""
    embedder = load_embedder(settings.embedder, settings.embedder_backend.value, settings.model_cache_dir)
    batch = settings.micro_batching and not _shares_runners(embedder)
    if clock is not None:
        embedder = TimedEmbedder(embedder, clock)
    if batch:
        wait = settings.batch_wait_ms / 1000
        embedder = BatchingEmbedder(embedder, max_items=settings.batch_max_items, max_wait=wait)
    return embedder


def build_detector(settings: Settings, clock: ModelClock | None = None) -> Detector:
    """Everything a server needs: models loaded, store opened, index loaded or rebuilt. ``clock``
    (for ``make bench``) records the time spent inside the models."""
    embedder = build_embedder(settings, clock)
    LOG.info("embedder: %s (%d dimensions)", embedder.name, embedder.dimension)
    judge = build_judge(settings, clock, embedder)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = ClaimStore(settings.data_dir / "claims.sqlite3", embedder.dimension)
    try:
        check_vector_space(store, embedder)
    except BaseException:
        store.close()
        raise
    snapshot_dir = settings.data_dir / "index"
    index = open_index(store, snapshot_dir, settings.index_kind, embedder.dimension, embedder.name)
    LOG.info("index: %s with %d vectors", index.kind, len(index))
    return Detector(
        embedder=embedder,
        store=store,
        index=index,
        judge=judge,
        limits=limits(settings),
        top_k=settings.top_k,
        min_similarity=settings.min_similarity,
        snapshot_dir=snapshot_dir,
        lexical_k=settings.lexical_k,
        judge_all_candidates=settings.judge_all_candidates,
        lexical_min_similarity=settings.lexical_min_similarity,
        retrieval=RetrievalSettings.from_settings(settings),
    )


def _shares_runners(model: object) -> bool:
    """Backends that run each item alone on one pool shared by all callers (the ONNX ones) interleave
    concurrent calls by themselves; a micro-batcher in front would only make them take turns."""
    return bool(getattr(model, "shared_runners", False))


def limits(settings: Settings) -> Limits:
    return Limits(
        max_text_chars=settings.max_text_chars,
        max_claim_chars=settings.max_claim_chars,
        max_documents=settings.max_documents_per_request,
        max_claims=settings.max_claims_per_request,
    )
