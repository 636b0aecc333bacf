"""A real labeler server on an ephemeral loopback port, run on its own event loop thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from labeler.pipeline import Labeler
from labeler.service.server import RunningServer, start_server
from labeler.service.settings import ServiceSettings
from labeler.store.registry import Registry
from labeler.verification import Verifier
from labeler.watermark import WatermarkKey


class ServerThread:
    def __init__(self, settings: ServiceSettings, labeler: Labeler, verifier: Verifier) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.running: RunningServer = self.call(start_server(settings, labeler, verifier))
        self.target = f"127.0.0.1:{self.running.port}"

    def call(self, coroutine: Any, timeout: float = 60.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        self.call(self.running.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def start(tmp_path: Path, key: WatermarkKey) -> Iterator[Callable[..., ServerThread]]:
    """Start servers with settings overrides; every one is stopped at the end of the test."""
    started: list[ServerThread] = []
    registries: list[Registry] = []

    def make(**overrides: Any) -> ServerThread:
        registry = Registry.open(tmp_path / f"registry-{len(started)}.sqlite")
        registries.append(registry)
        settings = replace(ServiceSettings(address="127.0.0.1:0", workers=2, queue_depth=2), **overrides)
        limits = settings.limits  # the CLI's `serve` gives the orchestrators the service's limits too
        server = ServerThread(settings, Labeler(key, registry, limits), Verifier(key, registry, limits))
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
    for registry in registries:
        registry.close()
