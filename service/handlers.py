"""gRPC handlers: translate messages, run the pipeline off the event loop, map errors to statuses.

Domain errors become one status code each (the table lives in ``errors.py``); anything else is
logged with its stack trace and answered with INTERNAL and no details, so callers never see one.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

import grpc

from contra.service import convert
from contra.service.detector import Detector
from contra.service.errors import ContraError, InvalidInput, NotFound, NotReady, Overloaded
from contra.v1 import contra_pb2 as pb
from contra.v1 import contra_pb2_grpc

LOG = logging.getLogger(__name__)

P = ParamSpec("P")
Context = grpc.aio.ServicerContext[Any, Any]
T = TypeVar("T")

_STATUS: list[tuple[type[ContraError], grpc.StatusCode]] = [
    (InvalidInput, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (NotReady, grpc.StatusCode.UNAVAILABLE),
    (Overloaded, grpc.StatusCode.RESOURCE_EXHAUSTED),
]


def status_for(error: ContraError) -> grpc.StatusCode:
    for cls, code in _STATUS:
        if isinstance(error, cls):
            return code
    return grpc.StatusCode.INTERNAL


class ContraServicer(contra_pb2_grpc.ContraServiceServicer):  # type: ignore[misc]
    """Holds no domain logic: every method is convert -> detector -> convert."""

    def __init__(self, executor: ThreadPoolExecutor) -> None:
        self._executor = executor
        self._detector: Detector | None = None

    def attach(self, detector: Detector) -> None:
        """Called once the models and index are loaded; until then every call is UNAVAILABLE."""
        self._detector = detector

    @property
    def detector(self) -> Detector:
        if self._detector is None:
            raise NotReady("contra is still loading its models and index; retry shortly")
        return self._detector

    async def _run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    async def Ingest(self, request: pb.IngestRequest, context: Context) -> pb.IngestResponse:
        return await _guard(context, self._ingest(request))

    async def _ingest(self, request: pb.IngestRequest) -> pb.IngestResponse:
        documents = convert.documents_from_pb(request)
        results = await self._run(self.detector.ingest, documents)
        return pb.IngestResponse(
            documents=[
                pb.IngestedDocument(document_id=r.document_id, claim_ids=r.claim_ids, duplicates=r.duplicates)
                for r in results
            ]
        )

    async def Check(self, request: pb.CheckRequest, context: Context) -> pb.CheckResponse:
        return await _guard(context, self._check(request))

    async def _check(self, request: pb.CheckRequest) -> pb.CheckResponse:
        query = convert.check_from_pb(request)
        result = await self._run(self.detector.check, query)
        return pb.CheckResponse(
            conflicts=[convert.conflict_to_pb(c, query) for c in result.conflicts],
            candidates=result.candidates,
        )

    async def JudgePair(self, request: pb.JudgePairRequest, context: Context) -> pb.JudgePairResponse:
        return await _guard(context, self._judge_pair(request))

    async def _judge_pair(self, request: pb.JudgePairRequest) -> pb.JudgePairResponse:
        a_date = convert.date_from_pb("a_date", request.a_date)
        b_date = convert.date_from_pb("b_date", request.b_date)
        verdict = await self._run(self.detector.judge_pair, request.a, request.b, a_date, b_date)
        return pb.JudgePairResponse(verdict=convert.verdict_to_pb(verdict))

    async def DeleteSource(self, request: pb.DeleteSourceRequest, context: Context) -> pb.DeleteSourceResponse:
        return await _guard(context, self._delete_source(request))

    async def _delete_source(self, request: pb.DeleteSourceRequest) -> pb.DeleteSourceResponse:
        deleted = await self._run(self.detector.delete_source, request.source_id)
        return pb.DeleteSourceResponse(documents_deleted=deleted.documents, claims_deleted=deleted.claims)

    async def Stats(self, request: pb.StatsRequest, context: Context) -> pb.StatsResponse:
        return await _guard(context, self._stats())

    async def _stats(self) -> pb.StatsResponse:
        stats = await self._run(self.detector.stats)
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
