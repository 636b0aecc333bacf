"""Streaming video labeling: demux → decode → mark Y plane / blend label → encode → mux, frame by frame.

Nothing is held in memory beyond one decoded frame. Output goes to a temporary file beside the
destination and is renamed into place only when complete, so an exception or KeyboardInterrupt
mid-stream leaves no partial output.

AIGC metadata place. MP4/MOV: FFmpeg's mov muxer with ``movflags=use_metadata_tags`` writes arbitrary
keys as an ``mdta`` metadata item list (``moov/udta/meta`` with ``hdlr``=mdta, ``keys`` and ``ilst``
atoms; QuickTime File Format "Metadata" chapter, ISO/IEC 14496-12 §8.11.1 meta box). WebM/Matroska:
a ``SimpleTag`` named ``AIGC`` in the segment's ``Tags`` element (Matroska spec, Tagging). Both are read
back by FFmpeg's demuxers as the container-level ``AIGC`` metadata entry.

Soundtrack hook. Audio streams are stream-copied unless a :data:`SoundtrackProcessor` is passed:
then the first audio stream is decoded to float32 PCM (frames x channels), passed through the
processor chunk by chunk, and re-encoded with the input's codec. ``labeler.video.soundtrack`` builds the
processor that carries the audio watermark and the audible prompt (see docs/video.md).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from labeler.errors import CorruptMedia, InvalidOption, OutputNotWritable, UnsupportedFormat
from labeler.explicit.video_overlay import YuvSprite, blend_yuv420, render_sprite
from labeler.settings import Limits, VisibleLabelOptions
from labeler.video.containers import VideoContainer, sniff_video
from labeler.video.limits import FrameBudget, check_video_header
from labeler.video.orientation import Orientation, frame_orientation
from labeler.video.rate_control import ENCODER_TUNING, RateControl, choose_rate_control
from labeler.video.soundtrack import AUDIO_ENCODERS, codec_id_name, frame_pcm
from labeler.watermark.keys import WatermarkKey
from labeler.watermark.video import FrameMarker, FrameSample, VideoDetection, detect_frames

#: Decoder codec name → the encoder used to re-encode it, first available wins.
ENCODERS: dict[str, tuple[str, ...]] = {
    "h264": ("libx264",),
    "hevc": ("libx265",),
    "vp9": ("libvpx-vp9",),
    "av1": ("libsvtav1", "libaom-av1"),
}
AIGC_TAG = "AIGC"

#: Float32 PCM (frames x channels) and its sample rate → processed PCM of the same shape.
SoundtrackProcessor = Callable[[np.ndarray, int], np.ndarray]
ProgressCallback = Callable[[float, float], None]  # (seconds done, total seconds)


@dataclass(frozen=True)
class VideoLabelSettings:
    watermark_id: int | None
    key: WatermarkKey | None
    aigc_json: str | None
    label: VisibleLabelOptions | None = field(default_factory=VisibleLabelOptions)
    label_seconds: float = 2.0
    label_whole: bool = False
    #: Also label the closing ``label_seconds`` (GB 45438 allows the end and the middle as well).
    label_end: bool = False
    #: Rate control: ``bitrate`` (bit/s) or ``crf`` when given, else the input's own x264/x265 settings,
    #: else a CRF that spends the input's bits, else a near-transparent CRF (``labeler.video.rate_control``).
    crf: float | None = None
    bitrate: int | None = None
    strength: float = 1.0
    #: Frame size, duration and frame count accepted (``labeler.video.limits``).
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self) -> None:
        if self.label_seconds < 2.0 and not self.label_whole:
            raise InvalidOption("the video label must stay on screen for at least 2 s")
        if self.crf is not None and not 0 <= self.crf <= 63:
            raise InvalidOption(f"CRF must be 0..63, got {self.crf}")
        if self.bitrate is not None and self.bitrate <= 0:
            raise InvalidOption("bitrate must be positive")


@dataclass(frozen=True)
class VideoLabelResult:
    container: str
    video_codec: str
    encoder: str
    width: int
    height: int
    frames: int
    duration_seconds: float
    audio: str  # "copy", "reencoded" or "none"
    rate_control: str = ""  # e.g. "crf 23 (the input's x264 settings)"


def _open_input(path: Path) -> tuple[av.container.InputContainer, VideoContainer]:
    with open(path, "rb") as handle:
        kind = sniff_video(handle.read(64))
    if kind is None:
        raise UnsupportedFormat(f"{path.name} is not an MP4, MOV or WebM video")
    try:
        return av.open(str(path), "r"), kind
    except av.FFmpegError as exc:
        raise CorruptMedia(f"cannot open video: {exc}") from None


def _pick_encoder(codec: str) -> str:
    for name in ENCODERS.get(codec, ()):
        if name in av.codecs_available:
            return name
    raise UnsupportedFormat(f"no encoder available for {codec} video")


#: Working pixel formats: 8-bit 4:2:0, and 10-bit 4:2:0 for input deeper than 8 bits when the encoder
#: takes it (libx264, libx265 and SVT-AV1 here; this FFmpeg's libvpx-vp9 is 8-bit only).
FORMAT_8BIT = "yuv420p"
FORMAT_10BIT = "yuv420p10le"


def _ndarray_planes(frame: av.VideoFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Writable views of a yuv420p (uint8) or yuv420p10le (uint16) frame's planes, cropped from line size
    to picture size."""
    dtype = np.uint16 if frame.format.name == FORMAT_10BIT else np.uint8
    views = []
    for index, plane in enumerate(frame.planes):
        width = frame.width if index == 0 else (frame.width + 1) // 2
        height = frame.height if index == 0 else (frame.height + 1) // 2
        raw = np.frombuffer(memoryview(plane), dtype=dtype).reshape(-1, plane.line_size // dtype().itemsize)
        views.append(raw[:height, :width])
    return views[0], views[1], views[2]


def _new_yuv_frame(y: np.ndarray, u: np.ndarray, v: np.ndarray, like: av.VideoFrame) -> av.VideoFrame:
    pix_fmt = FORMAT_10BIT if y.dtype == np.uint16 else FORMAT_8BIT
    out = av.VideoFrame(like.width, like.height, pix_fmt)
    for plane, data in zip(out.planes, (y, u, v), strict=True):
        dst = np.frombuffer(memoryview(plane), dtype=data.dtype).reshape(-1, plane.line_size // data.itemsize)
        dst[: data.shape[0], : data.shape[1]] = data
    out.pts = like.pts
    out.time_base = like.time_base
    return out


def _working_format(stream: Any, encoder: str) -> str:
    """10-bit 4:2:0 when the input has more than 8 bits per sample and ``encoder`` writes 10-bit 4:2:0,
    else 8-bit (what labeling always wrote before: a 10-bit source lost its depth)."""
    try:
        bits = max(c.bits for c in av.VideoFormat(str(stream.codec_context.pix_fmt)).components)
        formats = {f.name for f in av.codec.Codec(encoder, "w").video_formats or ()}
    except (TypeError, ValueError, AttributeError, av.FFmpegError):
        return FORMAT_8BIT
    return FORMAT_10BIT if bits > 8 and FORMAT_10BIT in formats else FORMAT_8BIT


def label_video_file(
    source: Path,
    destination: Path,
    settings: VideoLabelSettings,
    soundtrack: SoundtrackProcessor | None = None,
    progress: ProgressCallback | None = None,
) -> VideoLabelResult:
    """Label ``source`` into ``destination`` (atomically; the source is never modified)."""
    inp, kind = _open_input(source)
    with contextlib.closing(inp):
        if not inp.streams.video:
            raise UnsupportedFormat("the file has no video stream")
        vin = inp.streams.video[0]
        check_video_header(inp, vin, settings.limits)  # before anything is probed, decoded or written
        codec = codec_id_name(vin.codec_context)
        encoder = _pick_encoder(codec)
        duration = float(inp.duration / av.time_base) if inp.duration else 0.0
        directory = destination.parent
        try:
            fd, tmp_name = tempfile.mkstemp(prefix=".labeler-", suffix=kind.suffix, dir=directory)
        except OSError as exc:
            raise OutputNotWritable(f"cannot write to {directory}: {exc}") from None
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            work_format = _working_format(vin, encoder)
            rate_control = choose_rate_control(source, encoder, settings.crf, settings.bitrate, work_format)
            result = _transcode(inp, vin, kind, encoder, work_format, rate_control, tmp, settings, soundtrack,
                                progress, duration)
            os.replace(tmp, destination)
            return result
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def _transcode(
    inp: av.container.InputContainer,
    vin: av.VideoStream,
    kind: VideoContainer,
    encoder: str,
    work_format: str,
    rate_control: RateControl,
    tmp: Path,
    settings: VideoLabelSettings,
    soundtrack: SoundtrackProcessor | None,
    progress: ProgressCallback | None,
    duration: float,
) -> VideoLabelResult:
    options = {"movflags": "use_metadata_tags"} if kind.muxer in ("mp4", "mov") else {}
    out = av.open(str(tmp), "w", format=kind.muxer, options=options)
    with contextlib.closing(out):
        for name, value in inp.metadata.items():
            if name.lower() not in ("encoder", "major_brand", "minor_version", "compatible_brands"):
                out.metadata[name] = value
        if settings.aigc_json is not None:
            out.metadata[AIGC_TAG] = settings.aigc_json
        rate = vin.average_rate or vin.guessed_rate or Fraction(25)
        vout: Any = out.add_stream(encoder, rate=rate)
        vout.width, vout.height = vin.codec_context.width, vin.codec_context.height
        vout.pix_fmt = work_format
        vout.time_base = vin.time_base
        for name, value in vin.metadata.items():
            if name.lower() in ("rotate", "language", "handler_name"):
                vout.metadata[name] = value
        cc = vin.codec_context
        for attr in ("color_range", "color_primaries", "color_trc", "colorspace"):
            with contextlib.suppress(AttributeError, ValueError, TypeError):
                setattr(vout.codec_context, attr, getattr(cc, attr))
        if rate_control.bitrate is not None:
            vout.bit_rate = rate_control.bitrate
        vout.options = rate_control.encoder_options(encoder) | ENCODER_TUNING.get(encoder, {})

        audio_map: dict[int, Any] = {}
        audio_mode = "none"
        processed_audio: av.AudioStream | None = None
        audio_out: Any = None
        for stream in inp.streams.audio:
            if soundtrack is not None and processed_audio is None:
                audio_codec = AUDIO_ENCODERS.get(codec_id_name(stream.codec_context))
                if audio_codec is None:
                    raise UnsupportedFormat(f"cannot re-encode {codec_id_name(stream.codec_context)} audio")
                audio_out = out.add_stream(audio_codec, rate=stream.codec_context.sample_rate)
                audio_out.layout = stream.codec_context.layout
                if stream.codec_context.bit_rate:
                    audio_out.bit_rate = stream.codec_context.bit_rate
                processed_audio = stream
                audio_mode = "reencoded"
            else:
                audio_map[stream.index] = out.add_stream_from_template(stream)
                audio_mode = "copy" if audio_mode == "none" else audio_mode

        marker = (
            FrameMarker(settings.watermark_id, settings.key, settings.strength)
            if settings.watermark_id is not None and settings.key is not None
            else None
        )
        sprites: dict[tuple[int, int], YuvSprite] = {}
        orientation: Orientation | None = None  # the stream's, read from its first frame
        frames = 0
        streams = [vin, *inp.streams.audio]
        # Frame N+1 is marked on a worker thread while frame N is in the encoder (PyAV releases the GIL
        # in avcodec_send_frame, NumPy/OpenCV in their kernels): the mark costs CPU, not wall time, as
        # long as x264 leaves a core idle. One worker, so the pattern and sprite caches see one thread.
        marking = ThreadPoolExecutor(max_workers=1, thread_name_prefix="labeler-mark")
        # where the picture ends (the container may run on with sound), for a label on the closing seconds
        video_end = float(vin.duration * vin.time_base) if vin.duration and vin.time_base else duration
        pending: Future[av.VideoFrame] | None = None
        budget = FrameBudget(settings.limits)
        try:
            for packet in inp.demux(streams):
                if packet.stream.index in audio_map:
                    if packet.dts is None:
                        continue
                    packet.stream = audio_map[packet.stream.index]
                    out.mux(packet)
                    continue
                if processed_audio is not None and packet.stream.index == processed_audio.index:
                    for aframe in packet.decode():
                        out.mux(audio_out.encode(_process_audio(aframe, soundtrack)))  # type: ignore[arg-type]
                    continue
                for frame in packet.decode():
                    if not isinstance(frame, av.VideoFrame):
                        continue
                    budget.admit(frame)
                    if orientation is None:  # the display matrix (phones' portrait video), before any encode
                        orientation = frame_orientation(frame)
                        if orientation.matrix is not None:  # copied as it is: rotation, mirror and all
                            vout.set_display_matrix(list(orientation.matrix))
                    marked = marking.submit(_label_frame, frame, settings, marker, sprites, orientation, video_end,
                                            work_format)
                    if pending is not None:
                        out.mux(vout.encode(pending.result()))
                    pending = marked
                    frames += 1
                    if progress is not None and frame.time is not None:
                        progress(float(frame.time), duration)
            if pending is not None:
                out.mux(vout.encode(pending.result()))
                pending = None
            out.mux(vout.encode(None))
            if audio_out is not None:
                out.mux(audio_out.encode(None))
        except av.FFmpegError as exc:
            raise CorruptMedia(f"video decode/encode failed: {exc}") from None
        finally:
            if pending is not None:
                pending.cancel()
            marking.shutdown(wait=True)
        if frames == 0:
            raise CorruptMedia("the video stream has no decodable frames")
    return VideoLabelResult(
        container=kind.name, video_codec=codec_id_name(vin.codec_context), encoder=encoder,
        width=vout.width, height=vout.height, frames=frames, duration_seconds=duration, audio=audio_mode,
        rate_control=rate_control.describe(),
    )


def _process_audio(frame: av.AudioFrame, soundtrack: SoundtrackProcessor) -> av.AudioFrame:
    processed = np.asarray(soundtrack(frame_pcm(frame), frame.sample_rate), dtype=np.float32)
    out = av.AudioFrame.from_ndarray(np.ascontiguousarray(processed.T), format="fltp", layout=frame.layout.name)
    out.sample_rate = frame.sample_rate
    out.pts = frame.pts
    out.time_base = frame.time_base
    return out


def _label_frame(
    frame: av.VideoFrame,
    settings: VideoLabelSettings,
    marker: FrameMarker | None,
    sprites: dict[tuple[int, int], YuvSprite],
    orientation: Orientation,
    duration: float = 0.0,
    work_format: str = FORMAT_8BIT,
) -> av.VideoFrame:
    if frame.format.name != work_format:
        frame = frame.reformat(format=work_format)
    y, u, v = _ndarray_planes(frame)
    if marker is None:
        y = y.copy()
    elif y.dtype == np.uint8:
        y = marker.mark(y)
    else:
        y = _mark_10bit(y, marker)
    u, v = u.copy(), v.copy()
    seconds = float(frame.time) if frame.time is not None else 0.0
    closing = settings.label_end and duration > 0 and seconds >= duration - settings.label_seconds
    if settings.label is not None and (settings.label_whole or seconds < settings.label_seconds or closing):
        size = (frame.height, frame.width)
        sprite = sprites.get(size)
        if sprite is None:
            sprite = sprites[size] = render_sprite(
                frame.height, frame.width, settings.label, 90 * orientation.turns, orientation.mirrored)
        blend_yuv420(y, u, v, sprite)
    return _new_yuv_frame(y, u, v, frame)


def _mark_10bit(y: np.ndarray, marker: FrameMarker) -> np.ndarray:
    """The 8-bit mark of the frame's top 8 bits, added to the 10-bit plane at 4x (the same change in
    picture terms; the detector reads frames as 8-bit grey)."""
    top = np.minimum((y + 2) >> 2, 255).astype(np.uint8)
    change = marker.mark(top).astype(np.int16) - top
    return np.clip(y.astype(np.int32) + change * 4, 0, 1023).astype(np.uint16)


def read_aigc(path: Path) -> dict[str, Any] | None:
    """The container-level AIGC JSON of a video, or None."""
    inp, _ = _open_input(path)
    with contextlib.closing(inp):
        for name, value in inp.metadata.items():
            if name.upper() == AIGC_TAG:
                try:
                    parsed = json.loads(value)
                except ValueError:
                    return None
                return parsed if isinstance(parsed, dict) else None
    return None


#: Videos longer than this are first verified from their key frames alone (the decoder skips all other
#: frames: with x264's default interval of 250 frames, about 1/250 of a full decode); the full sampled
#: pass runs only when that finds nothing. Shorter videos get the full pass at once, which also reports
#: every second.
KEY_FRAME_FIRST_SECONDS = 20.0
#: About this many key frames at most are used in the key-frame pass (spread over the video when there are more).
MAX_KEY_FRAMES = 96


def detect_video_file(
    path: Path, key: WatermarkKey, max_frames: int = 48, segment_seconds: float = 1.0,
    key_frame_first_seconds: float = KEY_FRAME_FIRST_SECONDS, limits: Limits | None = None,
) -> VideoDetection:
    """Find the mark in a video: for long videos the key frames first, then (short videos, or when the
    key frames decode nothing) up to ``max_frames`` frames spread evenly over the video plus every key
    frame. One union bound covers both passes. Every decoded frame counts against ``limits``."""
    limits = limits or Limits()
    prior = 0
    duration = _duration_seconds(path)
    if duration > key_frame_first_seconds:
        found = _detect_pass(path, key, segment_seconds, True, MAX_KEY_FRAMES, limits)
        if found.detected:
            return found
        prior = found.hypotheses
    return _detect_pass(path, key, segment_seconds, False, max_frames, limits, prior)


def _duration_seconds(path: Path) -> float:
    inp, _ = _open_input(path)
    with contextlib.closing(inp):
        return float(inp.duration / av.time_base) if inp.duration else 0.0


def _detect_pass(
    path: Path, key: WatermarkKey, segment_seconds: float, key_frames_only: bool, max_frames: int, limits: Limits,
    prior: int = 0,
) -> VideoDetection:
    inp, _ = _open_input(path)
    with contextlib.closing(inp):
        if not inp.streams.video:
            raise UnsupportedFormat("the file has no video stream")
        vin = inp.streams.video[0]
        check_video_header(inp, vin, limits)
        budget = FrameBudget(limits)
        vin.thread_type = "AUTO"
        duration = float(inp.duration / av.time_base) if inp.duration else 0.0
        rate = float(vin.average_rate or 25)
        if key_frames_only:
            vin.codec_context.skip_frame = "NONKEY"  # the decoder skips everything but key frames
        step = 1 if key_frames_only else max(1, int(duration * rate) // max_frames)
        # Key frames are taken at least this far apart, so an all-intra or short-GOP video still gives at
        # most about max_frames of them.
        key_spacing = duration / max_frames if duration > 0 else 0.0

        def sampled() -> Iterator[FrameSample]:
            next_key = 0.0
            try:
                for index, frame in enumerate(inp.decode(vin)):
                    budget.admit(frame)
                    seconds = float(frame.time or 0.0)
                    key_frame = bool(frame.key_frame)
                    take_key = key_frame and seconds + 1e-6 >= next_key
                    if take_key:
                        next_key = seconds + key_spacing
                    if take_key or (not key_frames_only and index % step == 0):
                        yield FrameSample(seconds, frame.to_ndarray(format="gray"), key_frame)
            except av.FFmpegError as exc:
                raise CorruptMedia(f"video decode failed: {exc}") from None

        return detect_frames(sampled(), key, segment_seconds, prior_hypotheses=prior)
