"""The video branch of ``labeler label``: LabelOptions → VideoLabelSettings → label_video_file."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from labeler.errors import InvalidOption, KeyMissing
from labeler.fileio import check_output, same_file
from labeler.metadata.aigc import AigcLabel
from labeler.settings import LabelOptions
from labeler.video.containers import sniff_video
from labeler.video.transcode import ProgressCallback, VideoLabelSettings, label_video_file
from labeler.watermark import WatermarkKey, derive_watermark_id


def is_video_file(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return sniff_video(handle.read(64)) is not None
    except OSError:
        return False


def label_video_path(
    source: Path,
    destination: Path,
    key: WatermarkKey | None,
    options: LabelOptions,
    *,
    force: bool = False,
    label_seconds: float = 2.0,
    label_whole: bool = False,
    crf: int | None = None,
    bitrate: int | None = None,
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Label a video file into ``destination`` streaming; returns a JSON-able summary."""
    if same_file(source, destination) or source.resolve() == destination.resolve():
        raise InvalidOption("the output must be a different file from the input (originals are never modified)")
    check_output(destination, force)
    if options.watermark and key is None:
        raise KeyMissing("watermarking needs a key (run `labeler keys init`, or pass --no-watermark)")
    produce_id = options.produce_id or uuid.uuid4().hex
    aigc = AigcLabel(label=options.label_value, content_producer=options.producer, produce_id=produce_id)
    watermark_id = None
    if options.watermark:
        watermark_id = (
            options.watermark_id if options.watermark_id is not None
            else derive_watermark_id(options.producer, produce_id)
        )
    settings = VideoLabelSettings(
        watermark_id=watermark_id, key=key if options.watermark else None,
        aigc_json=aigc.to_json() if options.metadata else None,
        label=options.visible_label if options.visible else None,
        label_seconds=label_seconds, label_whole=label_whole, crf=crf, bitrate=bitrate,
        strength=options.watermark_strength,
    )
    result = label_video_file(source, destination, settings, progress=progress)
    return {
        "format": result.container, "video_codec": result.video_codec, "encoder": result.encoder,
        "width": result.width, "height": result.height, "frames": result.frames,
        "duration_seconds": result.duration_seconds, "audio": result.audio,
        "aigc": aigc.to_dict() if options.metadata else None,
        "content_producer": options.producer,
        "produce_id": produce_id,
        "label_value": options.label_value,
        "watermark_id": f"{watermark_id:016x}" if watermark_id is not None else None,
    }
