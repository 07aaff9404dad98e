"""Time spent inside the models: wrappers that clock every embedder and NLI call.

``make bench`` divides this by wall time to say how much of a request is spent outside the models
(gRPC, validation, search, storage, Python glue). The wrappers sit directly on the models, under any
batching or caching, so waiting for a batch or a cache hit is not counted as model time.

``busy`` is the union of the intervals in which at least one model was running: when the embedder
and the NLI model run at once on different threads, that time is counted once.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from contra.service.embedder import Embedder
from contra.service.nli import NLIModel


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
        self._active = 0
        self._since = 0.0
        self._busy = 0.0
        self._seconds = {"embed": 0.0, "nli": 0.0}
        self._calls = {"embed": 0, "nli": 0}
        self._items = {"embed": 0, "nli": 0}

    @contextlib.contextmanager
    def measure(self, model: str, items: int) -> Iterator[None]:
        """Clock the body as one call of ``model`` (``embed`` or ``nli``) on ``items`` inputs."""
        started = self._enter()
        try:
            yield
        finally:
            self._leave(model, started, items)

    def _enter(self) -> float:
        now = time.perf_counter()
        with self._lock:
            if self._active == 0:
                self._since = now
            self._active += 1
        return now

    def _leave(self, model: str, started: float, items: int) -> None:
        now = time.perf_counter()
        with self._lock:
            self._active -= 1
            if self._active == 0:
                self._busy += now - self._since
            self._seconds[model] += now - started
            self._calls[model] += 1
            self._items[model] += items

    def reading(self) -> ClockReading:
        now = time.perf_counter()
        with self._lock:
            busy = self._busy + (now - self._since if self._active else 0.0)
            return ClockReading(
                busy=busy,
                embed_seconds=self._seconds["embed"],
                embed_calls=self._calls["embed"],
                embed_items=self._items["embed"],
                nli_seconds=self._seconds["nli"],
                nli_calls=self._calls["nli"],
                nli_items=self._items["nli"],
            )


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
