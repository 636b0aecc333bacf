"""``labeler label`` for video files: streamed labeling with a progress bar on stderr."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from labeler.provenance.securitydata import LabelSigner
from labeler.settings import LabelOptions
from labeler.video.labeling import label_video_path, video_record
from labeler.watermark import WatermarkKey


def _progress_bar(err: TextIO) -> tuple[object, object]:
    """A one-line bar, redrawn in place, when stderr is a terminal (scripts and logs get no bar)."""
    state = {"last": -1}
    shown = bool(getattr(err, "isatty", lambda: False)())

    def update(done: float, total: float) -> None:
        if total <= 0 or not shown:
            return
        percent = min(100, int(100 * done / total))
        if percent != state["last"]:
            state["last"] = percent
            bar = "#" * (percent // 4)
            err.write(f"\r[{bar:<25}] {percent:3d}% {done:6.1f}/{total:.1f} s")
            err.flush()

    def finish() -> None:
        if state["last"] >= 0:
            err.write("\n")

    return update, finish


def _record(args: argparse.Namespace, info: dict[str, Any], key: WatermarkKey | None) -> bool:
    """Record the labeling (after the output exists), like the image and audio paths do."""
    from labeler.cli import _registry

    with _registry(args) as registry:
        if registry is None:
            return False
        registry.record(video_record(info, args.input, args.output, key))
    return True


def cmd_label_video(
    args: argparse.Namespace, options: LabelOptions, key: WatermarkKey | None, out: TextIO, err: TextIO | None = None,
    label_signer: LabelSigner | None = None,
) -> int:
    err = err or sys.stderr
    update, finish = _progress_bar(err)
    try:
        info = label_video_path(
            args.input, args.output, key, options, force=args.force, label_seconds=args.video_label_seconds,
            label_whole=args.video_label_whole, label_end=args.video_label_end, crf=args.crf, bitrate=args.bitrate,
            progress=update,  # type: ignore[arg-type]
            label_signer=label_signer,
        )
    finally:
        finish()  # type: ignore[operator]
    manifest_store = info.pop("c2pa_manifest_store", None)
    recorded = _record(args, info, key)
    if recorded:  # durable Content Credentials: the manifest kept under its watermark ID
        from labeler.provenance.pipeline_steps import keep_manifest

        keep_manifest(info["c2pa"], manifest_store, int(info["watermark_id"], 16) if info["watermark_id"] else None)
    info.update(input=str(args.input), output=str(args.output), recorded=recorded)
    if args.json:
        out.write(json.dumps(info, ensure_ascii=False, indent=2) + "\n")
    else:
        out.write(f"labeled {args.input} -> {args.output} ({info['format'].upper()} {info['video_codec']} "
                  f"{info['width']}x{info['height']}, {info['frames']} frames, audio {info['audio']})\n")
        out.write(f"  video encode   {info['encoder']}, {info['rate_control']}\n")
        out.write(f"  watermark      id {info['watermark_id'] or 'off'}\n")
        sound = info.get("soundtrack")
        if sound:
            parts = (["\"AI\" rhythm prompt over the opening"] if sound["prompt"] else []) + (
                ["audio watermark (same id)"] if sound["watermarked"] else [])
            out.write(f"  soundtrack     {', '.join(parts) or 'unchanged'}\n")
        out.write("  label signed   " + (f"SecurityData key {info['label_key_id']}" if info["label_key_id"] else "no")
                  + "\n")
        out.write("  C2PA           " + ("signed (last step)" if info["c2pa"] else "off") + "\n")
    return 0
