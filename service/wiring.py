"""The one place where contra's parts are built from settings and put together."""

from __future__ import annotations

import logging

from contra.index import ClaimStore, open_index
from contra.service.config import Settings
from contra.service.detector import Detector
from contra.service.embedder import SentenceTransformerEmbedder
from contra.service.judge import Judge
from contra.service.nli import load_nli
from contra.service.numbers import compare_figures
from contra.service.validate import Limits

LOG = logging.getLogger(__name__)


def build_judge(settings: Settings) -> Judge:
    """The judge alone (NLI model + figures check): all that `contra judge` needs."""
    nli = load_nli(settings.nli_model, batch_size=settings.nli_batch_size)
    LOG.info("NLI model: %s", nli.name)
    return Judge(nli, compare_figures, threshold=settings.conflict_threshold)


def build_detector(settings: Settings) -> Detector:
    """Everything a server needs: models loaded, store opened, index loaded or rebuilt."""
    embedder = SentenceTransformerEmbedder(settings.embedder)
    LOG.info("embedder: %s (%d dimensions)", embedder.name, embedder.dimension)
    judge = build_judge(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = ClaimStore(settings.data_dir / "claims.sqlite3", embedder.dimension)
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
    )


def limits(settings: Settings) -> Limits:
    return Limits(
        max_text_chars=settings.max_text_chars,
        max_claim_chars=settings.max_claim_chars,
        max_documents=settings.max_documents_per_request,
        max_claims=settings.max_claims_per_request,
    )
