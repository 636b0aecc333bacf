"""Registry benchmark: insert and lookup throughput on SQLite (a file in a temp folder) and, with
``--postgres``, on a throwaway local PostgreSQL server (started like the tests do).

Rows: ``record()`` one transaction per row; ``record_many()`` in batches; lookups by watermark ID,
ProduceID and content hash on the filled table. Target (issue 8): ≥ 2,000 inserts/s on SQLite.
Seeded and reproducible; the CPU is shared with other work while this runs, so numbers are indicative.

Writes ``out/bench/registry.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from labeler.store import LabelRecord, Registry

TARGET_INSERTS_PER_S = 2000


def make_records(n: int, seed: int = 0) -> list[LabelRecord]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        out.append(LabelRecord(
            produce_id=f"bench-{seed}-{i}",
            content_producer=f"producer-{i % 17}",
            watermark_id=rng.getrandbits(64),
            output_sha256=hashlib.sha256(f"o{seed}-{i}".encode()).hexdigest(),
            input_sha256=hashlib.sha256(f"i{seed}-{i}".encode()).hexdigest(),
            media_kind="image",
            media_format="jpeg",
            label_value="1",
            key_id="bench",
            created_at="2026-11-01T12:00:00+00:00",
        ))
    return out


def _rate(n: int, fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return n / (time.perf_counter() - start)


def bench(location: str, n_single: int, n_batch: int, batch: int, n_lookup: int) -> dict[str, Any]:
    singles = make_records(n_single, seed=1)
    batched = make_records(n_batch, seed=2)
    with Registry.open(location) as reg:
        def one_by_one() -> None:
            for rec in singles:
                reg.record(rec)

        def in_batches() -> None:
            for i in range(0, len(batched), batch):
                reg.record_many(batched[i:i + batch])

        single_rate = _rate(n_single, one_by_one)
        batch_rate = _rate(n_batch, in_batches)
        probe = random.Random(3).sample(batched, n_lookup)

        def lookups() -> None:
            for rec in probe:
                assert rec.watermark_id is not None
                assert reg.by_watermark_id(rec.watermark_id)
                assert reg.by_produce_id(rec.produce_id)
                assert reg.by_sha256(rec.output_sha256)

        lookup_rate = _rate(3 * n_lookup, lookups)
        count = reg.count()
    return {
        "backend": "postgresql" if location.startswith("postgres") else "sqlite",
        "rows": count,
        "record_per_s": round(single_rate),
        "record_many_per_s": round(batch_rate),
        "batch_size": batch,
        "lookups_per_s": round(lookup_rate),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=5000, help="records inserted one per transaction")
    parser.add_argument("--batched", type=int, default=100_000, help="records inserted with record_many")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--postgres", action="store_true", help="also benchmark a throwaway local PostgreSQL")
    parser.add_argument("--out", type=Path, default=Path("out/bench/registry.json"))
    args = parser.parse_args(argv)
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(bench(str(Path(tmp) / "r.sqlite3"), args.single, args.batched, args.batch_size, args.lookups))
    if args.postgres:
        from tests.store.conftest import _PgServer

        server = _PgServer()
        try:
            dsn = server.start()
            results.append(bench(dsn, args.single, args.batched, args.batch_size, args.lookups))
        finally:
            server.stop()
    print(f"{'backend':12} {'rows':>8} {'record/s':>10} {'record_many/s':>14} {'lookups/s':>10}")
    for r in results:
        print(f"{r['backend']:12} {r['rows']:>8} {r['record_per_s']:>10} {r['record_many_per_s']:>14} "
              f"{r['lookups_per_s']:>10}")
    sqlite = results[0]
    ok = sqlite["record_per_s"] >= TARGET_INSERTS_PER_S or sqlite["record_many_per_s"] >= TARGET_INSERTS_PER_S
    print(f"target ≥ {TARGET_INSERTS_PER_S} inserts/s on SQLite: {'met' if ok else 'MISSED'} "
          f"(record: {sqlite['record_per_s']}/s, record_many: {sqlite['record_many_per_s']}/s)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"target_inserts_per_s": TARGET_INSERTS_PER_S, "results": results,
                                    "note": "CPU shared with other helpers while measured"}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
