"""``labeler batch label|verify SRC --engine local|ray [--address ...]`` (wired from labeler.cli)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TextIO

from labeler.errors import InvalidOption
from labeler.settings import LabelOptions

__all__ = ["add_batch_parser", "cmd_batch"]


def add_batch_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``batch label`` and ``batch verify`` to the top-level subparsers."""
    batch = sub.add_parser("batch", help="label or verify a whole folder on a process pool or a Ray cluster")
    batch_sub = batch.add_subparsers(dest="batch_command", required=True, parser_class=type(batch))
    for name in ("label", "verify"):
        p = batch_sub.add_parser(name, parents=[common], help=f"{name} every image under SRC")
        p.add_argument("src", type=Path, help="folder (searched recursively) or a single file")
        p.add_argument("--engine", choices=("local", "ray"), default="local")
        p.add_argument("--address", help="Ray cluster address (e.g. ray://head:10001; default: a local Ray)")
        p.add_argument("--workers", type=int, default=None, help="processes / Ray actors (default: CPU count)")
        if name == "label":
            p.add_argument("--out", type=Path, required=True, help="output folder (mirrors SRC's layout)")
            p.add_argument("--producer", default="labeler", help="ContentProducer")
            p.add_argument("--force", action="store_true", help="replace existing outputs")
        else:
            p.add_argument("--report-jsonl", type=Path, metavar="PATH")
            p.add_argument("--report-csv", type=Path, metavar="PATH")
            p.add_argument("--report-html", type=Path, metavar="PATH")


def cmd_batch(args: argparse.Namespace, files: list[Path], key: Any, trust: Any, out: TextIO) -> int:
    """Run the batch job; 2 if any file failed, 1 (verify) if any file carries no label, else 0."""
    from labeler.batch.jobs import LabelJob, run_label, run_verify
    from labeler.store.cli import registry_location

    if not files:
        raise InvalidOption("no files under SRC")
    location = None if args.no_registry else registry_location(args)
    if args.batch_command == "label":
        root = args.src if args.src.is_dir() else args.src.parent
        job = LabelJob(key=key, registry_location=location, options=LabelOptions(producer=args.producer),
                       source_root=root, output_root=args.out, force=args.force)
        entries = run_label(files, job, args.engine, args.workers, args.address)
        errors = sum("error" in e for e in entries)
        status = 2 if errors else 0
        summary: dict[str, Any] = {"files": len(files), "labelled": len(files) - errors, "errors": errors}
    else:
        from labeler.report.audit import AuditConfig, verdict_counts
        from labeler.report.writers import write_reports

        html = args.report_html is not None
        config = AuditConfig(key=key, registry_location=location, trust=trust, thumbnails=html, heatmap=html)
        entries = run_verify(files, config, args.engine, args.workers, args.address)
        write_reports(entries, args.report_jsonl, args.report_csv, args.report_html)
        counts = verdict_counts(entries)
        status = 2 if counts.get("error") else (1 if counts.get("none") else 0)
        summary = {"files": len(files), "by_verdict": counts}
    summary.update(engine=args.engine, exit_status=status)
    if args.json:
        out.write(json.dumps({"results": entries, "summary": summary}, ensure_ascii=False, indent=2) + "\n")
    else:
        for e in entries:
            if "error" in e:
                out.write(f"{e['source']}: ERROR {e['error']['code']}: {e['error']['message']}\n")
        out.write("summary: " + json.dumps(summary) + "\n")
    return status
