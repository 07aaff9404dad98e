"""The gRPC server: contra's service, standard health checking and reflection, on grpc.aio.

The port opens at once and health says NOT_SERVING while the models and index load in a worker
thread, so orchestrators can tell "starting" from "dead". On SIGTERM or SIGINT the server stops
taking calls, lets in-flight calls finish within a grace period, then snapshots the index.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from contra.service.config import Settings
from contra.service.detector import Detector
from contra.service.handlers import ContraServicer
from contra.v1 import contra_pb2, contra_pb2_grpc

LOG = logging.getLogger(__name__)

SERVICE_NAME = contra_pb2.DESCRIPTOR.services_by_name["ContraService"].full_name
GRACE_SECONDS = 10.0


@dataclass
class Running:
    """A started server and what it needs at shutdown."""

    server: grpc.aio.Server
    port: int
    servicer: ContraServicer
    health: health.aio.HealthServicer
    executor: ThreadPoolExecutor


async def create_server(settings: Settings, address: str | None = None) -> Running:
    """Bind and start the server; the caller loads the detector and calls ``mark_ready``."""
    executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="contra-work")
    options = [
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", settings.max_message_bytes),
    ]
    server = grpc.aio.server(options=options)
    servicer = ContraServicer(executor)
    contra_pb2_grpc.add_ContraServiceServicer_to_server(servicer, server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((SERVICE_NAME, reflection.SERVICE_NAME, health.SERVICE_NAME), server)
    port = server.add_insecure_port(address or settings.addr)
    if port == 0:
        raise OSError(f"cannot listen on {address or settings.addr}")
    await health_servicer.set(SERVICE_NAME, health_pb2.HealthCheckResponse.NOT_SERVING)
    await health_servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    await server.start()
    return Running(server, port, servicer, health_servicer, executor)


async def mark_ready(running: Running, detector: Detector) -> None:
    running.servicer.attach(detector)
    await running.health.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
    await running.health.set("", health_pb2.HealthCheckResponse.SERVING)


async def shutdown(running: Running, detector: Detector | None, grace: float = GRACE_SECONDS) -> None:
    await running.health.enter_graceful_shutdown()
    await running.server.stop(grace)
    running.executor.shutdown(wait=True)
    if detector is not None:
        detector.close()


async def serve(settings: Settings, build: Callable[[Settings], Detector]) -> None:
    """Run until SIGTERM/SIGINT: the body of ``contra serve``."""
    running = await create_server(settings)
    LOG.info("listening on %s (port %d); loading models", settings.addr, running.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    detector: Detector | None = None
    try:
        loader = loop.run_in_executor(running.executor, build, settings)
        waiters: list[asyncio.Future[Any]] = [loader, asyncio.ensure_future(stop.wait())]
        done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        if loader in done:
            detector = loader.result()
            await mark_ready(running, detector)
            LOG.info("ready: serving %s on %s", SERVICE_NAME, settings.addr)
            await stop.wait()
        LOG.info("shutting down: finishing in-flight calls (grace %.0fs)", GRACE_SECONDS)
    finally:
        await shutdown(running, detector)
        LOG.info("stopped")
