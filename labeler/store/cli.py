"""``labeler registry stats|purge|export``: the registry's maintenance commands (wired in labeler.cli)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any, TextIO

from labeler.errors import InvalidOption
from labeler.store.export import export_csv, export_jsonl
from labeler.store.registry import DEFAULT_RETENTION_DAYS, Registry, default_registry_path

__all__ = ["ENV_DB", "add_registry_parser", "cmd_registry", "registry_location"]

#: Environment variable naming the registry (a SQLite path or a ``postgresql://`` DSN) when --db is absent.
ENV_DB = "LABELER_DB"


def registry_location(args: argparse.Namespace) -> str:
    """``--db``, then ``--registry``, then ``$LABELER_DB``, then the default SQLite file."""
    db = getattr(args, "db", None)
    if db:
        return str(db)
    reg = getattr(args, "registry", None)
    if reg:
        return str(reg)
    return os.environ.get(ENV_DB) or str(default_registry_path())


def add_registry_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``registry`` command group to the top-level subparsers."""
    reg = sub.add_parser("registry", parents=[common], help="registry maintenance: stats, retention purge, export")
    reg_sub = reg.add_subparsers(dest="registry_command", required=True, parser_class=type(reg))
    reg_sub.add_parser("stats", parents=[common], help="record counts, producers, time span")
    purge = reg_sub.add_parser("purge", parents=[common], help="delete records older than the retention period")
    purge.add_argument("--retention-days", type=int, default=DEFAULT_RETENTION_DAYS,
                       help=f"keep this many days (default: {DEFAULT_RETENTION_DAYS}, about six months)")
    export = reg_sub.add_parser("export", parents=[common], help="write every record as JSON lines or CSV")
    export.add_argument("output", type=Path)
    export.add_argument("--format", choices=("jsonl", "csv"), default=None,
                        help="default: from the output's suffix (.csv → CSV, else JSON lines)")


def cmd_registry(args: argparse.Namespace, out: TextIO) -> int:
    """Run one ``labeler registry`` sub-command; 0 on success."""
    if getattr(args, "no_registry", False):
        raise InvalidOption("--no-registry makes no sense with `labeler registry`")
    with Registry.open(registry_location(args)) as registry:
        if args.registry_command == "stats":
            stats = registry.stats()
            if args.json:
                out.write(json.dumps(stats, indent=2) + "\n")
            else:
                for key, value in stats.items():
                    out.write(f"{key:16} {value}\n")
            return 0
        if args.registry_command == "purge":
            if args.retention_days < 1:
                raise InvalidOption(f"--retention-days must be at least 1, got {args.retention_days}")
            deleted = registry.purge(args.retention_days)
            if args.json:
                out.write(json.dumps({"deleted": deleted, "retention_days": args.retention_days}) + "\n")
            else:
                out.write(f"deleted {deleted} record(s) older than {args.retention_days} days\n")
            return 0
        fmt = args.format or ("csv" if args.output.suffix.lower() == ".csv" else "jsonl")
        n = export_csv(registry, args.output) if fmt == "csv" else export_jsonl(registry, args.output)
        if args.json:
            out.write(json.dumps({"exported": n, "output": str(args.output), "format": fmt}) + "\n")
        else:
            out.write(f"exported {n} record(s) to {args.output} ({fmt})\n")
        return 0
