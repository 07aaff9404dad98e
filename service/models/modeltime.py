"""Time spent inside the models: wrappers that clock every embedder and NLI call.

``make bench`` divides this by wall time to say how much of a request is spent outside the models
(gRPC, validation, search, storage, Python glue). The wrappers sit directly on the models, under any
batching or caching, so waiting for a batch or a cache hit is not counted as model time.

Seconds are unions of intervals, not sums of calls: ``busy`` is the time in which at least one model
was running (the embedder and the NLI model at once on different threads count once), and each
model's seconds the time in which at least one call of it was running, since the ONNX backends take
concurrent calls side by side on one pool of runners.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from contra.service.models.embedder import Embedder
from contra.service.models.nli import NLIModel


@dataclass(frozen=True, slots=True)
class ClockReading:
    """Totals since the clock was made: seconds and items per model, and their union."""

    busy: float
    embed_seconds: float
    embed_calls: int
    embed_items: int
    nli_seconds: float
    nli_calls: int
    nli_items: int

    def minus(self, earlier: ClockReading) -> ClockReading:
        return ClockReading(
            busy=self.busy - earlier.busy,
            embed_seconds=self.embed_seconds - earlier.embed_seconds,
            embed_calls=self.embed_calls - earlier.embed_calls,
            embed_items=self.embed_items - earlier.embed_items,
            nli_seconds=self.nli_seconds - earlier.nli_seconds,
            nli_calls=self.nli_calls - earlier.nli_calls,
            nli_items=self.nli_items - earlier.nli_items,
        )


class ModelClock:
    """Thread-safe totals of model time; one per server."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._busy = _Union()
        self._per_model = {"embed": _Union(), "nli": _Union()}
        self._calls = {"embed": 0, "nli": 0}
        self._items = {"embed": 0, "nli": 0}

    @contextlib.contextmanager
    def measure(self, model: str, items: int) -> Iterator[None]:
        """Clock the body as one call of ``model`` (``embed`` or ``nli``) on ``items`` inputs."""
        with self._lock:
            now = time.perf_counter()
            self._busy.enter(now)
            self._per_model[model].enter(now)
        try:
            yield
        finally:
            with self._lock:
                now = time.perf_counter()
                self._busy.leave(now)
                self._per_model[model].leave(now)
                self._calls[model] += 1
                self._items[model] += items

    def reading(self) -> ClockReading:
        with self._lock:
            now = time.perf_counter()
            return ClockReading(
                busy=self._busy.total(now),
                embed_seconds=self._per_model["embed"].total(now),
                embed_calls=self._calls["embed"],
                embed_items=self._items["embed"],
                nli_seconds=self._per_model["nli"].total(now),
                nli_calls=self._calls["nli"],
                nli_items=self._items["nli"],
            )


class _Union:
    """Length of the union of possibly overlapping intervals, fed as enters and leaves (under a lock)."""

    def __init__(self) -> None:
        self.active = 0
        self.since = 0.0
        self.closed = 0.0

    def enter(self, now: float) -> None:
        if self.active == 0:
            self.since = now
        self.active += 1

    def leave(self, now: float) -> None:
        self.active -= 1
        if self.active == 0:
            self.closed += now - self.since

    def total(self, now: float) -> float:
        return self.closed + (now - self.since if self.active else 0.0)


class TimedEmbedder:
    def __init__(self, inner: Embedder, clock: ModelClock) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self.clock = clock

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        with self.clock.measure("embed", len(texts)):
            return self.inner.embed(texts)


class TimedNLI:
    def __init__(self, inner: NLIModel, clock: ModelClock) -> None:
        self.inner = inner
        self.name = inner.name
        self.clock = clock

    def predict(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        with self.clock.measure("nli", len(pairs)):
            return self.inner.predict(pairs)
