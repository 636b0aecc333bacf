"""The registry's behaviour on both backends: SQLite and a real PostgreSQL server."""

from __future__ import annotations

import csv
import json
import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from labeler.errors import RegistryError
from labeler.store import LabelRecord, Registry
from labeler.store.export import export_csv, export_jsonl
from tests.store.test_registry import make_record


def test_round_trip_lookups_and_indexes(registry_location: str) -> None:
    top = (1 << 64) - 1
    with Registry.open(registry_location) as reg:
        assert reg.schema_version() >= 1
        reg.record(make_record(1, watermark_id=top))
        reg.record(make_record(2, watermark_id=5))
        assert reg.count() == 2
        (hit,) = reg.by_watermark_id(top)
        assert hit == make_record(1, watermark_id=top)
        assert reg.by_produce_id(hit.produce_id) == [hit]
        assert reg.by_sha256(hit.output_sha256.upper()) == [hit]
        assert reg.by_sha256(hit.input_sha256) == [hit]
        assert reg.by_watermark_id(6) == []
        indexes = _index_names(reg)
        for column in ("watermark_id", "produce_id", "output_sha256"):
            assert f"label_records_{column}" in indexes


def _index_names(reg: Registry) -> set[str]:
    if reg.backend == "sqlite":
        rows = reg._query("SELECT name FROM sqlite_master WHERE type = 'index'")
    else:
        rows = reg._query("SELECT indexname FROM pg_indexes WHERE tablename = 'label_records'")
    return {str(r[0]) for r in rows}


def test_reopen_keeps_data_and_does_not_remigrate(registry_location: str) -> None:
    with Registry.open(registry_location) as reg:
        reg.record(make_record(1))
    with Registry.open(registry_location) as reg:
        assert reg.count() == 1
        assert reg._query("SELECT COUNT(*) FROM schema_version")[0][0] == reg.schema_version()


def test_batch_insert_is_all_or_nothing(registry_location: str) -> None:
    with Registry.open(registry_location) as reg:
        assert reg.record_many([make_record(n) for n in range(100)]) == 100
        bad = [make_record(200), make_record(201, output_sha256="nothex")]
        with pytest.raises(RegistryError):
            reg.record_many(bad)
        assert reg.count() == 100


def test_retention_purges_only_old_records(registry_location: str) -> None:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    old = (now - timedelta(days=200)).isoformat(timespec="seconds")
    recent = (now - timedelta(days=10)).isoformat(timespec="seconds")
    with Registry.open(registry_location) as reg:
        reg.record_many([make_record(1, created_at=old), make_record(2, created_at=recent)])
        assert reg.purge(183, now=now) == 1
        assert [r.created_at for r in reg.iter_records()] == [recent]
        with pytest.raises(RegistryError):
            reg.purge(0, now=now)


def test_export_jsonl_and_csv_round_trip(registry_location: str, tmp_path: Path) -> None:
    records = [make_record(n, watermark_id=None if n == 3 else (1 << 64) - n) for n in range(1, 8)]
    with Registry.open(registry_location) as reg:
        reg.record_many(records)
        assert list(reg.iter_records(batch=3)) == records
        assert export_jsonl(reg, tmp_path / "out.jsonl") == 7
        assert export_csv(reg, tmp_path / "out.csv") == 7
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [LabelRecord(**row) for row in lines] == records
    with (tmp_path / "out.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[2]["watermark_id"] == "" and rows[0]["watermark_id"] == str((1 << 64) - 1)
    assert [r["produce_id"] for r in rows] == [r.produce_id for r in records]


def test_stats(registry_location: str) -> None:
    with Registry.open(registry_location) as reg:
        reg.record_many([make_record(1), make_record(2, watermark_id=None, media_kind="audio")])
        stats = reg.stats()
    assert stats["records"] == 2 and stats["with_watermark"] == 1
    assert stats["by_media_kind"] == {"audio": 1, "image": 1}


def _writer(location: str, start: int, n: int) -> None:
    with Registry.open(location, busy_timeout=30.0) as reg:
        for i in range(start, start + n, 10):
            if i % 20 == 0:
                reg.record_many([make_record(j) for j in range(i, i + 10)])
            else:
                for j in range(i, i + 10):
                    reg.record(make_record(j))


def test_concurrent_writer_processes_lose_nothing(registry_location: str) -> None:
    Registry.open(registry_location).close()  # migrate first so the writers race on rows, not DDL
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(registry_location, k * 1000, 200)) for k in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    with Registry.open(registry_location) as reg:
        assert reg.count() == 800
        ids = sorted(r.produce_id for r in reg.iter_records())
    assert ids == sorted(make_record(j).produce_id for k in range(4) for j in range(k * 1000, k * 1000 + 200))


def test_concurrent_first_open_migrates_once(registry_location: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(registry_location, k * 100, 20)) for k in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    with Registry.open(registry_location) as reg:
        assert reg.count() == 60
        assert reg._query("SELECT COUNT(*) FROM schema_version")[0][0] == reg.schema_version()


def test_postgres_unreachable_is_a_registry_error() -> None:
    with pytest.raises(RegistryError, match="cannot connect") as info:
        Registry.open("postgresql://nobody:secret@127.0.0.1:1/none", busy_timeout=1.0)
    assert "secret" not in str(info.value)
