"""The video branch of ``labeler label``: LabelOptions → VideoLabelSettings → label_video_file."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av

from labeler.errors import InvalidOption, KeyMissing, UnsupportedFormat
from labeler.explicit.audio_prompt import PromptOptions
from labeler.fileio import check_output, same_file
from labeler.metadata.aigc import AigcLabel
from labeler.provenance.c2pa import mime_for
from labeler.provenance.securitydata import LabelSigner
from labeler.provenance.video_steps import VideoProvenance, finish_video, temp_beside
from labeler.settings import LabelOptions, Limits
from labeler.sniffing import is_video_head
from labeler.store.registry import LabelRecord, Registry
from labeler.video.containers import sniff_video
from labeler.video.soundtrack import LabeledSoundtrack, prepare_soundtrack
from labeler.video.transcode import ProgressCallback, VideoLabelResult, VideoLabelSettings, label_video_file
from labeler.watermark import WatermarkKey, derive_watermark_id


def is_video_file(path: Path) -> bool:
    """A video container holding a video stream. MP4 and Matroska also carry audio-only files (AAC in an
    ``isom`` MP4, Opus in WebM); those go to the audio path, so the streams are looked at, not only the
    magic bytes. A file PyAV cannot open stays on the video path, which reports it as corrupt."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(64)
    except OSError:
        return False
    if not is_video_head(head):
        return False
    try:
        with av.open(str(path), "r") as container:
            return bool(container.streams.video)
    except (av.FFmpegError, OSError, ValueError):
        return True


def label_video_path(
    source: Path,
    destination: Path,
    key: WatermarkKey | None,
    options: LabelOptions,
    *,
    force: bool = False,
    label_seconds: float = 2.0,
    label_whole: bool = False,
    label_end: bool = False,
    crf: float | None = None,
    bitrate: int | None = None,
    progress: ProgressCallback | None = None,
    label_signer: LabelSigner | None = None,
    limits: Limits | None = None,
) -> dict[str, Any]:
    """Label a video file into ``destination`` streaming; returns a JSON-able summary. ``limits``: the frame
    size, duration and frame count accepted (default ``Limits()``)."""
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
        label_seconds=label_seconds, label_whole=label_whole, label_end=label_end, crf=crf, bitrate=bitrate,
        strength=options.watermark_strength, limits=limits or Limits(),
    )
    prompt = PromptOptions.parse(options.audio_prompt, options.audio_prompt_end) if options.visible else None
    soundtrack = prepare_soundtrack(source, settings.watermark_id, settings.key, prompt, options.watermark_strength,
                                    folder=destination.parent if str(destination.parent) else None)
    try:
        result, provenance = _label_and_sign(source, destination, settings, soundtrack, progress, options, aigc,
                                             watermark_id, label_signer)
    finally:
        if soundtrack is not None:
            soundtrack.close()
    return {
        "format": result.container, "video_codec": result.video_codec, "encoder": result.encoder,
        "rate_control": result.rate_control,
        "width": result.width, "height": result.height, "frames": result.frames,
        "duration_seconds": result.duration_seconds, "audio": result.audio,
        "soundtrack": {"prompt": soundtrack.prompt, "watermarked": soundtrack.watermark_id is not None,
                       "sample_rate": soundtrack.sample_rate} if soundtrack is not None else None,
        "aigc": provenance.aigc.to_dict() if provenance.aigc is not None else None,
        "label_key_id": label_signer.key_id if (label_signer is not None and provenance.aigc is not None) else None,
        "c2pa": provenance.c2pa,
        "c2pa_manifest_store": provenance.manifest_store,
        "content_producer": options.producer,
        "produce_id": produce_id,
        "label_value": options.label_value,
        "watermark_id": f"{watermark_id:016x}" if watermark_id is not None else None,
    }


def _label_and_sign(
    source: Path, destination: Path, settings: VideoLabelSettings, soundtrack: LabeledSoundtrack | None,
    progress: ProgressCallback | None, options: LabelOptions, aigc: AigcLabel, watermark_id: int | None,
    label_signer: LabelSigner | None,
) -> tuple[VideoLabelResult, VideoProvenance]:
    """The transcode, then (when signing) the signature steps of labeler/provenance/video_steps.py."""
    signing = options.c2pa is not None or (label_signer is not None and options.metadata)
    if not signing:
        result = label_video_file(source, destination, settings, soundtrack=soundtrack, progress=progress)
        provenance = VideoProvenance(aigc if options.metadata else None, None, None)
    else:  # label into a temporary file, then sign (labeler/provenance/video_steps.py)
        with open(source, "rb") as handle:
            kind = sniff_video(handle.read(64))
        if kind is None:
            raise UnsupportedFormat(f"{source} is not a video labeler reads")
        if options.c2pa is not None:
            mime_for(kind.name)  # before the transcode: UnsupportedFormat for containers c2pa cannot sign
        labeled = temp_beside(destination, destination.suffix or kind.suffix)
        try:
            result = label_video_file(source, labeled, settings, soundtrack=soundtrack, progress=progress)
        except BaseException:
            labeled.unlink(missing_ok=True)
            raise
        provenance = finish_video(labeled, destination, kind.name, kind.muxer, aigc if options.metadata else None,
                                  watermark_id, label_signer, options.c2pa)
    return result, provenance


def video_record(info: dict[str, Any], source: Path, output: Path, key: WatermarkKey | None) -> LabelRecord:
    """The registry record of a labeling summarised by :func:`label_video_path` (``output`` written)."""
    from labeler.video.verifying import file_sha256

    return LabelRecord(
        produce_id=info["produce_id"], content_producer=info["content_producer"],
        watermark_id=int(info["watermark_id"], 16) if info["watermark_id"] else None,
        output_sha256=info.get("output_sha256") or file_sha256(output), input_sha256=file_sha256(source),
        media_kind="video", media_format=info["format"], label_value=info["label_value"],
        key_id=key.key_id if (key is not None and info["watermark_id"]) else None,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def label_video_upload(
    source: Path, output: Path, key: WatermarkKey | None, options: LabelOptions, registry: Registry | None,
    label_signer: LabelSigner | None = None, limits: Limits | None = None,
) -> dict[str, Any]:
    """Label ``source`` over the (temp) file ``output`` and record it: the service's path for video
    uploads, where input and output stay on disk, streamed through FFmpeg. The caller removes both."""
    from labeler.video.verifying import file_sha256

    info = label_video_path(source, output, key, options, force=True, label_signer=label_signer, limits=limits)
    info.pop("c2pa_manifest_store", None)  # bytes; kept only by the CLI's recording path
    info.update(output_sha256=file_sha256(output), output_bytes=output.stat().st_size,
                recorded=registry is not None)
    if registry is not None:
        registry.record(video_record(info, source, output, key))
    return info
