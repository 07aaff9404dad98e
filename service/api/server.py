"""The gRPC server: contra's service, standard health checking and reflection, on grpc.aio.

The port opens at once and health says NOT_SERVING while the models and index load in a worker
thread, so orchestrators can tell "starting" from "dead". On SIGTERM or SIGINT health turns
NOT_SERVING, the server stops taking calls, lets in-flight calls finish within
``CONTRA_GRACE_SECONDS``, waits for running model work, then snapshots the index and closes the
store (``Detector.close``).

Every call passes two interceptors, outermost first: ``observe`` (request id, access log, metrics)
and ``auth`` (bearer tokens). Requests are decoded by ``wire.decoder`` so that a request with bad
UTF-8 is answered INVALID_ARGUMENT naming the field, not UNKNOWN.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from contra.errors import InvalidInput
from contra.service.api import logs, wire
from contra.service.api.auth import AuthInterceptor, Tokens
from contra.service.api.handlers import ContraServicer
from contra.service.api.limits import StreamLimits, StreamSlots, WorkQueue
from contra.service.api.metrics import Metrics, MetricsServer
from contra.service.api.observe import ObserveInterceptor
from contra.service.config import Settings
from contra.service.detector import Detector
from contra.v1 import contra_pb2

LOG = logging.getLogger(__name__)

SERVICE = contra_pb2.DESCRIPTOR.services_by_name["ContraService"]
SERVICE_NAME = SERVICE.full_name


@dataclass
class Running:
    """A started server and what it needs at shutdown."""

    server: grpc.aio.Server
    port: int
    servicer: ContraServicer
    health: health.aio.HealthServicer
    queue: WorkQueue
    metrics: Metrics
    metrics_server: MetricsServer | None
    tls: bool
    auth: bool


async def create_server(settings: Settings, address: str | None = None, tokens: Tokens | None = None) -> Running:
    """Bind and start the server; the caller loads the detector and calls ``mark_ready``."""
    if tokens is None:
        tokens, _ = Tokens.load(settings.tokens.get_secret_value(), settings.tokens_file)
    metrics = Metrics()
    queue = WorkQueue(settings.workers, settings.max_queue, on_done=metrics.observe_model)
    streams = StreamSlots(settings.max_streams)
    metrics.watch(waiting=lambda: queue.waiting, busy=lambda: queue.running, streams=lambda: streams.open)
    options = [
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", settings.max_message_bytes),
    ]
    server = grpc.aio.server(interceptors=[ObserveInterceptor(metrics), AuthInterceptor(tokens)], options=options)
    servicer = ContraServicer(
        queue, streams, StreamLimits(settings.max_stream_messages, settings.stream_window), metrics
    )
    _add_service(server, servicer)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((SERVICE_NAME, reflection.SERVICE_NAME, health.SERVICE_NAME), server)
    bind = address or settings.addr
    tls = _credentials(settings)
    port = server.add_secure_port(bind, tls) if tls is not None else server.add_insecure_port(bind)
    if port == 0:
        raise OSError(f"cannot listen on {bind}")
    await health_servicer.set(SERVICE_NAME, health_pb2.HealthCheckResponse.NOT_SERVING)
    await health_servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    metrics_server = MetricsServer.start(metrics, settings.metrics_addr) if settings.metrics_addr else None
    await server.start()
    _warn_if_exposed(bind, tls is not None, tokens.enabled)
    return Running(
        server, port, servicer, health_servicer, queue, metrics, metrics_server, tls is not None, tokens.enabled
    )


def _add_service(server: grpc.aio.Server, servicer: ContraServicer) -> None:
    """Register every RPC of the .proto with a decoder that reports bad input by field name."""
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
    for method in SERVICE.methods:
        request = getattr(contra_pb2, method.input_type.name)
        response = getattr(contra_pb2, method.output_type.name)
        build: Callable[..., grpc.RpcMethodHandler[Any, Any]] = {
            (False, False): grpc.unary_unary_rpc_method_handler,
            (False, True): grpc.unary_stream_rpc_method_handler,
            (True, False): grpc.stream_unary_rpc_method_handler,
            (True, True): grpc.stream_stream_rpc_method_handler,
        }[(method.client_streaming, method.server_streaming)]
        handlers[method.name] = build(
            getattr(servicer, method.name),
            request_deserializer=wire.decoder(request),
            response_serializer=response.SerializeToString,
        )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
    server.add_registered_method_handlers(SERVICE_NAME, handlers)


def _credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """TLS from the configured PEM files; with a client CA, clients must present a certificate."""
    if settings.tls_cert is None and settings.tls_key is None:
        if settings.tls_client_ca is not None:
            raise InvalidInput("CONTRA_TLS_CLIENT_CA", "needs CONTRA_TLS_CERT and CONTRA_TLS_KEY")
        return None
    if settings.tls_cert is None or settings.tls_key is None:
        raise InvalidInput("CONTRA_TLS_CERT", "and CONTRA_TLS_KEY must be set together")
    client_ca = settings.tls_client_ca.read_bytes() if settings.tls_client_ca is not None else None
    return grpc.ssl_server_credentials(
        [(settings.tls_key.read_bytes(), settings.tls_cert.read_bytes())],
        root_certificates=client_ca,
        require_client_auth=client_ca is not None,
    )


def _is_loopback(address: str) -> bool:
    host = address.rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _warn_if_exposed(address: str, tls: bool, auth: bool) -> None:
    if _is_loopback(address):
        return
    if not auth:
        LOG.warning("auth is OFF on non-loopback %s: any caller may ingest and delete; set CONTRA_TOKENS_FILE", address)
    elif not tls:
        LOG.warning("bearer tokens travel in clear text on %s: set CONTRA_TLS_CERT and CONTRA_TLS_KEY", address)


async def mark_ready(running: Running, detector: Detector) -> None:
    running.servicer.attach(detector)
    running.metrics.watch_index(lambda: float(len(detector.index)))
    await running.health.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
    await running.health.set("", health_pb2.HealthCheckResponse.SERVING)


async def shutdown(running: Running, detector: Detector | None, grace: float) -> None:
    """Refuse new calls, give in-flight ones ``grace`` seconds, wait for model work, then persist."""
    await running.health.enter_graceful_shutdown()
    await running.server.stop(grace)
    await asyncio.to_thread(running.queue.shutdown)
    if detector is not None:
        await asyncio.to_thread(detector.close)
    if running.metrics_server is not None:
        running.metrics_server.stop()


async def serve(settings: Settings, build: Callable[[Settings], Detector]) -> None:
    """Run until SIGTERM/SIGINT: the body of ``contra serve``."""
    tokens, secrets = Tokens.load(settings.tokens.get_secret_value(), settings.tokens_file)
    logs.configure(settings.log_format, secrets)
    running = await create_server(settings, tokens=tokens)
    LOG.info(
        "listening on %s (port %d, tls %s, auth %s); loading models",
        settings.addr,
        running.port,
        "on" if running.tls else "off",
        f"on, {len(tokens)} tokens" if running.auth else "off",
    )
    if running.metrics_server is not None:
        LOG.info("metrics on http://%s/metrics", settings.metrics_addr)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    detector: Detector | None = None
    loader = loop.run_in_executor(running.queue.executor, build, settings)
    try:
        waiters: list[asyncio.Future[Any]] = [loader, asyncio.ensure_future(stop.wait())]
        done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        if loader in done:
            detector = loader.result()
            await mark_ready(running, detector)
            LOG.info("ready: serving %s on %s", SERVICE_NAME, settings.addr)
            await stop.wait()
        LOG.info("shutting down: finishing in-flight calls (grace %.0fs)", settings.grace_seconds)
    finally:
        await shutdown(running, detector, settings.grace_seconds)
        if detector is None and loader.done() and not loader.cancelled() and loader.exception() is None:
            await asyncio.to_thread(loader.result().close)  # stopped while loading: still persist
        LOG.info("stopped")
