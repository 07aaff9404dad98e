"""Micro-batching across threads, the NLI pair cache and the model clock.

The batcher and cache tests use recording functions in place of models (what is tested is who gets
which rows and how often the model is called); the last tests run the shipped NLI model through the
wrappers and compare with calling it directly.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from contra.service.models.batching import BatchingNLI, MicroBatcher
from contra.service.models.modeltime import ModelClock, TimedNLI
from contra.service.models.nli import OnnxNLI
from contra.service.models.nli_cache import CachedNLI

SHIPPED = Path(__file__).resolve().parent.parent / "models" / "contra-nli-minilm-l6"


class Recorder:
    """A model stand-in: row i of a call is [value(item), len(call)], after ``delay`` seconds."""

    def __init__(self, delay: float = 0.02) -> None:
        self.delay = delay
        self.calls: list[list[str]] = []
        self.lock = threading.Lock()

    def __call__(self, items: Sequence[str]) -> np.ndarray:
        with self.lock:
            self.calls.append(list(items))
        time.sleep(self.delay)
        return np.array([[float(len(item)), float(len(items))] for item in items], dtype=np.float32)


class PairRecorder:
    """An NLIModel stand-in that counts the pairs it scores."""

    name = "recorder"

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.pairs: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def predict(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        with self.lock:
            self.pairs.extend(pairs)
        time.sleep(self.delay)
        return np.array([[len(a), len(b), 1.0] for a, b in pairs], dtype=np.float32)


def _run_concurrently(batcher: MicroBatcher[str], jobs: list[list[str]]) -> list[np.ndarray]:
    start = threading.Barrier(len(jobs))

    def one(items: list[str]) -> np.ndarray:
        start.wait()
        return batcher(items)

    with ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(one, jobs))


def test_concurrent_callers_share_batches_and_get_their_own_rows() -> None:
    model = Recorder()
    batcher: MicroBatcher[str] = MicroBatcher(model, max_items=64, max_wait=0.01)
    jobs = [["x" * (i + 1)] * (i % 3 + 1) for i in range(12)]
    results = _run_concurrently(batcher, jobs)
    for items, rows in zip(jobs, results, strict=True):
        assert rows.shape == (len(items), 2)
        assert rows[:, 0].tolist() == [float(len(item)) for item in items]
    assert sum(len(call) for call in model.calls) == sum(len(job) for job in jobs)
    assert len(model.calls) < len(jobs), "12 concurrent callers should not need 12 model calls"
    assert batcher.stats.jobs == len(jobs)


def test_batches_respect_max_items_but_never_split_a_caller() -> None:
    model = Recorder()
    batcher: MicroBatcher[str] = MicroBatcher(model, max_items=5, max_wait=0.005)
    jobs = [["a", "b", "c"] for _ in range(6)] + [["z"] * 9]
    results = _run_concurrently(batcher, jobs)
    assert [len(r) for r in results] == [len(job) for job in jobs]
    assert all(len(call) <= 5 or len(call) == 9 for call in model.calls)
    assert any(len(call) == 9 for call in model.calls)


def test_a_lone_caller_does_not_wait_for_company() -> None:
    model = Recorder(delay=0.0)
    batcher: MicroBatcher[str] = MicroBatcher(model, max_items=64, max_wait=0.5)
    started = time.perf_counter()
    for _ in range(5):
        batcher(["one"])
    assert time.perf_counter() - started < 0.5


def test_a_failing_batch_fails_every_caller_in_it_and_the_batcher_recovers() -> None:
    def broken(items: Sequence[str]) -> np.ndarray:
        time.sleep(0.02)
        raise RuntimeError("model exploded")

    batcher: MicroBatcher[str] = MicroBatcher(broken, max_items=64, max_wait=0.01)
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(batcher, ["x"]) for _ in range(4)]
        for future in futures:
            with pytest.raises(RuntimeError, match="model exploded"):
                future.result()
    batcher._run = Recorder(delay=0.0)
    assert batcher(["ok"]).shape == (1, 2)


def test_batching_nli_scores_duplicate_pairs_once() -> None:
    inner = PairRecorder()
    nli = BatchingNLI(inner, max_items=64, max_wait=0.0)
    pairs = [("a", "bb"), ("a", "bb"), ("ccc", "d")]
    probs = nli.predict(pairs)
    assert probs[:, :2].tolist() == [[1, 2], [1, 2], [3, 1]]
    assert inner.pairs == [("a", "bb"), ("ccc", "d")]
    with pytest.raises(TypeError, match=r"pairs\[0\]"):
        nli.predict([("only one",)])  # type: ignore[list-item]


def test_cache_never_scores_a_pair_twice_and_keeps_direction() -> None:
    inner = PairRecorder()
    cache = CachedNLI(inner, max_entries=100)
    first = cache.predict([("a", "bb"), ("bb", "a"), ("a", "bb")])
    second = cache.predict([("bb", "a"), ("ccc", "d")])
    assert inner.pairs == [("a", "bb"), ("bb", "a"), ("ccc", "d")]
    assert first[:, :2].tolist() == [[1, 2], [2, 1], [1, 2]]
    assert second[:, :2].tolist() == [[2, 1], [3, 1]]
    assert (cache.stats.hits, cache.stats.misses) == (2, 3)


def test_cache_evicts_the_least_recently_used_pair() -> None:
    inner = PairRecorder()
    cache = CachedNLI(inner, max_entries=2)
    cache.predict([("a", "1"), ("b", "2")])
    cache.predict([("a", "1")])  # a is now the most recent
    cache.predict([("c", "3")])  # evicts b
    assert len(cache) == 2
    cache.predict([("a", "1"), ("b", "2")])
    assert inner.pairs == [("a", "1"), ("b", "2"), ("c", "3"), ("b", "2")]


def test_concurrent_callers_of_one_pair_wait_for_a_single_scoring() -> None:
    inner = PairRecorder(delay=0.05)
    cache = CachedNLI(inner, max_entries=100)
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: cache.predict([("same", "pair")]), range(6)))
    assert inner.pairs == [("same", "pair")]
    assert all(r.tolist() == results[0].tolist() for r in results)


def test_a_failed_scoring_is_not_cached() -> None:
    class Flaky(PairRecorder):
        def predict(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
            if not self.pairs:
                self.pairs.extend(pairs)
                raise RuntimeError("transient")
            return super().predict(pairs)

    inner = Flaky()
    cache = CachedNLI(inner, max_entries=10)
    with pytest.raises(RuntimeError):
        cache.predict([("a", "b")])
    assert cache.predict([("a", "b")]).shape == (1, 3)
    assert len(cache) == 1


def test_clock_counts_overlapping_model_calls_once() -> None:
    clock = ModelClock()
    barrier = threading.Barrier(2)

    def busy(model: str) -> None:
        with clock.measure(model, 1):
            barrier.wait()
            time.sleep(0.1)

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(busy, ["embed", "nli"]))
    reading = clock.reading()
    assert reading.embed_seconds >= 0.1 and reading.nli_seconds >= 0.1
    assert 0.1 <= reading.busy < 0.18
    assert (reading.embed_calls, reading.nli_items) == (1, 1)


def test_clock_counts_overlapping_calls_of_one_model_once() -> None:
    """The ONNX backends run concurrent calls side by side, so a model's seconds are wall time, not a sum."""
    clock = ModelClock()
    barrier = threading.Barrier(2)

    def busy(_: int) -> None:
        with clock.measure("embed", 3):
            barrier.wait()
            time.sleep(0.1)

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(busy, range(2)))
    reading = clock.reading()
    assert 0.1 <= reading.embed_seconds < 0.18
    assert (reading.embed_calls, reading.embed_items, reading.nli_calls) == (2, 6, 0)


@pytest.mark.skipif(not (SHIPPED / "model.onnx").is_file(), reason="the shipped NLI model is not present")
def test_wrapped_shipped_model_agrees_with_the_model_called_directly() -> None:
    model = OnnxNLI(SHIPPED)
    pairs = [
        ("Consumer prices rose 3.2% in January.", "Annual inflation stood at 4.1% in January."),
        ("The minister resigned on Tuesday.", "The minister did not resign."),
        ("The team won the final.", "The team won the final 2-1 after extra time."),
        ("Rain.", "It is sunny and dry all over the country this week."),
    ]
    direct = np.vstack([model.predict([pair]) for pair in pairs])
    clock = ModelClock()
    wrapped = CachedNLI(BatchingNLI(TimedNLI(model, clock), max_items=64, max_wait=0.01), max_entries=100)
    one_by_one = np.vstack([wrapped.predict([pair]) for pair in reversed(pairs)])[::-1]
    np.testing.assert_allclose(one_by_one, direct, atol=1e-6)
    assert clock.reading().nli_items == len(pairs)
    fresh = BatchingNLI(model, max_items=64, max_wait=0.01)
    with ThreadPoolExecutor(4) as pool:
        together = np.vstack(list(pool.map(lambda pair: fresh.predict([pair]), pairs)))
    # Dynamic int8 quantizes activations per batch, so batch company moves probabilities a little
    # (up to 0.06 measured); a row handed to the wrong caller would move them by far more.
    np.testing.assert_allclose(together, direct, atol=0.1)
