"""Ordered, windowed processing of a request stream: the flow control behind the streaming RPCs.

A reader task pulls requests and starts work on each, but only while fewer than ``window`` are
unanswered; after that it stops reading, the request stream's HTTP/2 window fills and gRPC makes
the sender wait. Answers leave in request order. Reading runs beside answering, so a caller that
sends one request and waits for its answer before sending the next is served too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


async def ordered(source: AsyncIterable[T], work: Callable[[T], Awaitable[R]], window: int) -> AsyncIterator[R]:
    """``work(item)`` for every item of ``source``, at most ``window`` at once, yielded in order.

    The first failure (of reading or of one item's work) is raised at that item's place in the
    order; everything started after it is cancelled.
    """
    loop = asyncio.get_running_loop()
    free = asyncio.Semaphore(window)
    started: asyncio.Queue[asyncio.Future[R] | None] = asyncio.Queue()

    async def read() -> None:
        items = aiter(source)
        try:
            while True:
                await free.acquire()
                try:
                    item = await anext(items)
                except StopAsyncIteration:
                    break
                started.put_nowait(asyncio.ensure_future(work(item)))
        except Exception as exc:  # a bad request or a broken stream: report it in order
            failed: asyncio.Future[R] = loop.create_future()
            failed.set_exception(exc)
            started.put_nowait(failed)
            return
        started.put_nowait(None)

    reader = asyncio.ensure_future(read())
    try:
        while (job := await started.get()) is not None:
            answer = await job
            free.release()
            yield answer
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
        while not started.empty():
            leftover = started.get_nowait()
            if leftover is not None:
                leftover.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await leftover
