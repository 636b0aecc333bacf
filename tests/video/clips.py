"""Tiny synthetic clips for the video tests (a textured pan, optionally with a sine soundtrack)."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np


def make_clip(
    path: Path, codec: str = "libx264", frames: int = 50, width: int = 384, height: int = 256,
    audio: str | None = "aac", fmt: str | None = None, music: bool = False, pix_fmt: str = "yuv420p",
) -> Path:
    """A textured pan; ``audio`` names the soundtrack's encoder: a 440 Hz tone, or with ``music`` plucked
    notes over a noise bed (content in the audio watermark's bands)."""
    out = av.open(str(path), "w", format=fmt)
    video = out.add_stream(codec, rate=25)
    video.width, video.height, video.pix_fmt = width, height, pix_fmt
    sound = None
    if audio is not None:
        sound = out.add_stream(audio, rate=48000)
        sound.layout = "stereo"
    rng = np.random.default_rng(7)
    base = cv2.resize(
        rng.integers(0, 255, (height // 8, (width + frames) // 8 + 1, 3), dtype=np.uint8),
        ((width + frames) // 8 * 8 + 8, height), interpolation=cv2.INTER_CUBIC,
    )
    for index in range(frames):
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(base[:, index : index + width]), format="rgb24")
        out.mux(video.encode(frame))
    out.mux(video.encode(None))
    if sound is not None:
        step = 960
        for start in range(0, int(frames / 25 * 48000), step):
            t = (np.arange(step) + start) / 48000
            pcm = (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32) if not music else _music(start, step)
            chunk = av.AudioFrame.from_ndarray(np.stack([pcm, pcm]), format="fltp", layout="stereo")
            chunk.sample_rate, chunk.pts = 48000, start
            out.mux(sound.encode(chunk))
        out.mux(sound.encode(None))
    out.close()
    return path


def oriented_clip(path: Path, degrees: int, hflip: bool = False, frames: int = 50) -> Path:
    """A phone-like clip coded 384x256 with a display matrix: turned ``degrees`` counter-clockwise, then
    mirrored when ``hflip`` (PyAV's set_display_rotation)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 384, 256, "yuv420p"
        stream.set_display_rotation(degrees, hflip=hflip)
        rng = np.random.default_rng(3)
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(rng.integers(90, 110, (256, 384, 3), dtype=np.uint8), format="rgb24")
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def _music(start: int, count: int, rate: int = 48000) -> np.ndarray:
    """Samples ``start`` .. ``start + count`` of a deterministic tune: a new harmonic note every 0.4 s."""
    t = (np.arange(count) + start) / rate
    note = (np.arange(count) + start) // int(0.4 * rate)
    f0 = 110.0 * 2 ** (((note * 7) % 24) / 12)
    since = t - note * 0.4
    tone = sum(np.sin(2 * np.pi * f0 * k * t) * (0.08 / k) for k in range(1, 10))
    noise = np.random.default_rng(start).standard_normal(count) * 0.01
    return (tone * np.exp(-3.0 * since) + noise).astype(np.float32)


def corner_changes(before: Path, after: Path, frames: list[int]) -> list[float]:
    """Mean absolute luma difference in the bottom-right 120x60 corner (where the label goes by default)
    between the same frames of two clips, for each index in ``frames``."""
    wanted = set(frames)
    found: dict[int, float] = {}
    with av.open(str(before)) as first, av.open(str(after)) as second:
        for index, (x, y) in enumerate(zip(first.decode(video=0), second.decode(video=0), strict=False)):
            if index in wanted:
                diff = x.to_ndarray(format="gray").astype(float) - y.to_ndarray(format="gray").astype(float)
                found[index] = float(np.abs(diff[-60:, -120:]).mean())
    if len(found) != len(wanted):
        raise AssertionError(f"the clips are shorter than frame {max(wanted)}")
    return [found[i] for i in frames]
