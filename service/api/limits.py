"""Admission control: a bounded queue in front of the model workers, deadlines, and stream slots.

Model work (embedding, NLI) is CPU-bound and slow, so the server must never accept more of it than
it can finish: an unbounded queue turns a burst into minutes of latency and gigabytes of queued
requests. Unary calls that find ``max_waiting`` other unary calls already queued are refused at
once with RESOURCE_EXHAUSTED (cheap for the server, a clear signal to back off for the caller).
Stream messages wait instead: a stream is flow controlled, so a waiting stream simply stops reading
and gRPC's window holds the sender back. They are bounded separately (``StreamSlots`` caps the
streams, the stream window their messages in flight) and not counted against unary callers, so
busy streams cannot lock unary callers out; both share the workers in arrival order.

A slot is held until the worker thread has really finished, not just until the caller gave up: a
cancelled call cannot stop a running forward pass, and releasing early would let more threads run
than there are workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import ParamSpec, Protocol, TypeVar

from contra.errors import ContraError, Overloaded

P = ParamSpec("P")
T = TypeVar("T")


class DeadlineExceeded(ContraError):
    """The caller's deadline passed before the work could start; maps to DEADLINE_EXCEEDED."""


class HasTimeRemaining(Protocol):
    """The part of a gRPC servicer context that deadlines need."""

    def time_remaining(self) -> float | None: ...


@dataclass(frozen=True, slots=True)
class Deadline:
    """A call's deadline as a monotonic time; ``None`` means the caller set none."""

    at: float | None = None

    @classmethod
    def of(cls, context: HasTimeRemaining) -> Deadline:
        remaining = context.time_remaining()
        return cls(None if remaining is None else time.monotonic() + remaining)

    def remaining(self) -> float | None:
        return None if self.at is None else self.at - time.monotonic()

    def check(self, stage: str) -> None:
        """Raise ``DeadlineExceeded`` when there is no time left for ``stage``."""
        left = self.remaining()
        if left is not None and left <= 0:
            raise DeadlineExceeded(f"the deadline passed {stage}; nothing was done")


@dataclass(frozen=True, slots=True)
class StreamLimits:
    """Per-stream bounds (from Settings)."""

    max_messages: int = 100_000
    window: int = 8


class WorkQueue:
    """A fixed pool of worker threads with at most ``max_waiting`` unary callers queued for it."""

    def __init__(
        self,
        workers: int,
        max_waiting: int,
        on_done: Callable[[str, float], None] | None = None,
    ) -> None:
        self._workers = workers
        self._max_waiting = max_waiting
        self._on_done = on_done
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="contra-work")
        self._free = asyncio.Semaphore(workers)
        self._waiting = 0
        self._waiting_unary = 0
        self._running = 0

    @property
    def waiting(self) -> int:
        """Callers queued for a worker right now (unary calls and stream messages)."""
        return self._waiting

    @property
    def running(self) -> int:
        """Worker threads busy right now (including work whose caller has gone)."""
        return self._running

    @property
    def executor(self) -> ThreadPoolExecutor:
        """The pool itself, for start-up work that must not be counted against callers."""
        return self._executor

    async def run(
        self,
        name: str,
        deadline: Deadline,
        fn: Callable[P, T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run ``fn`` on a worker; refuse at once when the queue is full (for unary calls)."""
        if self._free.locked() and self._waiting_unary >= self._max_waiting:
            raise Overloaded(
                f"{self._waiting_unary} calls are already waiting for {self._workers} model workers; retry with backoff"
            )
        return await self._run(name, deadline, True, fn, *args, **kwargs)

    async def run_waiting(
        self,
        name: str,
        deadline: Deadline,
        fn: Callable[P, T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run ``fn`` on a worker, waiting as long as it takes (for flow-controlled streams)."""
        return await self._run(name, deadline, False, fn, *args, **kwargs)

    async def _run(
        self, name: str, deadline: Deadline, unary: bool, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        deadline.check("while the call was queued")
        self._waiting += 1
        self._waiting_unary += unary
        try:
            await self._free.acquire()
        finally:
            self._waiting -= 1
            self._waiting_unary -= unary
        try:
            deadline.check("while the call was queued")
        except DeadlineExceeded:
            self._free.release()
            raise
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()  # keeps the request id on log lines written by the worker
        self._running += 1
        job: Future[T] = self._executor.submit(context.run, self._timed, name, fn, *args, **kwargs)  # type: ignore[arg-type]
        job.add_done_callback(lambda _: loop.call_soon_threadsafe(self._release))
        return await asyncio.wrap_future(job)

    def _timed(self, name: str, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            if self._on_done is not None:
                self._on_done(name, time.perf_counter() - started)

    def _release(self) -> None:
        self._running -= 1
        self._free.release()

    def shutdown(self) -> None:
        """Wait for running work to finish; queued work that never started is dropped."""
        self._executor.shutdown(wait=True, cancel_futures=True)


class StreamSlots:
    """Caps the number of open streaming calls, each of which may hold a window of messages."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._open = 0

    @property
    def open(self) -> int:
        return self._open

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        if self._open >= self._limit:
            raise Overloaded(f"{self._open} streams are already open (limit {self._limit}); retry with backoff")
        self._open += 1
        try:
            yield
        finally:
            self._open -= 1
