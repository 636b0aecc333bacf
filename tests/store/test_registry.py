from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labeler.errors import RegistryError
from labeler.store import LabelRecord, Registry, default_registry_path, from_signed64, to_signed64
from labeler.store.registry import SCHEMA_VERSION


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def make_record(n: int = 0, watermark_id: int | None = 0x0123456789ABCDEF, **changes: object) -> LabelRecord:
    rec = LabelRecord(
        produce_id=f"p-{n}",
        content_producer="acme",
        watermark_id=watermark_id,
        output_sha256=sha(f"out-{n}"),
        input_sha256=sha(f"in-{n}"),
        media_kind="image",
        media_format="jpeg",
        label_value="1",
        key_id="k1",
        created_at="2025-09-01T12:00:00+00:00",
    )
    return replace(rec, **changes)  # type: ignore[arg-type]


def test_round_trip_and_lookups(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "registry.sqlite3"
    with Registry.open(path) as reg:
        assert reg.count() == 0
        a, b = make_record(1), make_record(2, watermark_id=None, key_id=None)
        reg.record(a)
        reg.record(b)
        assert reg.count() == 2
        assert reg.by_produce_id("p-1") == [a]
        assert reg.by_produce_id("nope") == []
        assert reg.by_watermark_id(0x0123456789ABCDEF) == [a]
        assert reg.by_watermark_id(7) == []
        assert reg.by_sha256(a.output_sha256) == [a]
        assert reg.by_sha256(b.input_sha256) == [b]
        assert reg.by_sha256(a.output_sha256.upper()) == [a]
        assert reg.by_sha256("not-a-hash") == []
    assert path.exists()
    with Registry.open(path) as reg:  # persisted
        assert reg.by_produce_id("p-2") == [b]


def test_repeated_labelings_come_back_oldest_first() -> None:
    with Registry.open(":memory:") as reg:
        recs = [make_record(i, produce_id="same") for i in range(3)]
        for rec in recs:
            reg.record(rec)
        assert reg.by_produce_id("same") == recs
        assert reg.by_watermark_id(0x0123456789ABCDEF) == recs


@pytest.mark.parametrize("wid", [0, 1, 2**63 - 1, 2**63, 2**63 + 1, 2**64 - 1])
def test_64_bit_boundary_ids_round_trip(tmp_path: Path, wid: int) -> None:
    path = tmp_path / "r.sqlite3"
    with Registry.open(path) as reg:
        reg.record(make_record(watermark_id=wid))
        reg.record(make_record(9, watermark_id=(wid + 1) % 2**64))
    with Registry.open(path) as reg:
        (got,) = reg.by_watermark_id(wid)
        assert got.watermark_id == wid and got.produce_id == "p-0"


def test_signed_mapping() -> None:
    assert to_signed64(2**63) == -(2**63)
    assert to_signed64(2**64 - 1) == -1
    assert to_signed64(5) == 5
    for value in (0, 2**63 - 1, 2**63, 2**64 - 1):
        assert from_signed64(to_signed64(value)) == value
    with pytest.raises(ValueError):
        to_signed64(2**64)
    with pytest.raises(ValueError):
        to_signed64(-1)


def test_out_of_range_id_and_bad_hash_rejected() -> None:
    with Registry.open(":memory:") as reg:
        with pytest.raises(RegistryError):
            reg.record(make_record(watermark_id=2**64))
        with pytest.raises(RegistryError):
            reg.record(make_record(watermark_id=-1))
        with pytest.raises(RegistryError):
            reg.record(make_record(output_sha256="abc"))
        assert reg.by_watermark_id(2**64) == []
        assert reg.count() == 0


def test_migrations_idempotent_on_reopen(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    for i in range(3):
        with Registry.open(path) as reg:
            assert reg.schema_version() == SCHEMA_VERSION
            reg.record(make_record(i))
    conn = sqlite3.connect(path)
    try:
        versions = conn.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
        assert versions == [(v,) for v in range(1, SCHEMA_VERSION + 1)]
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {
            "label_records_watermark_id",
            "label_records_produce_id",
            "label_records_output_sha256",
            "label_records_input_sha256",
        } <= indexes
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT COUNT(*) FROM label_records").fetchone()[0] == 3
    finally:
        conn.close()


def test_newer_schema_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    Registry.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_version VALUES (?, 'future', 'x')", (SCHEMA_VERSION + 1,))
    conn.commit()
    conn.close()
    with pytest.raises(RegistryError, match="newer"):
        Registry.open(path)


def test_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    path.write_bytes(b"this is not a database at all\x00\xff" * 200)
    with pytest.raises(RegistryError, match="not a SQLite database or is corrupt") as info:
        Registry.open(path)
    assert info.value.code == "REGISTRY_ERROR"
    assert str(path) in info.value.message


def test_unwritable_location_parent_is_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    with pytest.raises(RegistryError, match="cannot create the folder"):
        Registry.open(blocker / "sub" / "registry.sqlite3")


def test_path_is_a_folder(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="folder"):
        Registry.open(tmp_path)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores directory permissions")
def test_unwritable_dir(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(RegistryError):
            Registry.open(locked / "registry.sqlite3")
    finally:
        locked.chmod(0o700)


def test_locked_too_long(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    with Registry.open(path, busy_timeout=0.05) as reg:
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another writer that never lets go
        try:
            with pytest.raises(RegistryError, match="locked"):
                reg.record(make_record())
            assert reg.count() == 0  # readers are not blocked in WAL mode
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        reg.record(make_record())
        assert reg.count() == 1


def test_closed_registry_raises() -> None:
    reg = Registry.open(":memory:")
    reg.close()
    reg.close()
    with pytest.raises(RegistryError, match="closed"):
        reg.count()


def test_two_objects_two_threads_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def writer(tag: str) -> None:
        try:
            start.wait()
            with Registry.open(path, busy_timeout=30) as reg:
                for i in range(500):
                    reg.record(make_record(i, produce_id=f"{tag}-{i}", watermark_id=i))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(tag,)) for tag in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Registry.open(path) as reg:
        assert reg.count() == 1000
        assert len(reg.by_watermark_id(499)) == 2
        assert reg.by_produce_id("a-0")[0].watermark_id == 0


def test_one_object_shared_between_threads() -> None:
    with Registry.open(":memory:") as reg:

        def write(tag: int) -> None:
            for i in range(100):
                reg.record(make_record(i, produce_id=f"{tag}"))

        threads = [threading.Thread(target=write, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert reg.count() == 400


def test_default_path_is_in_user_data_dir() -> None:
    path = default_registry_path()
    assert path.name == "registry.sqlite3" and path.parent.name == "labeler"


hex64 = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
records = st.builds(
    LabelRecord,
    produce_id=st.text(max_size=60),
    content_producer=st.text(min_size=1, max_size=60),
    watermark_id=st.none() | st.integers(min_value=0, max_value=2**64 - 1),
    output_sha256=hex64,
    input_sha256=hex64,
    media_kind=st.sampled_from(["image", "audio", "video"]),
    media_format=st.sampled_from(["jpeg", "png", "webp"]),
    label_value=st.sampled_from(["1", "2", "3"]),
    key_id=st.none() | st.text(max_size=20),
    created_at=st.datetimes().map(lambda d: d.isoformat() + "+00:00"),
)


@settings(max_examples=60, deadline=None)
@given(records)
def test_record_round_trip_property(rec: LabelRecord) -> None:
    with Registry.open(":memory:") as reg:
        reg.record(rec)
        assert reg.by_produce_id(rec.produce_id) == [rec]
        assert reg.by_sha256(rec.output_sha256) == [rec]
        if rec.watermark_id is not None:
            assert reg.by_watermark_id(rec.watermark_id) == [rec]
