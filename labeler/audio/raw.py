"""Audio held on disk instead of in memory, for labeling programmes of any length: float32 PCM in an
unnamed temporary file (``RawPcm``), the programme's gated loudness measured piece by piece while it is
written there (``LoudnessMeter``), and the watermark embedded a few periods at a time
(``watermark_windows``). Used by audio files (labeler/audio/streaming.py) and by a video's soundtrack
(labeler/video/soundtrack.py); memory stays bounded by one window whatever the length.

PCM layout: float32 frames x channels, nominally in [-1, 1].
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from labeler.errors import OutputNotWritable
from labeler.explicit.audio_prompt import loud_frame_powers, loudness_frame
from labeler.watermark.audio import PERIOD_SLOTS, SLOT_SECONDS, AudioWatermarkSettings, embed_audio
from labeler.watermark.keys import WatermarkKey

#: Audio is watermarked this many audio-watermark periods (8.16 s each) at a time: the mark is local in
#: time, so windows aligned on periods give the whole-file result up to the 16 ms at each seam
#: (measured: same SNR and excerpt recovery as a whole-file embed), with memory bounded by the window.
PERIODS_PER_WINDOW = 4


class RawPcm:
    """float32 frames x channels in an unnamed temporary file (gone when closed), read and written by
    sample position, so audio of any length is held on disk, not in memory."""

    def __init__(self, channels: int, folder: Path | None) -> None:
        self.channels = channels
        self.frames = 0
        self.folder = folder
        try:  # owned by this object and closed by close()
            self.file = tempfile.TemporaryFile(dir=folder)  # noqa: SIM115
        except OSError as exc:
            raise OutputNotWritable(f"cannot write the audio's work file in {folder or 'the temp folder'}: "
                                    f"{exc.strerror or exc}") from None

    def append(self, pcm: np.ndarray) -> None:
        self.write(self.frames, pcm)

    def read(self, start: int, count: int) -> np.ndarray:
        count = max(0, min(count, self.frames - start))
        self.file.seek(start * self.channels * 4)
        data = self.file.read(count * self.channels * 4)
        return np.frombuffer(data, dtype=np.float32).reshape(-1, self.channels).copy()

    def write(self, start: int, pcm: np.ndarray) -> None:
        try:
            self.file.seek(start * self.channels * 4)
            self.file.write(np.ascontiguousarray(pcm, dtype=np.float32).tobytes())
        except OSError as exc:  # disk full
            raise OutputNotWritable(f"cannot write the audio's work file in {self.folder or 'the temp folder'}: "
                                    f"{exc.strerror or exc}") from None
        self.frames = max(self.frames, start + pcm.shape[0])

    def blocks(self, size: int, start: int = 0) -> Iterator[np.ndarray]:
        """The samples from ``start`` on, ``size`` frames at a time (the last block shorter)."""
        for position in range(start, self.frames, size):
            yield self.read(position, size)

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> RawPcm:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LoudnessMeter:
    """The programme's gated RMS (``programme_rms`` of labeler/explicit/audio_prompt.py), measured on
    pieces of any size as they are decoded. The loud 100-ms frames' powers are kept (one float64 per
    100 ms: 1.2 MB for 4 h), so the result is bit for bit the one ``programme_rms`` gives on the whole."""

    def __init__(self, sample_rate: int, channels: int) -> None:
        self.sample_rate = sample_rate
        self._frame = loudness_frame(sample_rate)
        self._pending = np.zeros((0, channels), dtype=np.float32)
        self._powers: list[np.ndarray] = []
        self._whole = 0

    def add(self, pcm: np.ndarray) -> None:
        pending = np.concatenate([self._pending, pcm]) if self._pending.size else pcm
        whole = pending.shape[0] // self._frame * self._frame
        if whole:
            powers = loud_frame_powers(pending[:whole], self.sample_rate)
            if powers.size:
                self._powers.append(powers)
            self._whole += whole
        self._pending = np.array(pending[whole:], dtype=np.float32)

    def rms(self) -> float:
        if self._whole == 0:  # shorter than one loudness frame: plain RMS of everything
            pcm = self._pending
            return math.sqrt(float(np.mean(np.square(pcm, dtype=np.float64)))) if pcm.size else 0.0
        loud = np.concatenate(self._powers) if self._powers else np.zeros(0)
        return math.sqrt(float(loud.mean())) if loud.size else 0.0


def window_frames(sample_rate: int) -> int:
    """Frames per watermark window (PERIODS_PER_WINDOW whole periods)."""
    return round(PERIOD_SLOTS * SLOT_SECONDS * sample_rate) * PERIODS_PER_WINDOW


def window_starts(frames: int, window: int) -> list[int]:
    """Where each window starts; a short tail (under half a window) goes with the window before it."""
    starts = list(range(0, frames, window))
    if len(starts) > 1 and frames - starts[-1] < window // 2:
        starts.pop()
    return starts


def watermark_windows(
    raw: RawPcm, sample_rate: int, watermark_id: int, key: WatermarkKey, settings: AudioWatermarkSettings,
    window: int | None = None,
) -> None:
    """Embed the watermark into ``raw`` in place, one window (``window`` frames, default
    :func:`window_frames`) at a time: audio shorter than 1.5 windows is marked whole."""
    window = window or window_frames(sample_rate)
    starts = window_starts(raw.frames, window)
    for index, start in enumerate(starts):
        stop = starts[index + 1] if index + 1 < len(starts) else raw.frames
        piece = raw.read(start, stop - start)
        raw.write(start, embed_audio(piece, sample_rate, watermark_id, key, settings, in_place=True))
