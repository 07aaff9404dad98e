"""The outermost interceptor: gives each call a request id, an access-log line and its metrics.

It wraps whatever handler the inner interceptors (auth) and the servicer provide, so refused
calls are counted and logged like any other. The request id goes back to the caller in the
initial metadata (``x-request-id``), sent before the handler runs, so errors carry it too.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from contra.service.api import logs
from contra.service.api.metrics import Metrics

ACCESS = logging.getLogger("contra.access")

Context = grpc.aio.ServicerContext[Any, Any]


class ObserveInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method.lstrip("/")
        rid = logs.request_id(handler_call_details.invocation_metadata)
        return _wrapped(handler, _Call(self._metrics, method, rid))


class _Call:
    """Bookkeeping for one call: start, then exactly one finish."""

    def __init__(self, metrics: Metrics, method: str, rid: str) -> None:
        self.metrics = metrics
        self.method = method
        self.rid = rid
        self.started = 0.0

    async def begin(self, context: Context) -> None:
        logs.set_request_id(self.rid)
        self.started = time.perf_counter()
        self.metrics.in_flight.labels(self.method).inc()
        await context.send_initial_metadata(((logs.REQUEST_ID_HEADER, self.rid),))

    def finish(self, context: Context, error: BaseException | None) -> None:
        seconds = time.perf_counter() - self.started
        code = _code(context, error)
        self.metrics.in_flight.labels(self.method).dec()
        self.metrics.requests.labels(self.method, code).inc()
        self.metrics.latency.labels(self.method, code).observe(seconds)
        level = logging.WARNING if code in ("UNKNOWN", "INTERNAL", "DATA_LOSS") else logging.INFO
        ACCESS.log(
            level,
            "%s %s %.1fms",
            self.method,
            code,
            seconds * 1000,
            extra={
                "method": self.method,
                "code": code,
                "duration_ms": round(seconds * 1000, 2),
                "peer": context.peer(),
            },
        )


def _code(context: Context, error: BaseException | None) -> str:
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return str(code.name)
    if isinstance(code, int) and code != 0:
        return next((c.name for c in grpc.StatusCode if c.value[0] == code), "UNKNOWN")
    if error is None:
        return "OK"
    if isinstance(error, asyncio.CancelledError):
        remaining = context.time_remaining()
        return "DEADLINE_EXCEEDED" if remaining is not None and remaining <= 0 else "CANCELLED"
    return "UNKNOWN"


def _wrapped(handler: grpc.RpcMethodHandler[Any, Any], call: _Call) -> grpc.RpcMethodHandler[Any, Any]:
    kwargs = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(_unary(handler.unary_unary, call), **kwargs)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(_unary(handler.stream_unary, call), **kwargs)
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(_streaming(handler.unary_stream, call), **kwargs)
    assert handler.stream_stream is not None
    return grpc.stream_stream_rpc_method_handler(_streaming(handler.stream_stream, call), **kwargs)


def _unary(behavior: Callable[..., Any], call: _Call) -> Callable[[Any, Context], Awaitable[Any]]:
    async def observed(request: Any, context: Context) -> Any:
        await call.begin(context)
        error: BaseException | None = None
        try:
            return await behavior(request, context)
        except BaseException as exc:
            error = exc
            raise
        finally:
            call.finish(context, error)

    return observed


def _streaming(behavior: Callable[..., Any], call: _Call) -> Callable[[Any, Context], AsyncIterator[Any]]:
    async def observed(request: Any, context: Context) -> AsyncIterator[Any]:
        await call.begin(context)
        error: BaseException | None = None
        try:
            result = behavior(request, context)
            if inspect.isawaitable(result):  # a handler that writes with context.write() (health Watch)
                await result
            else:
                async for response in result:
                    yield response
        except BaseException as exc:
            error = exc
            raise
        finally:
            call.finish(context, error)

    return observed
