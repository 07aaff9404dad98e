"""Dynamic micro-batching: model calls from concurrent requests run as one batch.

The server runs each request on a worker thread, and each request calls the embedder or the NLI
model with a handful of items. Run side by side, those small calls fight over the same cores (each
onnxruntime session spreads itself over all of them) and pay per-call overhead each time. Run as one
batch, the model does the same work once, on length-sorted inputs, with every core.

A caller queues its items; the first caller to find the model idle becomes the leader, takes the
queued jobs (first come first served, up to ``max_items``) and runs them as one call, while later
callers queue behind it and are served by the next leader. There is no background thread, so there
is nothing to start or stop. Batches form by themselves while the model is busy; the leader also
waits up to ``max_wait`` seconds for more work, but only when the previous batch held more than one
request, so a lone client never pays the wait.

The wrappers implement the ``Embedder`` and ``NLIModel`` interfaces, so the detector cannot tell.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from contra.domain import LABEL_ORDER
from contra.service.models.embedder import Embedder
from contra.service.models.nli import NLIModel

I = TypeVar("I")  # noqa: E741 - the item type, as in the typing docs


@dataclass(slots=True)
class _Job(Generic[I]):
    items: list[I]
    result: np.ndarray | None = None
    error: BaseException | None = None
    done: bool = False


@dataclass(slots=True)
class BatchStats:
    """Counters for the bench and the logs: how much batching happened."""

    batches: int = 0
    jobs: int = 0
    items: int = 0
    largest: int = 0

    def add(self, jobs: int, items: int) -> None:
        self.batches += 1
        self.jobs += jobs
        self.items += items
        self.largest = max(self.largest, items)


class MicroBatcher(Generic[I]):
    """Runs ``run(items) -> rows`` once for the items of every caller that arrives while it is busy.

    ``run`` must return one row per item, in order (an array of shape ``(len(items), ...)``).
    """

    def __init__(self, run: Callable[[list[I]], np.ndarray], *, max_items: int = 256, max_wait: float = 0.002) -> None:
        if max_items < 1 or max_wait < 0:
            raise ValueError(f"max_items must be >= 1 and max_wait >= 0, got {max_items} and {max_wait}")
        self._run = run
        self._max_items = max_items
        self._max_wait = max_wait
        self._cond = threading.Condition()
        self._queue: deque[_Job[I]] = deque()
        self._queued_items = 0
        self._busy = False
        self._last_jobs = 1
        self.stats = BatchStats()

    def __call__(self, items: Sequence[I]) -> np.ndarray:
        job: _Job[I] = _Job(list(items))
        with self._cond:
            self._queue.append(job)
            self._queued_items += len(job.items)
            self._cond.notify_all()
        while True:
            with self._cond:
                while self._busy and not job.done:
                    self._cond.wait()
                if job.done:
                    break
                self._busy = True
                batch = self._gather()
            try:
                self._execute(batch)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
        if job.error is not None:
            raise job.error
        assert job.result is not None
        return job.result

    def _gather(self) -> list[_Job[I]]:
        """Take queued jobs for one batch (the lock is held; waiting releases it)."""
        if self._last_jobs > 1 and self._max_wait > 0:
            deadline = time.monotonic() + self._max_wait
            while self._queued_items < self._max_items:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
        batch = [self._queue.popleft()]
        size = len(batch[0].items)
        while self._queue and size + len(self._queue[0].items) <= self._max_items:
            job = self._queue.popleft()
            batch.append(job)
            size += len(job.items)
        self._queued_items -= size
        self._last_jobs = len(batch)
        return batch

    def _execute(self, batch: list[_Job[I]]) -> None:
        flat = [item for job in batch for item in job.items]
        try:
            rows = self._run(flat)
            if len(rows) != len(flat):
                raise RuntimeError(f"batched model returned {len(rows)} rows for {len(flat)} items")
        except BaseException as exc:  # handed to every waiting caller, each of which re-raises it
            for job in batch:
                job.error = exc
                job.done = True
            return
        offset = 0
        for job in batch:
            job.result = rows[offset : offset + len(job.items)]
            job.done = True
            offset += len(job.items)
        self.stats.add(len(batch), len(flat))


class BatchingEmbedder:
    """An ``Embedder`` whose calls from concurrent requests are embedded together."""

    def __init__(self, inner: Embedder, *, max_items: int = 256, max_wait: float = 0.002) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self.batcher: MicroBatcher[str] = MicroBatcher(self._embed, max_items=max_items, max_wait=max_wait)

    def _embed(self, texts: list[str]) -> np.ndarray:
        return self.inner.embed(texts)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self.batcher(texts)


class BatchingNLI:
    """An ``NLIModel`` whose calls from concurrent requests are scored together (duplicates once)."""

    def __init__(self, inner: NLIModel, *, max_items: int = 256, max_wait: float = 0.002) -> None:
        self.inner = inner
        self.name = inner.name
        self.batcher: MicroBatcher[tuple[str, str]] = MicroBatcher(
            self._predict, max_items=max_items, max_wait=max_wait
        )

    def _predict(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        unique = list(dict.fromkeys(pairs))
        if len(unique) == len(pairs):
            return self.inner.predict(pairs)
        probs = self.inner.predict(unique)
        row = {pair: i for i, pair in enumerate(unique)}
        return probs[[row[pair] for pair in pairs]]

    def predict(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        if not pairs:
            return np.empty((0, len(LABEL_ORDER)), dtype=np.float32)
        # Checked here, not in the batch, so that one caller's bad pair cannot fail the others' calls.
        for i, pair in enumerate(pairs):
            if len(pair) != 2 or not isinstance(pair[0], str) or not isinstance(pair[1], str):
                raise TypeError(f"pairs[{i}] must be a (premise, hypothesis) tuple of two str, got {pair!r}")
        return self.batcher(pairs)
