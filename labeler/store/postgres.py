"""The PostgreSQL backend of the registry (psycopg 3): the same schema, migrations and API as the SQLite
default, for several service replicas or batch workers writing to one registry.

``Registry.open("postgresql://user@host/db")`` returns one of these. Like the SQLite backend, one object
owns one connection guarded by a lock (share it between threads; open one per process). Migrations run
in one transaction under a transaction-scoped advisory lock, so replicas starting together cannot both
apply them. Every psycopg error becomes a RegistryError with the DSN's password masked.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

from labeler.errors import RegistryError
from labeler.store import registry as base
from labeler.store.registry import SCHEMA_VERSION, LabelRecord, Registry

_POSTGRES_DIALECT: Final = {"id_column": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"}
#: Any fixed 64-bit number: the advisory lock that serialises migrations across replicas.
_MIGRATION_LOCK: Final = 0x6C6162656C6572  # "labeler"
DSN_PREFIXES: Final = ("postgresql://", "postgres://")


def is_dsn(location: object) -> bool:
    return isinstance(location, str) and location.startswith(DSN_PREFIXES)


def mask_dsn(dsn: str) -> str:
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", dsn)


class PostgresRegistry(Registry):
    def __init__(self, connection: Any, where: str) -> None:  # psycopg.Connection
        self._pg = connection
        self._where = where
        self._lock = threading.Lock()

    @classmethod
    def connect(cls, dsn: str, connect_timeout: float = 10.0) -> PostgresRegistry:
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - psycopg is a dependency
            raise RegistryError("PostgreSQL registries need psycopg (pip install 'psycopg[binary]')") from exc
        where = mask_dsn(dsn)
        try:
            connection = psycopg.connect(dsn, autocommit=True, connect_timeout=max(1, int(connect_timeout)))
        except psycopg.Error as exc:
            raise RegistryError(f"cannot connect to registry {where}: {_first_line(exc)}") from exc
        registry = cls(connection, where)
        try:
            with registry._cursor() as cursor:
                _migrate(cursor, where)
        except BaseException:
            connection.close()
            raise
        return registry

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        import psycopg

        with self._lock:
            if self._pg is None:
                raise RegistryError(f"registry {self._where} is closed")
            try:
                with self._pg.cursor() as cursor:
                    yield cursor
            except psycopg.Error as exc:
                raise RegistryError(f"registry {self._where}: {_first_line(exc)}") from exc

    def record(self, rec: LabelRecord) -> None:
        self.record_many([rec])

    def record_many(self, records: list[LabelRecord]) -> None:
        """Store several labelings in one transaction (all or none)."""
        rows = [base._record_values(rec) for rec in records]
        if not rows:
            return
        placeholders = ", ".join(["%s"] * len(rows[0]))
        with self._cursor() as cursor, self._pg.transaction():
            cursor.executemany(f"INSERT INTO label_records ({base._COLUMNS}) VALUES ({placeholders})", rows)

    def _select(self, where: str, params: tuple[object, ...]) -> list[LabelRecord]:
        with self._cursor() as cursor:
            cursor.execute(f"SELECT {base._COLUMNS} FROM label_records WHERE {where.replace('?', '%s')} ORDER BY id",
                           params)
            rows = cursor.fetchall()
        return [base._row_to_record(row) for row in rows]

    def count(self) -> int:
        with self._cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM label_records")
            (n,) = cursor.fetchone()
        return int(n)

    def schema_version(self) -> int:
        with self._cursor() as cursor:
            return _current_version(cursor)

    def close(self) -> None:
        with self._lock:
            if self._pg is not None:
                self._pg.close()
                self._pg = None

    def __repr__(self) -> str:
        return f"PostgresRegistry({self._where!r})"


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _current_version(cursor: Any) -> int:
    cursor.execute("SELECT to_regclass('schema_version') IS NOT NULL")
    if not cursor.fetchone()[0]:
        return 0
    cursor.execute("SELECT MAX(version) FROM schema_version")
    row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _migrate(cursor: Any, where: str) -> None:
    if _current_version(cursor) == SCHEMA_VERSION:
        return
    connection = cursor.connection
    with connection.transaction():
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        cursor.execute(base._SCHEMA_VERSION_TABLE)
        current = _current_version(cursor)
        if current > SCHEMA_VERSION:
            raise RegistryError(
                f"registry {where} has schema version {current}, newer than this labeler supports "
                f"({SCHEMA_VERSION}); upgrade labeler"
            )
        base.apply_migrations(cursor.execute, current, _POSTGRES_DIALECT, "%s")
