"""The same registry behaviour on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import multiprocessing
from dataclasses import replace

import pytest

from labeler.errors import RegistryError
from labeler.store import Registry
from labeler.store.postgres import PostgresRegistry, mask_dsn
from labeler.store.registry import SCHEMA_VERSION
from tests.store.test_registry import make_record, sha


def test_round_trip_and_lookups(registry_location: str) -> None:
    with Registry.open(registry_location) as registry:
        assert registry.schema_version() == SCHEMA_VERSION
        first, top = make_record(1), make_record(2, watermark_id=2**64 - 1)
        registry.record(first)
        registry.record(top)
        registry.record(make_record(3, watermark_id=None))
        assert registry.count() == 3
        assert registry.by_watermark_id(first.watermark_id or 0) == [first]
        assert registry.by_watermark_id(2**64 - 1) == [top]  # the signed BIGINT mapping survives
        assert registry.by_produce_id("p-3")[0].watermark_id is None
        assert registry.by_sha256(sha("in-2").upper()) == [top]
        assert registry.by_sha256("not-a-hash") == []


def test_record_many_is_all_or_nothing(registry_location: str) -> None:
    with Registry.open(registry_location) as registry:
        registry.record_many([make_record(i) for i in range(50)])
        assert registry.count() == 50
        with pytest.raises(RegistryError):
            registry.record_many([make_record(100), replace(make_record(101), output_sha256="bad")])
        assert registry.count() == 50 and registry.by_produce_id("p-100") == []


def test_reopening_keeps_records_and_schema(registry_location: str) -> None:
    with Registry.open(registry_location) as registry:
        registry.record(make_record(1))
    with Registry.open(registry_location) as again:
        assert again.count() == 1 and again.schema_version() == SCHEMA_VERSION


def _writer(location: str, start: int, count: int) -> None:
    with Registry.open(location) as registry:
        for i in range(start, start + count):
            registry.record(make_record(i, watermark_id=i))


def test_concurrent_writer_processes_lose_nothing(registry_location: str) -> None:
    Registry.open(registry_location).close()  # schema first, like a deployment's migration step
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(registry_location, n * 1000, 150)) for n in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    with Registry.open(registry_location) as registry:
        assert registry.count() == 600
        assert registry.by_watermark_id(3149) == [make_record(3149, watermark_id=3149)]


def test_postgres_specifics(postgres_server: object) -> None:
    with pytest.raises(RegistryError, match="cannot connect") as caught:
        Registry.open("postgresql://someone:hunter2@127.0.0.1:1/nowhere", busy_timeout=2)
    assert "hunter2" not in str(caught.value)
    assert mask_dsn("postgresql://u:pw@h/db") == "postgresql://u:***@h/db"
    dsn = postgres_server.new_database()  # type: ignore[attr-defined]
    registry = Registry.open(dsn)
    assert isinstance(registry, PostgresRegistry)
    registry.close()
    with pytest.raises(RegistryError, match="closed"):
        registry.count()
