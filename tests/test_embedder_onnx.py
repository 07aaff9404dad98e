"""The int8 ONNX embedder: agreement with the fp32 torch model on the project's own text, the cache.

The export lives in the configured model cache (``CONTRA_MODEL_CACHE_DIR``, default ``var/cache``),
so it is made once per checkout (about 20 s) and reused by later runs; the slow test exports afresh.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from contra.errors import ModelLoadError
from contra.service.config import Settings
from contra.service.models.embedder import SentenceTransformerEmbedder, cosine_agreement, packaged_model_path
from contra.service.models.embedder_onnx import INFO_FILE, MIN_AGREEMENT, OnnxEmbedder, cached_export
from contra.service.models.loading import load_embedder

DATA = Path(__file__).resolve().parent / "data"


def _project_sentences(limit: int = 300) -> list[str]:
    texts: list[str] = []
    with (DATA / "pairs.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            texts.extend((row["a"], row["b"]))
    return texts[:limit]


@pytest.fixture(scope="module")
def onnx_embedder() -> OnnxEmbedder:
    directory = cached_export(packaged_model_path(), Settings().model_cache_dir)
    return OnnxEmbedder(directory, name="test")


def test_int8_vectors_agree_with_fp32_on_project_text(onnx_embedder: OnnxEmbedder) -> None:
    texts = _project_sentences()
    reference = SentenceTransformerEmbedder().embed(texts)
    vectors = onnx_embedder.embed(texts)
    assert vectors.shape == reference.shape and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    mean, worst = cosine_agreement(vectors, reference)
    assert mean >= MIN_AGREEMENT, f"mean cosine {mean:.4f}"
    assert worst >= 0.95, f"worst cosine {worst:.4f}"
    # The nearest neighbours, which is what the index uses the vectors for, mostly stay the same.
    top_ref = np.argsort(-(reference[:50] @ reference.T), axis=1)[:, 1:6]
    top_int8 = np.argsort(-(vectors[:50] @ vectors.T), axis=1)[:, 1:6]
    overlap = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(top_ref, top_int8, strict=True)])
    assert overlap >= 0.8, f"top-5 neighbour overlap {overlap:.2f}"


def test_a_text_embeds_the_same_alone_and_in_any_batch(onnx_embedder: OnnxEmbedder) -> None:
    """Dynamic int8 quantizes activations per input tensor, so each text runs alone: a lone Check and
    the same text among others in an Ingest call get the same vector, and both agree with fp32."""
    texts = _project_sentences(60)
    reference = SentenceTransformerEmbedder().embed(texts)
    together = onnx_embedder.embed(texts)
    alone = np.vstack([onnx_embedder.embed([t]) for t in texts])
    shuffled = onnx_embedder.embed([*texts[::-1], "Rain.", texts[0] * 3])[: len(texts)][::-1]
    assert cosine_agreement(alone, reference)[0] >= MIN_AGREEMENT
    assert np.abs(alone - together).max() <= 1e-5
    assert np.abs(shuffled - together).max() <= 1e-5
    assert onnx_embedder.embed([]).shape == (0, onnx_embedder.dimension)


def test_concurrent_calls_share_the_runners_and_get_their_own_rows(onnx_embedder: OnnxEmbedder) -> None:
    """The server embeds several requests at once on the one runner pool; a row handed to the wrong
    caller, or lost, would show here."""
    from concurrent.futures import ThreadPoolExecutor

    texts = _project_sentences(48)
    slices = [texts[i : i + 5 + i % 4] for i in range(0, 40, 3)]
    expected = [onnx_embedder.embed(part) for part in slices]
    with ThreadPoolExecutor(max_workers=8) as callers:
        got = list(callers.map(onnx_embedder.embed, slices * 3))
    for index, vectors in enumerate(got):
        assert np.abs(vectors - expected[index % len(slices)]).max() <= 1e-5


def test_load_embedder_picks_the_backend_and_names_it(onnx_embedder: OnnxEmbedder) -> None:
    embedder = load_embedder("", "onnx", Settings().model_cache_dir)
    assert isinstance(embedder, OnnxEmbedder)
    assert embedder.name.endswith("onnx-int8") and embedder.dimension == 384
    with pytest.raises(ValueError, match="unknown embedder backend"):
        load_embedder("", "tensorflow", Settings().model_cache_dir)
    with pytest.raises(ModelLoadError, match="local sentence-transformers directory"):
        load_embedder("no/such/model", "onnx", Settings().model_cache_dir)


@pytest.mark.slow
def test_a_missing_export_is_rebuilt_and_records_its_agreement(tmp_path: Path) -> None:
    first = cached_export(packaged_model_path(), tmp_path)
    info = json.loads((first / INFO_FILE).read_text())
    assert info["mean_cosine"] >= MIN_AGREEMENT
    assert cached_export(packaged_model_path(), tmp_path) == first
    (first / INFO_FILE).unlink()
    for path in first.iterdir():
        path.unlink()
    first.rmdir()
    again = cached_export(packaged_model_path(), tmp_path)
    assert again == first and (again / "model.onnx").is_file()
