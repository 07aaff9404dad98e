"""gRPC handlers: translate messages, run the pipeline on the bounded work queue, map errors to statuses.

Domain errors become one status code each (the table is ``_STATUS`` below, documented in
``errors.py``); anything else is logged with its stack trace and answered with INTERNAL and no
details, so callers never see one. Requests arrive through ``wire.decoder``: one that did not
decode is a ``wire.Malformed`` and is answered with INVALID_ARGUMENT naming the field.

Every call's deadline is checked before its work is queued and again when a worker picks it up;
a call whose caller gave up while it was queued is dropped without running (grpc cancels the
handler, which leaves the queue).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Protocol, TypeVar

import grpc
from google.protobuf.message import Message

from contra.errors import ContraError, InvalidInput, NotFound, NotReady, Overloaded
from contra.index import IngestedDocument
from contra.service import validate
from contra.service.api import convert, flow, wire
from contra.service.api.limits import Deadline, DeadlineExceeded, StreamLimits, StreamSlots, WorkQueue
from contra.service.api.metrics import Metrics
from contra.service.detector import Detector
from contra.v1 import contra_pb2 as pb

LOG = logging.getLogger(__name__)

Context = grpc.aio.ServicerContext[Any, Any]
T = TypeVar("T")
Q = TypeVar("Q", bound=Message)

MAX_ONLY_SOURCES = 1_000
MAX_TAG_CHARS = 200
MAX_OUTLET_CHARS = 200

_STATUS: list[tuple[type[ContraError], grpc.StatusCode]] = [
    (InvalidInput, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (NotReady, grpc.StatusCode.UNAVAILABLE),
    (Overloaded, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (DeadlineExceeded, grpc.StatusCode.DEADLINE_EXCEEDED),
]


def status_for(error: ContraError) -> grpc.StatusCode:
    for cls, code in _STATUS:
        if isinstance(error, cls):
            return code
    return grpc.StatusCode.INTERNAL


class ContraServicer:
    """Holds no domain logic: every method is convert -> queue(detector) -> convert."""

    def __init__(self, queue: WorkQueue, streams: StreamSlots, stream_limits: StreamLimits, metrics: Metrics) -> None:
        self._queue = queue
        self._streams = streams
        self._stream_limits = stream_limits
        self._metrics = metrics
        self._detector: Detector | None = None

    def attach(self, detector: Detector) -> None:
        """Called once the models and index are loaded; until then every call is UNAVAILABLE."""
        self._detector = detector

    @property
    def detector(self) -> Detector:
        if self._detector is None:
            raise NotReady("contra is still loading its models and index; retry shortly")
        return self._detector

    # Unary calls -------------------------------------------------------------------------------

    async def Ingest(self, request: pb.IngestRequest | wire.Malformed, context: Context) -> pb.IngestResponse:
        return await _guard(context, self._ingest(request, Deadline.of(context)))

    async def _ingest(self, raw: pb.IngestRequest | wire.Malformed, deadline: Deadline) -> pb.IngestResponse:
        request = wire.valid(raw)
        documents = convert.documents_from_pb(request)
        _check_outlets(request.documents, "documents")
        results = await self._queue.run("Ingest", deadline, self.detector.ingest, documents)
        self._metrics.batch_size.labels("Ingest").observe(len(documents))
        return pb.IngestResponse(documents=[_ingested_to_pb(r) for r in results])

    async def Check(self, request: pb.CheckRequest | wire.Malformed, context: Context) -> pb.CheckResponse:
        return await _guard(context, self._check(request, Deadline.of(context), self._queue.run))

    async def _check(self, raw: pb.CheckRequest | wire.Malformed, deadline: Deadline, run: Runner) -> pb.CheckResponse:
        request = wire.valid(raw)
        query = convert.check_from_pb(request)
        _check_only_sources(request.only_sources)
        result = await run("Check", deadline, self.detector.check, query)
        self._metrics.batch_size.labels("Check").observe(result.candidates)
        return pb.CheckResponse(
            conflicts=[convert.conflict_to_pb(c, query) for c in result.conflicts],
            candidates=result.candidates,
        )

    async def JudgePair(self, request: pb.JudgePairRequest | wire.Malformed, context: Context) -> pb.JudgePairResponse:
        return await _guard(context, self._judge_pair(request, Deadline.of(context)))

    async def _judge_pair(self, raw: pb.JudgePairRequest | wire.Malformed, deadline: Deadline) -> pb.JudgePairResponse:
        request = wire.valid(raw)
        a_date = convert.exact_from_pb("a_date", request.a_date)
        b_date = convert.exact_from_pb("b_date", request.b_date)
        verdict = await self._queue.run(
            "JudgePair", deadline, self.detector.judge_pair, request.a, request.b, a_date, b_date
        )
        return pb.JudgePairResponse(verdict=convert.verdict_to_pb(verdict))

    async def DeleteSource(
        self, request: pb.DeleteSourceRequest | wire.Malformed, context: Context
    ) -> pb.DeleteSourceResponse:
        return await _guard(context, self._delete_source(request, Deadline.of(context)))

    async def _delete_source(
        self, raw: pb.DeleteSourceRequest | wire.Malformed, deadline: Deadline
    ) -> pb.DeleteSourceResponse:
        request = wire.valid(raw)
        deleted = await self._queue.run("DeleteSource", deadline, self.detector.delete_source, request.source_id)
        return pb.DeleteSourceResponse(documents_deleted=deleted.documents, claims_deleted=deleted.claims)

    async def Stats(self, request: pb.StatsRequest | wire.Malformed, context: Context) -> pb.StatsResponse:
        return await _guard(context, self._stats(request, Deadline.of(context)))

    async def _stats(self, raw: pb.StatsRequest | wire.Malformed, deadline: Deadline) -> pb.StatsResponse:
        wire.valid(raw)
        stats = await self._queue.run("Stats", deadline, self.detector.stats)
        return pb.StatsResponse(
            sources=stats.sources,
            documents=stats.documents,
            claims=stats.claims,
            indexed=stats.indexed,
            index_kind=stats.index_kind,
            embedder=stats.embedder,
            nli_model=stats.nli_model,
            per_source=[
                pb.SourceStats(source_id=s.source_id, outlet=s.outlet, documents=s.documents, claims=s.claims)
                for s in stats.per_source
            ],
        )

    # Streams -----------------------------------------------------------------------------------

    def CheckStream(
        self, requests: AsyncIterable[pb.CheckStreamRequest | wire.Malformed], context: Context
    ) -> AsyncIterator[pb.CheckStreamResponse]:
        return _guard_stream(context, self._check_stream(requests, Deadline.of(context)))

    async def _check_stream(
        self, requests: AsyncIterable[pb.CheckStreamRequest | wire.Malformed], deadline: Deadline
    ) -> AsyncIterator[pb.CheckStreamResponse]:
        with self._streams.hold():
            self.detector  # noqa: B018 - UNAVAILABLE before anything is read while loading

            async def one(item: tuple[int, pb.CheckStreamRequest]) -> pb.CheckStreamResponse:
                index, request = item
                with _located(f"requests[{index}].check."):
                    result = await self._check(request.check, deadline, self._queue.run_waiting)
                return pb.CheckStreamResponse(tag=request.tag, index=index, result=result)

            numbered = _numbered(requests, self._stream_limits.max_messages)
            async for answer in flow.ordered(numbered, one, self._stream_limits.window):
                yield answer

    def IngestStream(
        self, requests: AsyncIterable[pb.IngestStreamRequest | wire.Malformed], context: Context
    ) -> AsyncIterator[pb.IngestStreamResponse]:
        return _guard_stream(context, self._ingest_stream(requests, Deadline.of(context)))

    async def _ingest_stream(
        self, requests: AsyncIterable[pb.IngestStreamRequest | wire.Malformed], deadline: Deadline
    ) -> AsyncIterator[pb.IngestStreamResponse]:
        with self._streams.hold():
            detector = self.detector

            async def one(item: tuple[int, pb.IngestStreamRequest]) -> pb.IngestStreamResponse:
                index, request = item
                with _located(f"requests[{index}].", rename=("documents[0]", "document")):
                    wrapped = pb.IngestRequest(documents=[request.document])
                    documents = convert.documents_from_pb(wrapped)
                    _check_outlets(wrapped.documents, "documents")
                    results = await self._queue.run_waiting("IngestStream", deadline, detector.ingest, documents)
                return pb.IngestStreamResponse(tag=request.tag, index=index, document=_ingested_to_pb(results[0]))

            numbered = _numbered(requests, self._stream_limits.max_messages)
            async for answer in flow.ordered(numbered, one, self._stream_limits.window):
                yield answer


class Runner(Protocol):
    """The shape of ``WorkQueue.run`` (refuse when full) and ``run_waiting`` (wait)."""

    def __call__(self, name: str, deadline: Deadline, fn: Callable[..., T], /, *args: Any) -> Awaitable[T]: ...


def _ingested_to_pb(result: IngestedDocument) -> pb.IngestedDocument:
    return pb.IngestedDocument(
        document_id=result.document_id,
        claim_ids=result.claim_ids,
        duplicates=result.duplicates,
        updated=result.updated,
        superseded=result.superseded,
    )


def _check_only_sources(values: Any) -> None:
    if len(values) > MAX_ONLY_SOURCES:
        raise InvalidInput("only_sources", f"{len(values)} entries; the limit is {MAX_ONLY_SOURCES}")
    for i, value in enumerate(values):
        validate.source_id(f"only_sources[{i}]", value)


def _check_outlets(documents: Any, field: str) -> None:
    for i, doc in enumerate(documents):
        if len(doc.source.outlet) > MAX_OUTLET_CHARS:
            raise InvalidInput(f"{field}[{i}].source.outlet", f"is longer than {MAX_OUTLET_CHARS} characters")


@contextlib.contextmanager
def _located(prefix: str, rename: tuple[str, str] | None = None) -> Iterator[None]:
    """Re-raises ``InvalidInput`` with the field placed inside a stream message, e.g. requests[3].check.text."""
    try:
        yield
    except InvalidInput as exc:
        field = exc.field
        if rename is not None and field.startswith(rename[0]):
            field = rename[1] + field[len(rename[0]) :]
        raise InvalidInput(prefix + field, exc.problem) from None


async def _numbered(requests: AsyncIterable[Q | wire.Malformed], limit: int) -> AsyncIterator[tuple[int, Q]]:
    """Stream messages with their positions; a malformed one or one too many ends the stream."""
    index = 0
    async for request in requests:
        if index >= limit:
            raise InvalidInput("requests", f"more than {limit} messages in one stream (CONTRA_MAX_STREAM_MESSAGES)")
        valid = wire.valid(request, prefix=f"requests[{index}].")
        tag = getattr(valid, "tag", "")
        if len(tag) > MAX_TAG_CHARS:
            raise InvalidInput(f"requests[{index}].tag", f"is longer than {MAX_TAG_CHARS} characters")
        yield index, valid
        index += 1


async def _guard(context: Context, work: Awaitable[T]) -> T:
    """Run a handler body; turn domain errors into their status and hide everything else."""
    try:
        return await work
    except ContraError as exc:
        await context.abort(status_for(exc), str(exc))
    except Exception:
        LOG.exception("unhandled error in handler")
        await context.abort(grpc.StatusCode.INTERNAL, "internal error; see the server log")
    raise AssertionError("unreachable: context.abort raises")


async def _guard_stream(context: Context, answers: AsyncIterator[T]) -> AsyncIterator[T]:
    """``_guard`` for a streaming handler: answers pass through until the first error."""
    try:
        async for answer in answers:
            yield answer
    except ContraError as exc:
        await context.abort(status_for(exc), str(exc))
    except Exception:
        LOG.exception("unhandled error in streaming handler")
        await context.abort(grpc.StatusCode.INTERNAL, "internal error; see the server log")
