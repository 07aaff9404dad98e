"""A store's vectors are only searched with an embedder of the same vector space.

The packaged model on both backends is the real case that must pass; "another model" is the packaged
model with its coordinates permuted: same dimension and norms, an unrelated space, as a different
384-dimensional model would be.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from contra.domain import ClaimText, DocumentIn, Source
from contra.errors import StoreError
from contra.index import ClaimStore
from contra.service.config import Settings
from contra.service.models.embedder import Embedder
from contra.service.models.loading import load_embedder
from contra.service.models.vector_space import PROBES, check_vector_space


class Permuted:
    """The wrapped embedder's vectors with their coordinates shuffled: another space, same shape."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = f"{inner.name} (permuted)"
        self.dimension = inner.dimension
        self.order = np.random.default_rng(0).permutation(inner.dimension)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed(texts)[:, self.order]


class Nudged:
    """The wrapped embedder's vectors moved a little: a neighbouring space, like a model fine-tuned for an
    epoch (mean probe cosine about 0.97 with its base), which must be refused as well."""

    def __init__(self, inner: Embedder, scale: float) -> None:
        self.inner = inner
        self.name = f"{inner.name} (fine-tuned)"
        self.dimension = inner.dimension
        self.scale = scale

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self.inner.embed(texts)
        noise = np.random.default_rng(1).normal(size=vectors.shape) * self.scale
        return vectors + noise * np.linalg.norm(vectors, axis=1, keepdims=True) / np.sqrt(vectors.shape[1])


@pytest.fixture(scope="module")
def onnx_embedder() -> Embedder:
    return load_embedder("", "onnx", Settings().model_cache_dir)


def _store_with_a_claim(path: Path, embedder: Embedder) -> ClaimStore:
    store = ClaimStore(path, embedder.dimension)
    text = "The bridge reopened to traffic on Monday after repairs."
    doc = DocumentIn(Source("wire"), text, published=dt.date(2026, 3, 2))
    store.add_documents([doc], [[ClaimText(text, 0, len(text))]], [embedder.embed([text])])
    return store


def test_the_first_use_records_the_space_and_the_same_model_passes(tmp_path: Path, onnx_embedder: Embedder) -> None:
    store = ClaimStore(tmp_path / "claims.sqlite3", onnx_embedder.dimension)
    assert store.vector_reference() is None
    check_vector_space(store, onnx_embedder)
    recorded = store.vector_reference()
    assert recorded is not None and recorded[0] == onnx_embedder.name
    assert recorded[1].shape == (len(PROBES), onnx_embedder.dimension)
    check_vector_space(store, onnx_embedder)  # the same embedder again
    torch_embedder = load_embedder("", "torch", Settings().model_cache_dir)
    check_vector_space(store, torch_embedder)  # the same model in fp32 torch
    store.close()


def test_another_space_is_refused_and_the_store_is_left_as_it_was(tmp_path: Path, onnx_embedder: Embedder) -> None:
    path = tmp_path / "claims.sqlite3"
    store = _store_with_a_claim(path, onnx_embedder)
    check_vector_space(store, onnx_embedder)
    before = store.counts(), store.vector_reference()
    with pytest.raises(StoreError, match=r"another space \(mean cosine -?0\.\d\d\d") as refused:
        check_vector_space(store, Permuted(onnx_embedder))
    assert "CONTRA_EMBEDDER" in str(refused.value) and onnx_embedder.name in str(refused.value)
    after = store.counts(), store.vector_reference()
    assert before[0] == after[0] and before[1] is not None and after[1] is not None
    np.testing.assert_array_equal(before[1][1], after[1][1])
    store.close()


def test_a_nearby_space_is_refused_too(tmp_path: Path, onnx_embedder: Embedder) -> None:
    store = _store_with_a_claim(tmp_path / "claims.sqlite3", onnx_embedder)
    check_vector_space(store, onnx_embedder)
    nudged = Nudged(onnx_embedder, 0.25)
    mean = float(np.mean(np.sum(_unit(onnx_embedder.embed(PROBES)) * _unit(nudged.embed(PROBES)), axis=1)))
    assert 0.95 < mean < 0.98  # as close as a one-epoch fine-tune of the same model
    with pytest.raises(StoreError, match="fine-tuned or other model"):
        check_vector_space(store, nudged)
    store.close()


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_a_store_from_before_the_probes_adopts_the_current_space(tmp_path: Path, onnx_embedder: Embedder) -> None:
    path = tmp_path / "claims.sqlite3"
    _store_with_a_claim(path, onnx_embedder).close()
    store = ClaimStore(path, onnx_embedder.dimension)
    check_vector_space(store, onnx_embedder)
    assert store.vector_reference() is not None
    with pytest.raises(StoreError):
        check_vector_space(store, Permuted(onnx_embedder))
    store.close()


def test_reference_vectors_must_fit_the_store(tmp_path: Path) -> None:
    store = ClaimStore(tmp_path / "claims.sqlite3", 8)
    with pytest.raises(ValueError, match=r"\(n, 8\)"):
        store.set_vector_reference("x", np.zeros((3, 9), dtype=np.float32))
    store.set_vector_reference("x", np.ones((3, 8), dtype=np.float64))
    name, vectors = store.vector_reference() or ("", np.zeros(0))
    assert name == "x" and vectors.dtype == np.float32 and vectors.shape == (3, 8)
    store.close()
