"""contra: a cross-source contradiction detector served over gRPC.

The code lives in two folders mapped onto this package by pyproject.toml: ``service/`` is
``contra.service`` (server, handlers, pipeline, CLI) and ``index/`` is ``contra.index`` (claim
store and vector index). ``contra.v1`` is generated from ``proto/contra/v1/contra.proto``.
"""

from __future__ import annotations

__version__ = "0.1.0"
