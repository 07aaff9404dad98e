"""Picks an embedder backend by name: the one place that knows both, so that the torch embedder
(``embedder.py``) and the int8 ONNX one (``embedder_onnx.py``, which builds on it) import one way."""

from __future__ import annotations

import os
from pathlib import Path

from contra.errors import ModelLoadError
from contra.service.models.embedder import PACKAGED, Embedder, SentenceTransformerEmbedder, packaged_model_path
from contra.service.models.embedder_onnx import OnnxEmbedder, cached_export


def load_embedder(spec: str, backend: str, cache_dir: Path, *, batch_size: int = 64) -> Embedder:
    """The embedder for ``spec`` on ``backend``: ``torch`` (fp32, the reference) or ``onnx`` (int8,
    exported into ``cache_dir`` the first time and loaded from there afterwards)."""
    if backend == "torch":
        return SentenceTransformerEmbedder(spec, batch_size=batch_size)
    if backend != "onnx":
        raise ValueError(f"unknown embedder backend {backend!r}; use 'torch' or 'onnx'")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    source = Path(spec).expanduser() if spec else packaged_model_path()
    if not source.is_dir():
        raise ModelLoadError(
            f"embedder {spec!r}: the onnx backend exports from a local sentence-transformers directory; "
            "give its path, or use CONTRA_EMBEDDER_BACKEND=torch"
        )
    directory = cached_export(source, cache_dir)
    name = f"{spec or PACKAGED} onnx-int8"
    return OnnxEmbedder(directory, name=name, batch_size=batch_size)
