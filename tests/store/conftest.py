"""A real PostgreSQL server for the registry tests, started once per session from the Debian binaries.

initdb refuses to run as root, so as root the server runs as the ``postgres`` user (data and socket
folders in a temporary folder owned by it). When it cannot start, the PostgreSQL tests skip with the
reason locally and FAIL under ``CI=1`` (``.ci/run`` installs the server first).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_bin(name: str) -> str | None:
    for folder in _PG_BIN_DIRS:
        if (folder / name).exists():
            return str(folder / name)
    return shutil.which(name)


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


class _PgServer:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="labeler-pg-"))
        self.data = self.root / "data"
        self.sock = self.root / "sock"
        self.port = _free_port()
        self.pg_ctl = _pg_bin("pg_ctl")

    def start(self) -> str:
        initdb = _pg_bin("initdb")
        if initdb is None or self.pg_ctl is None:
            raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        self.sock.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.sock, "postgres")
            self.root.chmod(0o755)
        user = "postgres" if os.geteuid() == 0 else os.environ.get("USER", "postgres")
        subprocess.run(
            _as_server_user([initdb, "-D", str(self.data), "-A", "trust", "-U", user, "--no-sync", "-E", "UTF8"]),
            check=True, capture_output=True, timeout=120,
        )
        opts = f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50"
        subprocess.run(
            _as_server_user([self.pg_ctl, "-D", str(self.data), "-o", opts, "-w", "-t", "60",
                             "-l", str(self.root / "server.log"), "start"]),
            check=True, capture_output=True, timeout=90,
        )
        return f"postgresql://{user}@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        if self.pg_ctl is not None and self.data.exists():
            subprocess.run(_as_server_user([self.pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"]),
                           capture_output=True, timeout=60, check=False)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server_dsn() -> Iterator[str]:
    """DSN of the session's PostgreSQL server (``postgres`` database)."""
    server = _PgServer()
    try:
        dsn = server.start()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        reason = f"PostgreSQL server could not start: {exc} {detail.decode(errors='replace')[-500:]}"
        server.stop()
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI=1: the PostgreSQL tests must run)")
        pytest.skip("!!! SKIPPING POSTGRESQL TESTS: " + reason)
    try:
        yield dsn
    finally:
        server.stop()


@pytest.fixture
def pg_dsn(pg_server_dsn: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty database on the session server, dropped afterwards."""
    import psycopg

    name = "t_" + format(abs(hash(request.node.nodeid)) % (1 << 40), "x") + f"_{os.getpid()}"
    with psycopg.connect(pg_server_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')  # type: ignore[arg-type]
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    yield pg_server_dsn.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(pg_server_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", "postgresql"])
def registry_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where to open a registry: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "registry.sqlite3")
    return str(request.getfixturevalue("pg_dsn"))
