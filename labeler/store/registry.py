"""The labeling registry: one row per labeling, so a verifier can map a decoded watermark ID (or a file's
hash) back to the ContentProducer and ProduceID that made it.

SQLite (stdlib ``sqlite3``) is the default backend; a PostgreSQL backend will share this schema, so the
table definitions avoid SQLite-only syntax (the one exception, the surrogate key, is a per-dialect
placeholder in :data:`MIGRATIONS`).

Choices worth knowing:

* **64-bit watermark IDs are stored as signed two's complement** in a ``BIGINT`` column. Watermark IDs
  are unsigned 64-bit, SQLite's INTEGER and PostgreSQL's BIGINT are signed 64-bit; mapping
  ``[2**63, 2**64)`` onto ``[-2**63, 0)`` keeps the column numeric (8-byte keys, compact indexes, one
  integer comparison per lookup) and round-trips every value exactly. :func:`to_signed64` and
  :func:`from_signed64` are the only two places that know about it. Ad-hoc SQL must use them too:
  ``SELECT ... WHERE watermark_id = to_signed64(id)``.
* **Concurrency**: WAL mode (readers never block the writer) and a ``busy_timeout`` so that concurrent
  writers (other threads, processes or service replicas on one file) wait for each other instead of
  failing; a writer that waits longer than that gets a :class:`~labeler.errors.RegistryError`. One
  ``Registry`` object owns one connection, opened with ``check_same_thread=False`` and guarded by a
  lock, so a single object may be shared between threads (calls are serialised).
* **Migrations** are numbered and applied in order inside one ``BEGIN IMMEDIATE`` transaction, after
  re-reading ``schema_version`` under that lock, so two processes opening a new file at once cannot
  both apply them; a file whose version is newer than this code knows is refused rather than guessed at.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import platformdirs

from labeler.errors import RegistryError

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "LabelRecord",
    "Migration",
    "Registry",
    "default_registry_path",
    "from_signed64",
    "is_postgres_dsn",
    "to_signed64",
]

_U64: Final = 1 << 64
_I64_MAX: Final = (1 << 63) - 1
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")

#: Default retention (days) for ``labeler registry purge``: at least six months, as the rules ask.
DEFAULT_RETENTION_DAYS: Final = 183

#: Default seconds a writer waits for another writer's lock before giving up with RegistryError.
DEFAULT_BUSY_TIMEOUT: Final = 5.0


def to_signed64(value: int) -> int:
    """The unsigned 64-bit ``value`` as the signed 64-bit integer with the same bits (for BIGINT columns)."""
    if not 0 <= value < _U64:
        raise ValueError(f"{value} does not fit in an unsigned 64-bit integer")
    return value - _U64 if value > _I64_MAX else value


def from_signed64(value: int) -> int:
    """Inverse of :func:`to_signed64`."""
    return value + _U64 if value < 0 else value


@dataclass(frozen=True)
class LabelRecord:
    """What one labeling produced. Hashes are SHA-256 hex digests (stored lower-case)."""

    produce_id: str
    content_producer: str
    watermark_id: int | None
    output_sha256: str
    input_sha256: str
    media_kind: str
    media_format: str
    label_value: str
    key_id: str | None
    #: ISO-8601 UTC, e.g. ``2025-09-01T12:00:00+00:00``.
    created_at: str


@dataclass(frozen=True)
class Migration:
    """One step of the schema. ``statements`` may use ``{id_column}`` for the dialect's surrogate key."""

    version: int
    description: str
    statements: tuple[str, ...]


#: Every schema step, in order. Never edit a released step: append a new one.
MIGRATIONS: Final[tuple[Migration, ...]] = (
    Migration(
        1,
        "label_records with lookup indexes",
        (
            """CREATE TABLE label_records (
                id {id_column},
                produce_id VARCHAR(512) NOT NULL,
                content_producer VARCHAR(512) NOT NULL,
                watermark_id BIGINT,
                output_sha256 CHAR(64) NOT NULL,
                input_sha256 CHAR(64) NOT NULL,
                media_kind VARCHAR(16) NOT NULL,
                media_format VARCHAR(32) NOT NULL,
                label_value VARCHAR(8) NOT NULL,
                key_id VARCHAR(128),
                created_at VARCHAR(40) NOT NULL
            )""",
            "CREATE INDEX label_records_watermark_id ON label_records (watermark_id)",
            "CREATE INDEX label_records_produce_id ON label_records (produce_id)",
            "CREATE INDEX label_records_output_sha256 ON label_records (output_sha256)",
            "CREATE INDEX label_records_input_sha256 ON label_records (input_sha256)",
        ),
    ),
)

#: The schema version this code writes and understands.
SCHEMA_VERSION: Final = MIGRATIONS[-1].version

# SQLite's INTEGER PRIMARY KEY is the rowid alias (PostgreSQL: BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY).
# VARCHAR(n)/CHAR(n) lengths are not enforced by SQLite; PostgreSQL will enforce them.
_SQLITE_DIALECT: Final = {"id_column": "INTEGER PRIMARY KEY"}

_COLUMNS: Final = (
    "produce_id, content_producer, watermark_id, output_sha256, input_sha256, "
    "media_kind, media_format, label_value, key_id, created_at"
)
_SCHEMA_VERSION_TABLE: Final = (
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL PRIMARY KEY, "
    "description VARCHAR(200) NOT NULL, applied_at VARCHAR(40) NOT NULL)"
)


def default_registry_path() -> Path:
    """Where the registry lives unless told otherwise: the user's data folder, never the working directory."""
    return platformdirs.user_data_path("labeler") / "registry.sqlite3"


def _explain(exc: sqlite3.Error, where: str, busy_timeout: float) -> str:
    """A one-line, actionable message for an sqlite3 error (the raw text stays in ``__cause__``)."""
    text = str(exc)
    lowered = text.lower()
    if "locked" in lowered or "busy" in lowered:
        return f"registry {where} stayed locked by another writer for more than {busy_timeout:g} s ({text})"
    if "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        return f"registry {where} is not a SQLite database or is corrupt ({text}); move it aside to start anew"
    if "readonly" in lowered or "read-only" in lowered or "unable to open" in lowered:
        return f"registry {where} cannot be opened for writing ({text})"
    return f"registry {where}: {text}"


def is_postgres_dsn(text: str) -> bool:
    """True for a PostgreSQL connection URI (``postgresql://…`` or ``postgres://…``)."""
    return text.startswith(("postgresql://", "postgres://"))


def _iso_utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise RegistryError("retention cut-off must be a timezone-aware datetime")
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _record_values(rec: LabelRecord) -> tuple[object, ...]:
    """Validated column values for one record (hashes lower-case, watermark ID signed 64-bit)."""
    for name in ("output_sha256", "input_sha256"):
        if not _SHA256_HEX.fullmatch(getattr(rec, name)):
            raise RegistryError(f"{name} must be 64 hex digits, got {getattr(rec, name)!r}")
    if rec.watermark_id is not None and not 0 <= rec.watermark_id < _U64:
        raise RegistryError(f"watermark id {rec.watermark_id} does not fit in 64 bits")
    return (
        rec.produce_id,
        rec.content_producer,
        None if rec.watermark_id is None else to_signed64(rec.watermark_id),
        rec.output_sha256.lower(),
        rec.input_sha256.lower(),
        rec.media_kind,
        rec.media_format,
        rec.label_value,
        rec.key_id,
        rec.created_at,
    )


def _row_to_record(row: Sequence[Any]) -> LabelRecord:
    (produce_id, producer, wid, out_sha, in_sha, kind, fmt, label, key_id, created) = row
    return LabelRecord(
        produce_id=str(produce_id),
        content_producer=str(producer),
        watermark_id=None if wid is None else from_signed64(int(wid)),
        output_sha256=str(out_sha),
        input_sha256=str(in_sha),
        media_kind=str(kind),
        media_format=str(fmt),
        label_value=str(label),
        key_id=None if key_id is None else str(key_id),
        created_at=str(created),
    )


class Registry:
    """A registry backed by one SQLite file (or ``":memory:"``). Use :meth:`open`; close it or use ``with``."""

    def __init__(self, connection: sqlite3.Connection, where: str, busy_timeout: float) -> None:
        """Internal: wraps an open, migrated connection. Callers use :meth:`open`."""
        self._conn: sqlite3.Connection | None = connection
        self._where = where
        self._busy_timeout = busy_timeout
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path | str, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> Registry:
        """Open (creating parent folders and the schema when needed) the registry at ``path``.

        ``busy_timeout`` is how many seconds a write waits for a concurrent writer before failing.
        """
        if is_postgres_dsn(str(path)):
            from labeler.store.postgres import PostgresRegistry

            return PostgresRegistry.connect(str(path), busy_timeout)
        in_memory = str(path) == ":memory:"
        where = ":memory:" if in_memory else str(Path(path))
        if not in_memory:
            target = Path(path)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise RegistryError(f"cannot create the folder for registry {where}: {exc}") from exc
            if target.is_dir():
                raise RegistryError(f"registry path {where} is a folder, not a file")
        try:
            conn = sqlite3.connect(
                ":memory:" if in_memory else str(path),
                timeout=busy_timeout,
                isolation_level=None,  # autocommit; transactions are explicit (BEGIN IMMEDIATE)
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise RegistryError(_explain(exc, where, busy_timeout)) from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            _retry_busy(lambda: _prepare(conn, where), busy_timeout)
        except sqlite3.Error as exc:
            conn.close()
            raise RegistryError(_explain(exc, where, busy_timeout)) from exc
        except RegistryError:
            conn.close()
            raise
        return cls(conn, where, busy_timeout)

    @property
    def location(self) -> str:
        """The file path (or ``":memory:"``), for messages."""
        return self._where

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """The connection under the lock, with sqlite3 errors turned into RegistryError."""
        with self._lock:
            if self._conn is None:
                raise RegistryError(f"registry {self._where} is closed")
            try:
                yield self._conn
            except sqlite3.Error as exc:
                raise RegistryError(_explain(exc, self._where, self._busy_timeout)) from exc

    def record(self, rec: LabelRecord) -> None:
        """Store one labeling. Hashes are stored lower-case; the watermark ID as signed 64-bit."""
        self.record_many([rec])

    def record_many(self, records: Sequence[LabelRecord]) -> int:
        """Store many labelings in one transaction (all or none); returns how many were stored.

        Batching is what makes bulk imports fast: one commit (one fsync) per batch instead of per row.
        """
        rows = [_record_values(rec) for rec in records]
        if not rows:
            return 0
        with self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(f"INSERT INTO label_records ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        return len(rows)

    def _query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only query written with ``?`` placeholders."""
        with self._connection() as conn:
            return [tuple(row) for row in conn.execute(sql, params).fetchall()]

    def _write(self, sql: str, params: tuple[object, ...] = ()) -> int:
        """Run one write statement in its own transaction; returns the affected row count."""
        with self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                cursor = conn.execute(sql, params)
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return int(cursor.rowcount)

    def purge_older_than(self, cutoff: datetime) -> int:
        """Delete labelings created before ``cutoff`` (aware datetime); returns how many were deleted.

        ``created_at`` is ISO-8601 UTC text of one fixed shape, so text order is time order on both backends.
        """
        return self._write("DELETE FROM label_records WHERE created_at < ?", (_iso_utc(cutoff),))

    def purge(self, retention_days: int, now: datetime | None = None) -> int:
        """Apply the retention policy: delete labelings older than ``retention_days`` days."""
        if retention_days < 1:
            raise RegistryError(f"retention must be at least 1 day, got {retention_days}")
        moment = now or datetime.now(UTC)
        return self.purge_older_than(moment - timedelta(days=retention_days))

    def iter_records(self, batch: int = 5000) -> Iterator[LabelRecord]:
        """Every labeling, oldest first, fetched in keyset-paginated batches (constant memory for exports)."""
        last_id = -(1 << 63)
        while True:
            rows = self._query(
                f"SELECT id, {_COLUMNS} FROM label_records WHERE id > ? ORDER BY id LIMIT ?", (last_id, batch)
            )
            if not rows:
                return
            for row in rows:
                yield _row_to_record(row[1:])
            last_id = int(rows[-1][0])

    def stats(self) -> dict[str, Any]:
        """Counts for ``labeler registry stats``: total, by media kind, by producer (top 20), time span."""
        (total,) = self._query("SELECT COUNT(*) FROM label_records")[0]
        by_kind = self._query("SELECT media_kind, COUNT(*) FROM label_records GROUP BY media_kind ORDER BY media_kind")
        by_producer = self._query(
            "SELECT content_producer, COUNT(*) AS n FROM label_records GROUP BY content_producer "
            "ORDER BY n DESC, content_producer LIMIT 20"
        )
        (oldest, newest) = self._query("SELECT MIN(created_at), MAX(created_at) FROM label_records")[0]
        (with_wm,) = self._query("SELECT COUNT(*) FROM label_records WHERE watermark_id IS NOT NULL")[0]
        return {
            "location": self.location,
            "backend": self.backend,
            "schema_version": self.schema_version(),
            "records": int(total),
            "with_watermark": int(with_wm),
            "by_media_kind": {str(k): int(n) for k, n in by_kind},
            "top_producers": {str(k): int(n) for k, n in by_producer},
            "oldest": None if oldest is None else str(oldest),
            "newest": None if newest is None else str(newest),
        }

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return "sqlite"

    def _select(self, where: str, params: tuple[object, ...]) -> list[LabelRecord]:
        rows = self._query(f"SELECT {_COLUMNS} FROM label_records WHERE {where} ORDER BY id", params)
        return [_row_to_record(row) for row in rows]

    def by_watermark_id(self, watermark_id: int) -> list[LabelRecord]:
        """Every labeling that embedded ``watermark_id`` (oldest first)."""
        if not 0 <= watermark_id < _U64:
            return []
        return self._select("watermark_id = ?", (to_signed64(watermark_id),))

    def by_produce_id(self, produce_id: str) -> list[LabelRecord]:
        """Every labeling recorded under ``produce_id`` (oldest first)."""
        return self._select("produce_id = ?", (produce_id,))

    def by_sha256(self, sha256_hex: str) -> list[LabelRecord]:
        """Labelings whose output *or* input has this SHA-256 (hex, any case), oldest first."""
        digest = sha256_hex.strip().lower()
        if not _SHA256_HEX.fullmatch(digest):
            return []
        # Two indexed equality tests joined by OR: both SQLite and PostgreSQL use both indexes.
        return self._select("output_sha256 = ? OR input_sha256 = ?", (digest, digest))

    def count(self) -> int:
        """How many labelings are recorded."""
        (n,) = self._query("SELECT COUNT(*) FROM label_records")[0]
        return int(n)

    def schema_version(self) -> int:
        """The schema version of the open file (for ``labeler doctor``)."""
        with self._connection() as conn:
            return _current_version(conn)

    def close(self) -> None:
        """Close the connection; later calls raise RegistryError. Closing twice is harmless."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Registry:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Registry({self._where!r})"


def _prepare(conn: sqlite3.Connection, where: str) -> None:
    # Reading the header here is also what detects a file that is not a database.
    if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() not in ("wal", "memory"):
        conn.execute("PRAGMA journal_mode = WAL").fetchone()
    conn.execute("PRAGMA synchronous = NORMAL")  # durable in WAL mode except on power loss
    _migrate(conn, where)


def _retry_busy(step: Callable[[], None], busy_timeout: float) -> None:
    """Run ``step``, retrying while SQLite reports the file busy, for up to ``busy_timeout`` seconds.

    Needed because switching a fresh file to WAL (and the first read while another connection does
    so) can report SQLITE_BUSY at once, without consulting the busy handler.
    """
    deadline = time.monotonic() + busy_timeout
    delay = 0.002
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as exc:
            text = str(exc).lower()
            if ("locked" not in text and "busy" not in text) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def _current_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _migrate(conn: sqlite3.Connection, where: str) -> None:
    """Bring the schema up to SCHEMA_VERSION in one transaction (a no-op when it already is).

    An up-to-date file is recognised without taking the write lock, so opening never waits on writers.
    """
    has_table = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").fetchone()
    if has_table and _current_version(conn) == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(_SCHEMA_VERSION_TABLE)
        current = _current_version(conn)
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
                conn.execute(statement.format(**_SQLITE_DIALECT))
            conn.execute(
                "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.description, now),
            )
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
