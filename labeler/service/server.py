"""Building and running the grpc.aio server: servicer, auth, TLS/mTLS, health, reflection, metrics,
graceful shutdown."""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import start_http_server

from labeler.errors import InvalidOption
from labeler.pipeline import Labeler
from labeler.service.auth import BearerTokenInterceptor
from labeler.service.metrics import ServiceMetrics
from labeler.service.pool import WorkerPool
from labeler.service.servicer import LabelerServicer
from labeler.service.settings import ServiceSettings, TlsSettings
from labeler.v1 import labeler_pb2, labeler_pb2_grpc
from labeler.verification import Verifier

log = logging.getLogger("labeler.service")
SERVICE_NAME = labeler_pb2.DESCRIPTOR.services_by_name["LabelerService"].full_name
#: Upload/download chunks are at most a few MiB; leave room for the protobuf framing.
MAX_MESSAGE_BYTES = 8 * 1024 * 1024


def _read(path: object, what: str) -> bytes:
    try:
        with open(path, "rb") as handle:  # type: ignore[call-overload]
            return handle.read()  # type: ignore[no-any-return]
    except OSError as exc:
        raise InvalidOption(f"cannot read the {what} {path}: {exc}") from exc


def server_credentials(tls: TlsSettings) -> grpc.ServerCredentials:
    pair = [(_read(tls.private_key, "TLS private key"), _read(tls.cert_chain, "TLS certificate chain"))]
    if tls.client_ca is None:
        return grpc.ssl_server_credentials(pair)
    return grpc.ssl_server_credentials(
        pair, root_certificates=_read(tls.client_ca, "client CA bundle"), require_client_auth=True
    )


@dataclass
class RunningServer:
    server: grpc.aio.Server
    port: int
    pool: WorkerPool
    health: health.aio.HealthServicer  # type: ignore[name-defined]
    metrics: ServiceMetrics
    settings: ServiceSettings

    async def stop(self) -> None:
        """Stop accepting calls, let in-flight ones finish within the grace period, then free the pool."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(self.settings.shutdown_grace_seconds)
        self.pool.shutdown()


async def start_server(settings: ServiceSettings, labeler: Labeler, verifier: Verifier) -> RunningServer:
    interceptors = [BearerTokenInterceptor(settings.token_hashes)] if settings.token_hashes else []
    server = grpc.aio.server(
        interceptors=interceptors,
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 0),
        ],
    )
    metrics = ServiceMetrics()
    pool = WorkerPool(settings.workers, settings.queue_depth)
    labeler_pb2_grpc.add_LabelerServiceServicer_to_server(  # type: ignore[no-untyped-call]
        LabelerServicer(settings, labeler, verifier, pool, metrics), server
    )
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    if settings.tls is None:
        port = server.add_insecure_port(settings.address)
    else:
        port = server.add_secure_port(settings.address, server_credentials(settings.tls))
    if port == 0:
        raise InvalidOption(f"cannot listen on {settings.address}")
    await server.start()
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    if settings.metrics_port is not None:
        host = settings.address.rsplit(":", 1)[0].strip("[]") or "127.0.0.1"
        start_http_server(settings.metrics_port, addr=host, registry=metrics.registry)
    return RunningServer(server, port, pool, health_servicer, metrics, settings)


async def serve_forever(settings: ServiceSettings, labeler: Labeler, verifier: Verifier) -> None:
    """Run until SIGINT/SIGTERM, then shut down gracefully (draining in-flight calls)."""
    running = await start_server(settings, labeler, verifier)
    log.info('{"event": "serving", "address": "%s", "port": %d, "tls": %s, "auth": %s}',
             settings.address, running.port, "true" if settings.tls else "false",
             "true" if settings.token_hashes else "false")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info('{"event": "draining", "grace_seconds": %s}', settings.shutdown_grace_seconds)
    await running.stop()
