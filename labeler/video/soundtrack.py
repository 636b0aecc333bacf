"""A video's soundtrack labels: the audible prompt laid over its opening and the audio watermark.

The audio watermark needs the whole programme (its budget and closed-loop passes look at every
period), while the transcode streams. So the first audio stream is decoded once before the transcode
(``prepare_soundtrack``), labeled in memory, and handed back chunk by chunk as the transcode decodes the
same stream again (the same decoder yields the same chunks). Soundtracks longer than
MAX_SOUNDTRACK_SECONDS are left as they are (stream copy): their PCM would not fit the memory budget.

PCM layout: float32 frames x channels, nominally in [-1, 1].
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

from labeler.errors import CorruptMedia
from labeler.explicit.audio_prompt import PromptDetection, PromptOptions, detect_prompt, overlay_prompt
from labeler.watermark.audio import AudioDetection, AudioWatermarkSettings, detect_audio, embed_audio
from labeler.watermark.keys import WatermarkKey

#: Longest soundtrack labeled (10 min of 48 kHz stereo is 230 MB of float32, twice while embedding).
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


def decode_soundtrack(
    path: Path, max_seconds: float = MAX_SOUNDTRACK_SECONDS, keep_opening: bool = False, writable_only: bool = True
) -> tuple[np.ndarray, int] | None:
    """The first audio stream's PCM and sample rate; None when there is none, it is too long or short,
    or (``writable_only``, for labeling) its codec cannot be written back. With ``keep_opening`` (for
    verifying) a longer one is cut to its opening ``max_seconds`` instead."""
    try:
        container = av.open(str(path), "r")
    except av.FFmpegError as exc:
        raise CorruptMedia(f"cannot open video: {exc}") from None
    with contextlib.closing(container):
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        if not rate or (writable_only and codec_id_name(stream.codec_context) not in AUDIO_ENCODERS):
            return None  # e.g. PCM or AC-3 in a MOV: stream-copied as it is, unlabeled
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
                if frames + pcm.shape[0] > limit:
                    if not keep_opening:
                        return None
                    pcm = pcm[: limit - frames]  # verify: the opening max_seconds are enough
                if frames + pcm.shape[0] > buffer.shape[0]:
                    grown = np.zeros((min(limit, 2 * (frames + pcm.shape[0])), buffer.shape[1]), dtype=np.float32)
                    grown[:frames] = buffer[:frames]
                    buffer = grown
                buffer[frames : frames + pcm.shape[0]] = pcm
                frames += pcm.shape[0]
                if keep_opening and frames >= limit:
                    break
        except av.FFmpegError as exc:
            raise CorruptMedia(f"audio decode failed: {exc}") from None
    if frames < MIN_SOUNDTRACK_SECONDS * rate:
        return None
    return buffer[:frames], rate


class LabeledSoundtrack:
    """A ``SoundtrackProcessor`` that swaps each decoded chunk for the same stretch of the labeled PCM."""

    def __init__(self, pcm: np.ndarray, sample_rate: int, prompt: bool, watermark_id: int | None) -> None:
        self.pcm = pcm
        self.sample_rate = sample_rate
        self.prompt = prompt
        self.watermark_id = watermark_id
        self._cursor = 0

    def __call__(self, chunk: np.ndarray, sample_rate: int) -> np.ndarray:
        start, self._cursor = self._cursor, self._cursor + chunk.shape[0]
        out = self.pcm[start : self._cursor]
        if sample_rate != self.sample_rate or out.shape != chunk.shape:  # not the stream we decoded: leave it
            return chunk
        return out


def prepare_soundtrack(
    source: Path, watermark_id: int | None, key: WatermarkKey | None, prompt: PromptOptions | None,
    strength: float = 1.0,
) -> LabeledSoundtrack | None:
    """The labeled soundtrack of ``source``, or None when nothing is to be done or it cannot be."""
    wants_prompt = prompt is not None and prompt.kind != "none"
    wants_mark = watermark_id is not None and key is not None
    if not (wants_prompt or wants_mark):
        return None
    decoded = decode_soundtrack(source)
    if decoded is None:
        return None
    pcm, rate = decoded
    if wants_prompt:
        assert prompt is not None
        voice = None
        if prompt.kind == "voice":
            from labeler.audio.pipeline import load_voice
            from labeler.settings import Limits

            voice = load_voice(str(prompt.voice_path), rate, Limits())
        pcm = overlay_prompt(pcm, rate, prompt, voice, in_place=True)
    if wants_mark:
        assert watermark_id is not None and key is not None
        pcm = embed_audio(pcm, rate, watermark_id, key, AudioWatermarkSettings(strength=strength), in_place=True)
    return LabeledSoundtrack(pcm, rate, wants_prompt, watermark_id if wants_mark else None)


@dataclass(frozen=True)
class SoundtrackFindings:
    sample_rate: int
    duration_seconds: float
    watermark: AudioDetection | None
    prompt: PromptDetection


def verify_soundtrack(path: Path, key: WatermarkKey | None) -> SoundtrackFindings | None:
    """The prompt and the audio watermark in the opening VERIFY_SOUNDTRACK_SECONDS of a video's first audio
    stream (None: no usable soundtrack)."""
    decoded = decode_soundtrack(path, VERIFY_SOUNDTRACK_SECONDS, keep_opening=True, writable_only=False)
    if decoded is None:
        return None
    pcm, rate = decoded
    detection = detect_audio(pcm, rate, key) if key is not None else None
    return SoundtrackFindings(rate, pcm.shape[0] / rate, detection, detect_prompt(pcm, rate))
