"""The PostgreSQL backend of the registry (psycopg 3): the same tables, migrations and queries as SQLite.

For service replicas and auditors that share one registry. Choices worth knowing:

* Queries are written once with ``?`` placeholders (SQLite's style) and translated to psycopg's ``%s``
  here; the schema differs only in the surrogate key (``BIGINT GENERATED ALWAYS AS IDENTITY``).
* **Migrations** run in one transaction holding a transaction-scoped advisory lock, after re-reading
  ``schema_version`` under it, so replicas starting at once cannot both apply a step.
* **Concurrency**: every write is its own transaction; PostgreSQL's MVCC lets concurrent writers
  proceed without losing rows. ``lock_timeout``/``statement_timeout`` bound how long a call may wait.
* One connection per object, guarded by a lock (calls from threads are serialised), like SQLite's.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Final

import psycopg

from labeler.errors import RegistryError
from labeler.store.registry import (
    _COLUMNS,
    _SCHEMA_VERSION_TABLE,
    MIGRATIONS,
    SCHEMA_VERSION,
    LabelRecord,
    Registry,
    _record_values,
)

__all__ = ["PostgresRegistry", "redact_dsn"]

_PG_DIALECT: Final = {"id_column": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"}
#: Arbitrary constant key for pg_advisory_xact_lock while migrating ("LABELREG" in ASCII).
_MIGRATION_LOCK_KEY: Final = 0x4C4142454C524547


def redact_dsn(dsn: str) -> str:
    """The DSN without its password, for messages and reports."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "postgresql://…"
    host = info.get("host") or "localhost"
    port = info.get("port") or "5432"
    user = str(info.get("user") or "")
    db = str(info.get("dbname") or "")
    return f"postgresql://{user + '@' if user else ''}{host}:{port}/{db}"


def _pg(sql: str) -> str:
    """``?`` placeholders to psycopg's ``%s`` (no literal ``?``/``%`` occurs in our SQL)."""
    return sql.replace("?", "%s")


class PostgresRegistry(Registry):
    """A registry in a PostgreSQL database. Use :meth:`Registry.open` with a ``postgresql://`` DSN."""

    def __init__(self, connection: psycopg.Connection[Any], where: str, busy_timeout: float) -> None:
        self._pg_conn: psycopg.Connection[Any] | None = connection
        self._where = where
        self._busy_timeout = busy_timeout
        self._lock = threading.Lock()

    @classmethod
    def connect(cls, dsn: str, busy_timeout: float) -> PostgresRegistry:
        """Connect, set timeouts, and migrate the schema to :data:`SCHEMA_VERSION`."""
        where = redact_dsn(dsn)
        millis = max(1, int(busy_timeout * 1000))
        try:
            conn = psycopg.connect(
                dsn,
                autocommit=True,
                connect_timeout=max(1, int(busy_timeout)),
                options=f"-c lock_timeout={millis} -c statement_timeout={max(millis, 60_000)}",
            )
        except psycopg.Error as exc:
            raise RegistryError(f"cannot connect to registry {where}: {exc}".strip()) from exc
        try:
            _migrate(conn, where)
        except psycopg.Error as exc:
            conn.close()
            raise RegistryError(f"registry {where}: {exc}".strip()) from exc
        except RegistryError:
            conn.close()
            raise
        return cls(conn, where, busy_timeout)

    @property
    def backend(self) -> str:
        return "postgresql"

    @contextmanager
    def _pg_connection(self) -> Iterator[psycopg.Connection[Any]]:
        with self._lock:
            if self._pg_conn is None:
                raise RegistryError(f"registry {self._where} is closed")
            try:
                yield self._pg_conn
            except psycopg.Error as exc:
                raise RegistryError(f"registry {self._where}: {exc}".strip()) from exc

    def record_many(self, records: Sequence[LabelRecord]) -> int:
        rows = [_record_values(rec) for rec in records]
        if not rows:
            return 0
        placeholders = "(" + ", ".join(["%s"] * 10) + ")"
        with self._pg_connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.executemany(f"INSERT INTO label_records ({_COLUMNS}) VALUES {placeholders}", rows)
        return len(rows)

    def _query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        with self._pg_connection() as conn, conn.cursor() as cur:
            cur.execute(_pg(sql), params)  # type: ignore[arg-type]  # our SQL is built from constants
            return [tuple(row) for row in cur.fetchall()]

    def _write(self, sql: str, params: tuple[object, ...] = ()) -> int:
        with self._pg_connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.execute(_pg(sql), params)  # type: ignore[arg-type]
            return int(cur.rowcount)

    def schema_version(self) -> int:
        (version,) = self._query("SELECT MAX(version) FROM schema_version")[0]
        return 0 if version is None else int(version)

    def close(self) -> None:
        with self._lock:
            if self._pg_conn is not None:
                self._pg_conn.close()
                self._pg_conn = None


def _migrate(conn: psycopg.Connection[Any], where: str) -> None:
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK_KEY,))
        cur.execute(_SCHEMA_VERSION_TABLE)  # type: ignore[arg-type]
        cur.execute("SELECT MAX(version) FROM schema_version")
        row = cur.fetchone()
        current = 0 if row is None or row[0] is None else int(row[0])
        if current > SCHEMA_VERSION:
            raise RegistryError(
                f"registry {where} has schema version {current}, newer than this labeler supports "
                f"({SCHEMA_VERSION}); upgrade labeler"
            )
        now = datetime.now(UTC).isoformat(timespec="seconds")
        for migration in MIGRATIONS:
            if migration.version <= current:
                continue
            for statement in migration.statements:
                cur.execute(statement.format(**_PG_DIALECT))  # type: ignore[arg-type]
            cur.execute(
                "INSERT INTO schema_version (version, description, applied_at) VALUES (%s, %s, %s)",
                (migration.version, migration.description, now),
            )
