"""The service's settings: one frozen object, built by `labeler serve` from flags/environment."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from labeler.errors import InvalidOption
from labeler.settings import Limits


def hash_token(token: str) -> str:
    """How bearer tokens are stored in configuration: SHA-256, hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TlsSettings:
    cert_chain: Path
    private_key: Path
    #: PEM bundle of CAs whose client certificates are accepted; set = mutual TLS (client cert required).
    client_ca: Path | None = None


@dataclass(frozen=True)
class ServiceSettings:
    address: str = "127.0.0.1:50051"
    #: Calls processed at once (CPU work runs in a pool of this many threads).
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    #: Calls allowed to wait for a worker; beyond that, RESOURCE_EXHAUSTED with RetryInfo.
    queue_depth: int = 8
    #: Seconds a client is told to wait when the queue is full.
    retry_after_seconds: float = 0.5
    #: SHA-256 hex digests of accepted bearer tokens (see hash_token); empty turns auth off.
    token_hashes: tuple[str, ...] = ()
    tls: TlsSettings | None = None
    limits: Limits = field(default_factory=Limits)
    #: Uploads are spooled here beyond spool_memory_bytes (None: the system temp dir).
    spool_dir: Path | None = None
    spool_memory_bytes: int = 8 * 1024 * 1024
    #: Size of the media chunks the server streams back.
    response_chunk_bytes: int = 1024 * 1024
    #: Port for Prometheus metrics over HTTP on the same host (None: off).
    metrics_port: int | None = None
    #: Seconds in-flight calls get to finish on shutdown.
    shutdown_grace_seconds: float = 10.0

    def __post_init__(self) -> None:
        if self.workers < 1 or self.queue_depth < 0:
            raise InvalidOption("workers must be >= 1 and queue depth >= 0")
        if not 4096 <= self.response_chunk_bytes <= 3 * 1024 * 1024:
            raise InvalidOption("response chunk size must be between 4 KiB and 3 MiB")
        for digest in self.token_hashes:
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise InvalidOption("token hashes must be SHA-256 hex digests (see `labeler serve --hash-token`)")
        if ":" not in self.address:
            raise InvalidOption(f"address must be HOST:PORT, got {self.address!r}")

    @property
    def max_inflight(self) -> int:
        return self.workers + self.queue_depth
