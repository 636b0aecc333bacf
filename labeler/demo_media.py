"""The audio and video part of ``make demo``: samples synthesised on the spot (deterministic, so nothing
large is bundled), labeled, verified, then verified again after the trip a platform gives them (audio:
MP3 at 128 kbit/s with the tags dropped; video: an H.264 re-encode at a lower quality with the tags
dropped), where only the watermark and the registry record are left to find. The video has a music
soundtrack, so it also gets the prompt and the audio watermark; "+audio" in the table means the
soundtrack's watermark was decoded too."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from labeler.audio.codec import mux_pcm_blocks
from labeler.pipeline import Labeler
from labeler.settings import LabelOptions
from labeler.store.registry import Registry
from labeler.verification import Verifier
from labeler.video.labeling import label_video_path, video_record
from labeler.video.soundtrack import frame_pcm
from labeler.video.verifying import verify_video_file
from labeler.watermark import WatermarkKey

SAMPLE_RATE = 44100


def music_sample(seconds: float = 12.0, seed: int = 3) -> np.ndarray:
    """float32 frames x 2: plucked harmonic notes every 0.4 s over a soft noise bed."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    out = np.zeros(n)
    step = int(0.4 * SAMPLE_RATE)
    for start in range(0, n, step):
        f0 = 110.0 * 2 ** (int(rng.integers(0, 24)) / 12)
        seg = slice(start, min(start + step, n))
        envelope = np.exp(-3.0 * (t[seg] - t[start]))
        for harmonic in range(1, 10):
            out[seg] += 0.08 / harmonic * envelope * np.sin(2 * np.pi * f0 * harmonic * t[seg])
    out += 0.01 * rng.standard_normal(n)
    return np.stack([out, 0.9 * out], axis=1).astype(np.float32)


def encode_audio(pcm: np.ndarray, muxer: str, codec: str, bit_rate: int | None = None) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=muxer) as sink:
        stream: Any = sink.add_stream(codec, rate=SAMPLE_RATE, layout="stereo")
        if bit_rate:
            stream.bit_rate = bit_rate
        mux_pcm_blocks(sink, stream, [pcm], SAMPLE_RATE, "stereo")
    return buffer.getvalue()


def decode_pcm(data: bytes) -> np.ndarray:
    with av.open(io.BytesIO(data), "r") as source:
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=SAMPLE_RATE)
        planes = [f.to_ndarray() for frame in source.decode(audio=0) for f in resampler.resample(frame)]
    return np.concatenate(planes, axis=1).T.astype(np.float32)


def write_video(path: Path, frames: int = 250, width: int = 640, height: int = 360, crf: int = 18,
                source: Path | None = None) -> Path:
    """A textured pan with a music soundtrack (AAC), or ``source`` re-encoded without its tags: the
    picture at ``crf``, the soundtrack as AAC at 96 kbit/s."""
    with av.open(str(path), "w", format="mp4") as sink:
        stream: Any = sink.add_stream("libx264", rate=25, options={"crf": str(crf), "preset": "fast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        sound: Any = sink.add_stream("aac", rate=SAMPLE_RATE, layout="stereo")
        sound.bit_rate = 96_000 if source is not None else 160_000
        if source is not None:
            with av.open(str(source), "r") as inp:
                for index, frame in enumerate(inp.decode(video=0)):
                    out = av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")
                    out.pts = index
                    sink.mux(stream.encode(out))
            with av.open(str(source), "r") as inp:
                pcm = np.concatenate([frame_pcm(f) for f in inp.decode(audio=0)])
        else:
            rng = np.random.default_rng(5)
            noise = rng.integers(0, 255, (height // 6, (width + 2 * frames) // 6, 3), dtype=np.uint8)
            texture = np.asarray(cv2.resize(noise, (width + 2 * frames, height), interpolation=cv2.INTER_CUBIC),
                                 dtype=np.uint8)
            for index in range(frames):
                out = av.VideoFrame.from_ndarray(np.ascontiguousarray(texture[:, 2 * index : 2 * index + width]),
                                                 format="rgb24")
                out.pts = index
                sink.mux(stream.encode(out))
            pcm = music_sample(frames / 25, seed=11)
        sink.mux(stream.encode(None))
        mux_pcm_blocks(sink, sound, [pcm], SAMPLE_RATE, "stereo")
    return path


def _summary(name: str, stage: str, report: dict[str, Any], expected: str, size: str) -> tuple[list[str], bool]:
    wm = report.get("watermark") or {}
    watermark = (f"{wm['watermark_id']} p={wm['false_positive_probability']:.0e}"
                 if wm.get("detected") and wm.get("watermark_id") else "-")
    sound = (report.get("soundtrack") or {}).get("watermark") or {}
    if sound.get("detected"):  # a video's soundtrack carries the ID too
        watermark += " +audio" if watermark != "-" else f"{sound['watermark_id']} (audio)"
    metadata = report.get("metadata") or {}
    label = (metadata.get("fields") or {}).get("Label") if metadata.get("present") else None
    ok = report["verdict"] == expected
    return [name, stage, size, f"Label={label}" if label else "-", watermark, report["verdict"],
            "ok" if ok else f"EXPECTED {expected}"], ok


def audio_rows(out: Path, labeler: Labeler, verifier: Verifier) -> tuple[list[list[str]], bool]:
    original = encode_audio(music_sample(), "wav", "pcm_s16le")
    (out / "labeled").mkdir(parents=True, exist_ok=True)
    (out / "travelled").mkdir(parents=True, exist_ok=True)
    source = out / "music.wav"
    source.write_bytes(original)
    labeled_path = out / "labeled" / "music.wav"
    labeler.label_file(source, labeled_path, LabelOptions(producer="labeler-demo", produce_id="demo-music"), force=True)
    travelled = out / "travelled" / "music.mp3"  # label_file streams audio: the labeled file is read back
    travelled.write_bytes(encode_audio(decode_pcm(labeled_path.read_bytes()), "mp3", "libmp3lame", 128_000))
    rows, all_ok = [], True
    for stage, path, expected in (("original", source, "none"), ("labeled", labeled_path, "confirmed"),
                                  ("travelled", travelled, "confirmed")):
        report = verifier.verify_file(path).to_dict()
        seconds = (report.get("audio") or {}).get("duration_s", 0.0)
        row, ok = _summary("music.wav" if stage != "travelled" else "music.mp3", stage, report, expected,
                           f"{seconds:.1f} s")
        rows.append(row)
        all_ok &= ok
    return rows, all_ok


def video_rows(out: Path, key: WatermarkKey, registry: Registry) -> tuple[list[list[str]], bool]:
    source = write_video(out / "clip.mp4")
    labeled_path = out / "labeled" / "clip.mp4"
    info = label_video_path(source, labeled_path, key, LabelOptions(producer="labeler-demo", produce_id="demo-clip"),
                            force=True)
    registry.record(video_record(info, source, labeled_path, key))
    travelled = write_video(out / "travelled" / "clip.mp4", crf=28, source=labeled_path)
    rows, all_ok = [], True
    for stage, path, expected in (("original", source, "none"), ("labeled", labeled_path, "confirmed"),
                                  ("travelled", travelled, "confirmed")):
        report = verify_video_file(path, key, registry)
        row, ok = _summary("clip.mp4", stage, report, expected, f"{report['width']}x{report['height']}")
        rows.append(row)
        all_ok &= ok
    return rows, all_ok
