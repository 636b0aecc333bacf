"""Export the registry as JSON lines or CSV (streamed: constant memory however large the registry)."""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, fields
from pathlib import Path

from labeler.errors import RegistryError
from labeler.store.registry import LabelRecord, Registry

__all__ = ["FIELDS", "export_csv", "export_jsonl"]

#: Column order of both exports (the LabelRecord fields; watermark IDs as unsigned decimal).
FIELDS: tuple[str, ...] = tuple(f.name for f in fields(LabelRecord))


def _open_for_writing(path: Path) -> Path:
    tmp = path.with_name(path.name + ".part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RegistryError(f"cannot create the folder for export {path}: {exc}") from exc
    return tmp


def export_jsonl(registry: Registry, path: Path) -> int:
    """Write every record as one JSON object per line (oldest first); returns the count.

    Written to ``path.part`` and renamed, so an interrupted export never leaves a truncated file behind.
    """
    tmp = _open_for_writing(path)
    n = 0
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            for rec in registry.iter_records():
                fh.write(json.dumps(asdict(rec), ensure_ascii=False) + "\n")
                n += 1
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RegistryError(f"cannot write export {path}: {exc}") from exc
    return n


def export_csv(registry: Registry, path: Path) -> int:
    """Write every record as a CSV row with a header (empty cell for a missing watermark ID/key)."""
    tmp = _open_for_writing(path)
    n = 0
    try:
        with tmp.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(FIELDS)
            for rec in registry.iter_records():
                row = asdict(rec)
                writer.writerow(["" if row[name] is None else row[name] for name in FIELDS])
                n += 1
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RegistryError(f"cannot write export {path}: {exc}") from exc
    return n
