"""Exceptions raised by contra's domain code.

The gRPC layer maps each class to one status code in ``handlers.py``; the CLI maps them to one
printed line and an exit code. Nothing else inspects them.

    ContraError
    ├── InvalidInput        -> INVALID_ARGUMENT   (empty or oversized text, bad date, missing field)
    ├── NotFound            -> NOT_FOUND          (unknown source)
    ├── NotReady            -> UNAVAILABLE        (models or index still loading)
    ├── Overloaded          -> RESOURCE_EXHAUSTED (queue full)
    ├── ModelLoadError      -> FAILED_PRECONDITION at start-up (a model path that cannot be loaded)
    └── StoreError          -> INTERNAL           (the store failed; nothing was acknowledged)
"""

from __future__ import annotations


class ContraError(Exception):
    """Base of every error contra raises on purpose."""


class InvalidInput(ContraError):
    """The caller sent something contra cannot accept. The message names the field."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class NotFound(ContraError):
    """The caller named something that is not stored."""


class NotReady(ContraError):
    """The service is still loading its models or index."""


class Overloaded(ContraError):
    """Too much work is queued; the caller should retry later."""


class ModelLoadError(ContraError):
    """A configured model could not be loaded."""


class StoreError(ContraError):
    """The claim store failed; the operation was rolled back."""
