"""``labeler verify`` in auditor mode (--workers, --resume, --progress, --report-*), wired from labeler.cli."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from labeler.report.audit import AuditConfig, run_audit, verdict_counts
from labeler.report.writers import write_reports
from labeler.settings import TrustSettings
from labeler.watermark.keys import WatermarkKey

__all__ = ["add_audit_arguments", "audit_requested", "cmd_audit"]


def add_audit_arguments(ver: argparse.ArgumentParser) -> None:
    """The auditor flags of ``labeler verify``."""
    ver.add_argument("--workers", type=int, default=1, help="verify with N worker processes (default 1)")
    ver.add_argument("--resume", type=Path, metavar="JOURNAL",
                     help="journal (JSON lines) of finished files: appended to, and files already in it are skipped")
    ver.add_argument("--progress", action="store_true", help="progress bar on stderr even when it is not a terminal")
    ver.add_argument("--report-jsonl", type=Path, metavar="PATH", help="write a JSON-lines report")
    ver.add_argument("--report-csv", type=Path, metavar="PATH", help="write a CSV report")
    ver.add_argument("--report-html", type=Path, metavar="PATH",
                     help="write a self-contained HTML report (thumbnails, heat maps, summary by verdict)")


def audit_requested(args: argparse.Namespace) -> bool:
    """True when any auditor flag was given (otherwise ``verify`` behaves exactly as before)."""
    return bool(args.workers != 1 or args.resume or args.progress or args.report_jsonl or args.report_csv
                or args.report_html)


def cmd_audit(
    args: argparse.Namespace, files: list[Path], key: WatermarkKey | None, trust: TrustSettings,
    registry_location: str | None, out: TextIO, err: TextIO, human: Callable[[dict[str, Any], TextIO], None],
) -> int:
    """Run the audit; exit status as ``verify``: 2 any error, 1 any unlabelled file, else 0."""
    config = AuditConfig(key=key, registry_location=registry_location, trust=trust, user_declared=args.declared,
                         thumbnails=args.report_html is not None, heatmap=args.report_html is not None)
    show_bar = args.progress or err.isatty()

    def echo(entry: dict[str, Any]) -> None:
        if args.json:
            return
        if show_bar:
            return  # the bar owns the terminal; the reports carry the details
        if "error" in entry:
            err.write(f"{entry['source']}: ERROR {entry['error']['code']}: {entry['error']['message']}\n")
        else:
            human(entry, out)

    entries = run_audit(files, config, workers=args.workers, journal=args.resume,
                        progress=err if show_bar else None, on_entry=echo)
    write_reports(entries, args.report_jsonl, args.report_csv, args.report_html)
    counts = verdict_counts(entries)
    errors, unlabelled = counts.get("error", 0), counts.get("none", 0)
    status = 2 if errors else (1 if unlabelled else 0)
    if args.json:
        summary = {"files": len(files), "errors": errors, "unlabelled": unlabelled, "exit_status": status,
                   "by_verdict": counts}
        out.write(json.dumps({"summary": summary}, ensure_ascii=False, indent=2) + "\n")
    elif show_bar:
        out.write("summary: " + ", ".join(f"{k} {n}" for k, n in sorted(counts.items())) + "\n")
    return status
