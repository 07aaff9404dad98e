"""A bounded cache of NLI probabilities per (premise, hypothesis), so that no pair is scored twice.

News repeats itself: the same claim is checked by several callers, re-checked after an update, and
syndicated copies bring the same pairs back. The NLI model is deterministic, so a pair's probabilities
can be kept and reused. The cache is least-recently-used with a fixed number of entries.

A pair that another thread is scoring right now is not scored again: the second caller waits for the
first one's result instead.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from contra.domain import LABEL_ORDER
from contra.service.models.nli import NLIModel

Pair = tuple[str, str]


@dataclass(slots=True)
class CacheStats:
    hits: int = 0
    misses: int = 0
    #: Pairs that were being scored for another caller when asked for, and were waited for.
    joined: int = 0


class CachedNLI:
    """An ``NLIModel`` that remembers up to ``max_entries`` scored pairs."""

    def __init__(self, inner: NLIModel, *, max_entries: int = 100_000) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries}")
        self.inner = inner
        self.name = inner.name
        self.max_entries = max_entries
        self.stats = CacheStats()
        self._lock = threading.Lock()
        self._rows: OrderedDict[Pair, np.ndarray] = OrderedDict()
        self._pending: dict[Pair, Future[np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def predict(self, pairs: Sequence[Pair]) -> np.ndarray:
        result = np.empty((len(pairs), len(LABEL_ORDER)), dtype=np.float32)
        mine: dict[Pair, list[int]] = {}
        theirs: list[tuple[int, Future[np.ndarray]]] = []
        with self._lock:
            for i, pair in enumerate(pairs):
                row = self._rows.get(pair)
                if row is not None:
                    self._rows.move_to_end(pair)
                    result[i] = row
                    self.stats.hits += 1
                elif pair in mine:
                    mine[pair].append(i)
                    self.stats.hits += 1
                elif pair in self._pending:
                    theirs.append((i, self._pending[pair]))
                    self.stats.joined += 1
                else:
                    mine[pair] = [i]
                    self._pending[pair] = Future()
                    self.stats.misses += 1
        if mine:
            self._score(list(mine), mine, result)
        for i, future in theirs:
            result[i] = future.result()
        return result

    def _score(self, todo: list[Pair], where: dict[Pair, list[int]], result: np.ndarray) -> None:
        try:
            probs = self.inner.predict(todo)
        except BaseException as exc:
            with self._lock:
                for pair in todo:
                    self._pending.pop(pair).set_exception(exc)
            raise
        with self._lock:
            for pair, row in zip(todo, probs, strict=True):
                stored = row.copy()  # not a view: the batch array must not stay alive for one row
                self._rows[pair] = stored
                self._pending.pop(pair).set_result(stored)
            while len(self._rows) > self.max_entries:
                self._rows.popitem(last=False)
        for pair, row in zip(todo, probs, strict=True):
            result[where[pair]] = row
