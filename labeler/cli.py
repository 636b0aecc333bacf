"""The ``labeler`` command.

Exit status: 0 success (for ``verify``: every file carries a label), 1 ``verify`` found files without
any label, 2 errors (bad input, bad options, unwritable output; each printed as ``CODE: message``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from labeler import __version__
from labeler.errors import InvalidOption, KeyMissing, LabelerError
from labeler.keyfile import default_key_path, init_key_file, resolve_key
from labeler.settings import Corner, LabelOptions, VisibleLabelOptions
from labeler.store.registry import Registry, default_registry_path

EXIT_OK, EXIT_UNLABELLED, EXIT_ERROR = 0, 1, 2
MEDIA_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad options in labeler's error format and exit status."""

    def error(self, message: str) -> Any:
        raise InvalidOption(message)


def _hex_id(text: str) -> int:
    try:
        value = int(text, 16)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a hexadecimal watermark id: {text!r}") from None
    if not 0 <= value < 2**64:
        raise argparse.ArgumentTypeError("a watermark id has at most 16 hex digits")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="labeler", description="Label AI-generated media (GB 45438-2025) and verify labels.")
    parser.add_argument("--version", action="version", version=f"labeler {__version__}")
    common = _Parser(add_help=False)
    common.add_argument("--key-file", type=Path, help="watermark key file (default: $LABELER_KEY, "
                        f"$LABELER_KEY_FILE, then {default_key_path()})")
    common.add_argument("--registry", type=Path, help=f"SQLite registry file (default: {default_registry_path()})")
    common.add_argument("--no-registry", action="store_true", help="do not record or look up labelings")
    common.add_argument("--json", action="store_true", help="print machine-readable JSON")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    lab = sub.add_parser("label", parents=[common], help="label one image into a new file")
    lab.add_argument("input", type=Path)
    lab.add_argument("output", type=Path)
    lab.add_argument("--force", action="store_true", help="replace the output if it exists")
    lab.add_argument("--producer", default="labeler", help="ContentProducer (service name or TC260 code)")
    lab.add_argument("--produce-id", help="ProduceID (default: a new unique ID)")
    lab.add_argument("--label-value", default="1", choices=("1", "2", "3"), help="AIGC Label value")
    lab.add_argument("--no-visible", action="store_true", help="no visible text label")
    lab.add_argument("--no-metadata", action="store_true", help="no AIGC metadata label")
    lab.add_argument("--no-watermark", action="store_true", help="no invisible watermark")
    lab.add_argument("--label-text", default="AI生成", help="visible text (default: AI生成)")
    lab.add_argument("--position", default=Corner.BOTTOM_RIGHT.value, choices=[c.value for c in Corner])
    lab.add_argument("--label-height", type=float, default=0.05,
                     help="text height as a fraction of the short side (≥ 0.05)")
    lab.add_argument("--font", type=Path, help="TTF/OTF font for the visible label")
    lab.add_argument("--watermark-id", type=_hex_id, help="64-bit watermark ID in hex (default: derived "
                     "from producer and ProduceID)")
    lab.add_argument("--strength", type=float, default=1.0, help="watermark strength multiplier (0.25–4)")
    lab.add_argument("--video-label-seconds", type=float, default=2.0, help="video: label the opening N s (≥ 2)")
    lab.add_argument("--video-label-whole", action="store_true", help="video: label every frame")
    lab.add_argument("--crf", type=int, help="video: encoder CRF (default: near-transparent for the codec)")
    lab.add_argument("--bitrate", type=int, help="video: target bitrate in bit/s instead of CRF")

    ver = sub.add_parser("verify", parents=[common], help="verify files and report their labels")
    ver.add_argument("paths", nargs="+", type=Path, help="files, or folders (their images)")
    ver.add_argument("--recursive", "-r", action="store_true", help="descend into sub-folders")
    ver.add_argument("--declared", action="store_true", help="the uploader declared the content AI-generated")

    keys = sub.add_parser("keys", help="manage the watermark key")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, parser_class=_Parser)
    init = keys_sub.add_parser("init", help="create a new random key (development or first setup)")
    init.add_argument("--path", type=Path, default=None, help=f"where (default: {default_key_path()})")
    init.add_argument("--force", action="store_true", help="replace an existing key")
    show = keys_sub.add_parser("show", help="print the configured key's public ID")
    show.add_argument("--key-file", type=Path)
    return parser


@contextlib.contextmanager
def _registry(args: argparse.Namespace) -> Iterator[Registry | None]:
    if args.no_registry:
        yield None
        return
    registry = Registry.open(args.registry or default_registry_path())
    try:
        yield registry
    finally:
        registry.close()


def _label_options(args: argparse.Namespace) -> LabelOptions:
    return LabelOptions(
        producer=args.producer,
        produce_id=args.produce_id,
        label_value=args.label_value,
        visible=not args.no_visible,
        metadata=not args.no_metadata,
        watermark=not args.no_watermark,
        visible_label=VisibleLabelOptions(
            text=args.label_text, position=Corner.parse(args.position), height_ratio=args.label_height,
            font_path=args.font,
        ),
        watermark_id=args.watermark_id,
        watermark_strength=args.strength,
    )


def cmd_label(args: argparse.Namespace, out: TextIO) -> int:
    from labeler.pipeline import Labeler

    options = _label_options(args)
    key = resolve_key(args.key_file) if options.watermark else None
    from labeler.video.labeling import is_video_file

    if is_video_file(args.input):  # video: streamed, never read into memory (labeler/video/)
        from labeler.video.cli_video import cmd_label_video

        return cmd_label_video(args, options, key, out)
    with _registry(args) as registry:
        result = Labeler(key, registry).label_file(args.input, args.output, options, force=args.force)
    info = result.to_dict()
    info.update(input=str(args.input), output=str(args.output), recorded=registry is not None)
    if args.json:
        out.write(json.dumps(info, ensure_ascii=False, indent=2) + "\n")
        return EXIT_OK
    out.write(f"labeled {args.input} -> {args.output} ({result.format.upper()} {result.width}x{result.height})\n")
    vis = info["visible_label"]
    out.write("  visible label  " + (
        f"\"{vis['text']}\" {vis['corner']}, text {vis['text_height_px']} px "
        f"({vis['text_height_ratio'] * 100:.1f}% of the short side)" if vis else "off") + "\n")
    aigc = result.aigc
    out.write("  metadata       " + (
        f"AIGC Label={aigc.label} ContentProducer={aigc.content_producer} ProduceID={aigc.produce_id}"
        if aigc else "off") + "\n")
    if result.watermark_id is not None:
        out.write(f"  watermark      id {result.watermark_id:016x}\n")
    else:
        out.write(f"  watermark      {'skipped: ' + result.watermark_skipped if result.watermark_skipped else 'off'}\n")
    out.write("  registry       " + ("recorded" if registry is not None else "off") + "\n")
    return EXIT_OK


def _expand(paths: Sequence[Path], recursive: bool) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = path.rglob("*") if recursive else path.iterdir()
            files.extend(sorted(p for p in found if p.is_file() and p.suffix.lower() in MEDIA_SUFFIXES))
        else:
            files.append(path)
    return files


def _human_report(report: dict[str, Any], out: TextIO) -> None:
    out.write(f"{report['source']}: {report['verdict'].upper()} — {report['reason']}\n")
    meta = report["metadata"]
    if meta["present"]:
        fields = meta["fields"] or {}
        shown = " ".join(f"{k}={v}" for k, v in fields.items() if v not in ("", None))
        meaning = f" ({meta['meaning']})" if meta["meaning"] else ""
        out.write(f"  metadata   {meta['location']}: {shown}{meaning}\n")
        for problem in meta["problems"]:
            out.write(f"             problem: {problem}\n")
    else:
        out.write("  metadata   no AIGC label\n")
    wm = report["watermark"]
    if not wm["checked"]:
        out.write(f"  watermark  not checked: {wm.get('note')}\n")
    elif wm["detected"]:
        geometry = ""
        if abs(wm["scale"] - 1.0) > 1e-9 or wm["rotation_degrees"] != 0.0:
            geometry = f"; found at scale {wm['scale']:.3f}, rotation {wm['rotation_degrees']:+.2f}°"
        out.write(f"  watermark  detected id {wm['watermark_id']} (score {wm['score']:.1f}, "
                  f"false-positive probability {wm['false_positive_probability']:.1e}{geometry})\n")
    else:
        out.write(f"  watermark  not detected ({wm['reason']}; score {wm['score']:.1f})\n")
    for rec in report["registry"]:
        out.write(f"  registry   ProduceID {rec['produce_id']} by {rec['content_producer']} at {rec['created_at']}\n")


def cmd_verify(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from labeler.verify import Verifier

    key = None
    with contextlib.suppress(KeyMissing):
        key = resolve_key(args.key_file)
    if key is None and not args.json:
        err.write("labeler: note: no watermark key configured; checking metadata only\n")
    files = _expand(args.paths, args.recursive)
    if not files:
        raise InvalidOption("no files to verify")
    results: list[dict[str, Any]] = []
    errors = unlabelled = 0
    with _registry(args) as registry:
        verifier = Verifier(key, registry)
        for path in files:
            try:
                report = verifier.verify_file(path, user_declared=args.declared).to_dict()
            except LabelerError as exc:
                errors += 1
                entry = {"source": str(path), "error": {"code": exc.code, "message": exc.message}}
                results.append(entry)
                if not args.json:
                    err.write(f"{path}: ERROR {exc.code}: {exc.message}\n")
                continue
            unlabelled += report["verdict"] == "none"
            results.append(report)
            if not args.json:
                _human_report(report, out)
    status = EXIT_ERROR if errors else (EXIT_UNLABELLED if unlabelled else EXIT_OK)
    if args.json:
        summary = {"files": len(files), "errors": errors, "unlabelled": unlabelled, "exit_status": status}
        out.write(json.dumps({"results": results, "summary": summary}, ensure_ascii=False, indent=2) + "\n")
    return status


def cmd_keys(args: argparse.Namespace, out: TextIO) -> int:
    if args.keys_command == "init":
        path = args.path or default_key_path()
        key = init_key_file(path, force=args.force)
        out.write(f"created watermark key {key.key_id} at {path} (keep it secret; back it up)\n")
    else:
        key = resolve_key(args.key_file)
        out.write(f"{key.key_id}\n")
    return EXIT_OK


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        args = build_parser().parse_args(argv)
        if args.command == "label":
            return cmd_label(args, out)
        if args.command == "verify":
            return cmd_verify(args, out, err)
        return cmd_keys(args, out)
    except LabelerError as exc:
        err.write(f"labeler: {exc.code}: {exc.message}\n")
        return exc.exit_status
    except KeyboardInterrupt:
        err.write("labeler: interrupted\n")
        return 130
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
