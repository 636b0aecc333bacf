"""A video's soundtrack labels: the audible prompt laid over its opening and the audio watermark.

The first audio stream is decoded once before the transcode (``prepare_soundtrack``) into a temporary
file (labeler/audio/raw.py, shared with audio files), the prompt is laid over its opening there, the
audio watermark is embedded window by window (whole watermark periods at a time), and the labeled
samples are handed back chunk by chunk as the transcode decodes the same stream again (the same decoder
yields the same chunks). Memory stays bounded by one window whatever the soundtrack's length; the
temporary file holds the soundtrack (23 MB per minute of 48 kHz stereo) and disappears when closed.

PCM layout: float32 frames x channels, nominally in [-1, 1].
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

from labeler.audio.raw import PERIODS_PER_WINDOW as PERIODS_PER_WINDOW  # re-exported
from labeler.audio.raw import LoudnessMeter, RawPcm, watermark_windows
from labeler.errors import CorruptMedia
from labeler.explicit.audio_prompt import (
    PromptDetection,
    PromptOptions,
    detect_prompt,
    lay_prompt,
    prompt_samples,
)
from labeler.settings import Limits
from labeler.watermark.audio import AudioDetection, AudioWatermarkSettings, detect_audio
from labeler.watermark.keys import WatermarkKey

#: Most of a soundtrack :func:`decode_soundtrack` reads into memory by default (10 min of 48 kHz stereo is
#: 230 MB of float32). Labeling does not use it: it works from a temporary file, window by window.
MAX_SOUNDTRACK_SECONDS = 600.0
#: Decoder codec name → the encoder the transcode writes a labeled soundtrack back with. Other codecs
#: (PCM, AC-3, FLAC, ...) are stream-copied unlabeled.
AUDIO_ENCODERS: dict[str, str] = {"aac": "aac", "opus": "libopus", "mp3": "libmp3lame"}
#: Verify reads at most this much of a soundtrack: the prompt is in its first seconds and six 10-s
#: segments (plus their fold) find the mark; 60 s of 48 kHz stereo is 23 MB of float32, which keeps a
#: Verify of a long video with sound near the service's flat-memory budget.
VERIFY_SOUNDTRACK_SECONDS = 60.0
#: Shortest soundtrack worth labeling (the prompt alone lasts about 1.5 s).
MIN_SOUNDTRACK_SECONDS = 1.0


def codec_id_name(context: Any) -> str:
    """The codec's standard name ("av1", "h264", "mp3", "opus"), not its decoder's ("libdav1d", "mp3float")."""
    codec = getattr(context, "codec", None)
    return str(getattr(codec, "canonical_name", None) or getattr(context, "name", "") or "")


def frame_pcm(frame: av.AudioFrame) -> np.ndarray:
    """A decoded audio frame as float32 frames x channels (integer formats scaled to [-1, 1])."""
    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    pcm = data.T if frame.format.is_planar else data.reshape(-1, channels)
    name = frame.format.name
    scale = {"s16": 32768.0, "s16p": 32768.0, "s32": 2147483648.0, "s32p": 2147483648.0,
             "u8": 128.0, "u8p": 128.0}.get(name)
    floats = pcm.astype(np.float32)
    if name.startswith("u8"):
        floats -= 128.0
    if scale is not None:
        floats /= np.float32(scale)
    return floats


def _open(path: Path) -> Any:
    try:
        return av.open(str(path), "r")
    except av.FFmpegError as exc:
        raise CorruptMedia(f"cannot open video: {exc}") from None


def _first_audio_stream(container: Any, writable_only: bool) -> Any:
    """The soundtrack worth reading: the first audio stream, with a sample rate and (``writable_only``)
    a codec the transcode can write back; None otherwise."""
    if not container.streams.audio:
        return None
    stream = container.streams.audio[0]
    if not stream.codec_context.sample_rate:
        return None
    if writable_only and codec_id_name(stream.codec_context) not in AUDIO_ENCODERS:
        return None  # e.g. PCM or AC-3 in a MOV: stream-copied as it is, unlabeled
    return stream


def decode_soundtrack(path: Path, max_seconds: float = MAX_SOUNDTRACK_SECONDS) -> tuple[np.ndarray, int] | None:
    """The opening ``max_seconds`` of the first audio stream (any codec) as PCM, with its sample rate;
    None when there is none or it is shorter than MIN_SOUNDTRACK_SECONDS. What verify reads."""
    container = _open(path)
    with contextlib.closing(container):
        stream = _first_audio_stream(container, writable_only=False)
        if stream is None:
            return None
        rate = stream.codec_context.sample_rate
        limit = int(max_seconds * rate)
        # Decoded straight into one array sized from the stream's duration (grown if that was short),
        # so the soundtrack is held once, not as chunks plus their concatenation.
        expected = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else 0.0
        buffer = np.zeros((min(limit, int(expected * rate) + rate) or rate, stream.codec_context.channels or 1),
                          dtype=np.float32)
        frames = 0
        try:
            for frame in container.decode(stream):
                pcm = frame_pcm(frame)
                if pcm.shape[1] != buffer.shape[1]:
                    raise CorruptMedia("the soundtrack changes its channel count mid-stream")
                pcm = pcm[: limit - frames]  # the opening max_seconds are enough
                if frames + pcm.shape[0] > buffer.shape[0]:
                    grown = np.zeros((min(limit, 2 * (frames + pcm.shape[0])), buffer.shape[1]), dtype=np.float32)
                    grown[:frames] = buffer[:frames]
                    buffer = grown
                buffer[frames : frames + pcm.shape[0]] = pcm
                frames += pcm.shape[0]
                if frames >= limit:
                    break
        except av.FFmpegError as exc:
            raise CorruptMedia(f"audio decode failed: {exc}") from None
    if frames < MIN_SOUNDTRACK_SECONDS * rate:
        return None
    return buffer[:frames], rate


#: The soundtrack's work file (moved to labeler/audio/raw.py, shared with audio files).
_RawPcm = RawPcm


class LabeledSoundtrack:
    """A ``SoundtrackProcessor`` that swaps each decoded chunk for the same stretch of the labeled PCM,
    read from its temporary file in order. Close it (or use it as a context manager) when done."""

    def __init__(self, raw: _RawPcm, sample_rate: int, prompt: bool, watermark_id: int | None) -> None:
        self.raw = raw
        self.sample_rate = sample_rate
        self.prompt = prompt
        self.watermark_id = watermark_id
        self._cursor = 0

    @property
    def frames(self) -> int:
        return self.raw.frames

    def __call__(self, chunk: np.ndarray, sample_rate: int) -> np.ndarray:
        start, self._cursor = self._cursor, self._cursor + chunk.shape[0]
        out = self.raw.read(start, chunk.shape[0])
        if sample_rate != self.sample_rate or out.shape != chunk.shape:  # not the stream we decoded: leave it
            return chunk
        return out

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> LabeledSoundtrack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def prepare_soundtrack(
    source: Path, watermark_id: int | None, key: WatermarkKey | None, prompt: PromptOptions | None,
    strength: float = 1.0, folder: Path | None = None, max_seconds: float = Limits().max_audio_seconds,
) -> LabeledSoundtrack | None:
    """The labeled soundtrack of ``source`` (in a temporary file in ``folder``), or None when nothing is to
    be done or it cannot be (no audio, a codec the transcode cannot write back, too short or too long)."""
    wants_prompt = prompt is not None and prompt.kind != "none"
    wants_mark = watermark_id is not None and key is not None
    if not (wants_prompt or wants_mark):
        return None
    decoded = _decode_to_disk(source, folder, max_seconds)
    if decoded is None:
        return None
    raw, rate, rms = decoded
    try:
        if wants_prompt:
            assert prompt is not None
            voice = None
            if prompt.kind == "voice":
                from labeler.audio.pipeline import load_voice

                voice = load_voice(str(prompt.voice_path), rate, Limits())
            mono = prompt_samples(rate, rms, prompt, voice)
            if mono.size <= raw.frames:
                ends = [(0, False)] + ([(raw.frames - mono.size, True)]
                                       if prompt.at_end and raw.frames >= 2 * mono.size else [])
                for start, closing in ends:
                    section = raw.read(start, mono.size)
                    lay_prompt(section, mono, rate, closing)
                    raw.write(start, section)
        if wants_mark:
            assert watermark_id is not None and key is not None
            watermark_windows(raw, rate, watermark_id, key, AudioWatermarkSettings(strength=strength))
    except BaseException:
        raw.close()
        raise
    return LabeledSoundtrack(raw, rate, wants_prompt, watermark_id if wants_mark else None)


def _decode_to_disk(path: Path, folder: Path | None, max_seconds: float) -> tuple[RawPcm, int, float] | None:
    """Decode the first audio stream into a temporary file, measuring its gated loudness on the way
    (labeler/audio/raw.py); (the file, sample rate, gated RMS), or None when there is nothing to label."""
    container = _open(path)
    with contextlib.closing(container):
        stream = _first_audio_stream(container, writable_only=True)
        if stream is None:
            return None
        rate = stream.codec_context.sample_rate
        raw: RawPcm | None = None
        meter: LoudnessMeter | None = None
        try:
            for frame in container.decode(stream):
                pcm = frame_pcm(frame)
                if raw is None or meter is None:
                    raw = RawPcm(pcm.shape[1], folder)
                    meter = LoudnessMeter(rate, pcm.shape[1])
                if pcm.shape[1] != raw.channels:
                    raise CorruptMedia("the soundtrack changes its channel count mid-stream")
                raw.append(pcm)
                if raw.frames > max_seconds * rate:
                    raw.close()
                    return None
                meter.add(pcm)
        except av.FFmpegError as exc:
            if raw is not None:
                raw.close()
            raise CorruptMedia(f"audio decode failed: {exc}") from None
        except BaseException:
            if raw is not None:
                raw.close()
            raise
    if raw is None or meter is None:
        return None
    if raw.frames < MIN_SOUNDTRACK_SECONDS * rate:
        raw.close()
        return None
    return raw, rate, meter.rms()


@dataclass(frozen=True)
class SoundtrackFindings:
    sample_rate: int
    duration_seconds: float
    watermark: AudioDetection | None
    prompt: PromptDetection


def verify_soundtrack(path: Path, key: WatermarkKey | None) -> SoundtrackFindings | None:
    """The prompt and the audio watermark in the opening VERIFY_SOUNDTRACK_SECONDS of a video's first audio
    stream (None: no usable soundtrack)."""
    decoded = decode_soundtrack(path, VERIFY_SOUNDTRACK_SECONDS)
    if decoded is None:
        return None
    pcm, rate = decoded
    detection = detect_audio(pcm, rate, key) if key is not None else None
    return SoundtrackFindings(rate, pcm.shape[0] / rate, detection, detect_prompt(pcm, rate))
