"""``labeler registry stats|purge|export`` and ``--db`` on both backends."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from labeler.cli import main
from labeler.store import Registry
from tests.store.test_registry import make_record


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def test_stats_purge_export(registry_location: str, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    with Registry.open(registry_location) as reg:
        reg.record_many([
            make_record(1, created_at=(now - timedelta(days=400)).isoformat(timespec="seconds")),
            make_record(2, created_at=(now - timedelta(days=100)).isoformat(timespec="seconds")),
            make_record(3, created_at=now.isoformat(timespec="seconds")),
        ])
    status, out, err = _run("registry", "stats", "--db", registry_location, "--json")
    assert status == 0, err
    assert json.loads(out)["records"] == 3
    status, out, err = _run("registry", "purge", "--db", registry_location, "--json")
    assert status == 0, err
    assert json.loads(out) == {"deleted": 1, "retention_days": 183}
    status, out, err = _run("registry", "purge", "--db", registry_location, "--retention-days", "30")
    assert status == 0 and "deleted 1 record" in out
    status, out, err = _run("registry", "export", str(tmp_path / "r.csv"), "--db", registry_location)
    assert status == 0 and "exported 1 record" in out
    assert (tmp_path / "r.csv").read_text().splitlines()[1].startswith("p-3,")
    status, out, err = _run("registry", "export", str(tmp_path / "r.jsonl"), "--db", registry_location)
    assert json.loads((tmp_path / "r.jsonl").read_text())["produce_id"] == "p-3"


def test_bad_retention_is_invalid_option(tmp_path: Path) -> None:
    status, _, err = _run("registry", "purge", "--db", str(tmp_path / "r.sqlite3"), "--retention-days", "0")
    assert status == 2 and "INVALID_OPTION" in err and "retention" in err


def test_unreachable_postgres_is_a_clean_error() -> None:
    status, _, err = _run("registry", "stats", "--db", "postgresql://x:pw@127.0.0.1:1/none")
    assert status == 2 and "cannot connect" in err and "pw" not in err
