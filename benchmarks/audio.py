"""Audio watermark benchmark on real speech and music: quality, exact-ID recovery from 10-s excerpts after
every attack of issue 4, false positives on unmarked windows, and speed on one core.

Run ``python -m benchmarks.audio`` (``make bench``). Prints tables and writes out/bench/audio.json.
Seeded; the corpus is pinned by SHA-256 (benchmarks/audio_corpus.py). Timings are wall-clock on a CPU
shared with other jobs.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np

from benchmarks.audio_corpus import DEFAULT_DEST, Programme, load_programmes, unmarked_music
from labeler.audio.codec import decode_audio, mux_pcm_blocks, resample_pcm
from labeler.settings import Limits
from labeler.watermark.audio import (
    AudioWatermarkSettings,
    detect_audio,
    detect_excerpt,
    embed_audio,
)
from labeler.watermark.keys import WatermarkKey

KEY = WatermarkKey(b"labeler-audio-benchmark-key-0001")
WATERMARK_ID = 0x5A17_C0DE_2025_0042
EXCERPT_SECONDS = 10.0
EXCERPTS_PER_PROGRAMME = 8
SEED = 4

Attack = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]


def _layout(channels: int) -> str:
    return {1: "mono", 2: "stereo"}[channels]


def codec(pcm: np.ndarray, rate: int, muxer: str, name: str, bit_rate: int) -> np.ndarray:
    """Encode with FFmpeg's encoder ``name`` at ``bit_rate`` and decode back to ``rate``."""
    layout = _layout(pcm.shape[1])
    target = 48000 if name == "libopus" else rate
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=muxer) as sink:
        stream = sink.add_stream(name, rate=target, layout=layout)
        assert isinstance(stream, av.AudioStream)
        stream.bit_rate = bit_rate
        mux_pcm_blocks(sink, stream, (pcm[start : start + (1 << 18)] for start in range(0, pcm.shape[0], 1 << 18)),
                       rate, layout)
    decoded = decode_audio(buffer.getvalue(), Limits())
    return resample_pcm(decoded.pcm, decoded.sample_rate, rate)


def fft_filter(pcm: np.ndarray, rate: int, low: float | None, high: float | None) -> np.ndarray:
    """Zero-phase filter with 4th-order Butterworth-like magnitude edges (applied in the FFT domain)."""
    spectrum = np.fft.rfft(pcm.astype(np.float64), axis=0)
    freqs = np.fft.rfftfreq(pcm.shape[0], 1 / rate)
    gain = np.ones_like(freqs)
    if high is not None:
        gain /= np.sqrt(1 + (freqs / high) ** 8)
    if low is not None:
        with np.errstate(divide="ignore"):
            gain /= np.sqrt(1 + (low / np.maximum(freqs, 1e-6)) ** 8)
    return np.fft.irfft(spectrum * gain[:, None], n=pcm.shape[0], axis=0).astype(np.float32)


def add_noise(pcm: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    power = float(np.mean(np.square(pcm, dtype=np.float64)))
    noise = rng.normal(0, math.sqrt(power / 10 ** (snr_db / 10)), pcm.shape)
    return (pcm + noise).astype(np.float32)


def echo(pcm: np.ndarray, rate: int, delay: float = 0.150, gain: float = 0.5) -> np.ndarray:
    shift = int(delay * rate)
    out = pcm.astype(np.float64).copy()
    out[shift:] += gain * pcm[:-shift]
    return (out / max(1.0, float(np.max(np.abs(out))))).astype(np.float32)


def phone(pcm: np.ndarray, rate: int, rng: np.random.Generator) -> np.ndarray:
    band = fft_filter(pcm, rate, 300.0, 3400.0)
    narrow = add_noise(resample_pcm(band, rate, 8000), 30.0, rng)
    return resample_pcm(narrow, 8000, rate)


def speed(pcm: np.ndarray, rate: int, factor: float) -> np.ndarray:
    """Playback ``factor`` times faster, resampling style (pitch moves too)."""
    return resample_pcm(pcm, round(rate * factor), rate)


ATTACKS: dict[str, tuple[float, Attack]] = {
    # name: (target success rate, attack)
    "none": (0.99, lambda x, r, g: x),
    "mp3 128k": (0.99, lambda x, r, g: codec(x, r, "mp3", "libmp3lame", 128_000)),
    "mp3 64k": (0.99, lambda x, r, g: codec(x, r, "mp3", "libmp3lame", 64_000)),
    "aac 128k": (0.99, lambda x, r, g: codec(x, r, "ipod", "aac", 128_000)),
    "opus 64k": (0.99, lambda x, r, g: codec(x, r, "ogg", "libopus", 64_000)),
    "resample 16k": (0.99, lambda x, r, g: resample_pcm(resample_pcm(x, r, 16000), 16000, r)),
    "resample 22.05k": (0.99, lambda x, r, g: resample_pcm(resample_pcm(x, r, 22050), 22050, r)),
    "volume x0.5": (0.99, lambda x, r, g: (x * 0.5).astype(np.float32)),
    "volume x1.5 clip": (0.99, lambda x, r, g: np.clip(x * 1.5, -1, 1).astype(np.float32)),
    "low-pass 4k": (0.99, lambda x, r, g: fft_filter(x, r, None, 4000.0)),
    "high-pass 100": (0.99, lambda x, r, g: fft_filter(x, r, 100.0, None)),
    "cut first 1.3s": (0.99, lambda x, r, g: x[int(1.3 * r) :]),
    "echo 150ms": (0.99, lambda x, r, g: echo(x, r)),
    "opus 32k": (0.95, lambda x, r, g: codec(x, r, "ogg", "libopus", 32_000)),
    "white noise 20dB": (0.95, lambda x, r, g: add_noise(x, 20.0, g)),
    "phone chain": (0.95, lambda x, r, g: phone(x, r, g)),
    "speed +1%": (0.95, lambda x, r, g: speed(x, r, 1.01)),
    "speed -1%": (0.95, lambda x, r, g: speed(x, r, 0.99)),
}


def snr_db(reference: np.ndarray, test: np.ndarray) -> float:
    noise = float(np.sum(np.square(test.astype(np.float64) - reference)))
    return 10 * math.log10(float(np.sum(np.square(reference.astype(np.float64)))) / noise) if noise else math.inf


def segmental(reference: np.ndarray, marked: np.ndarray, rate: int) -> dict[str, float]:
    """Per-100-ms SNR over segments louder than -50 dBFS (5th percentile), and the loudest mark in quiet
    segments (below -50 dBFS), dBFS: how the mark behaves where hiss would be heard."""
    size = int(0.1 * rate)
    n = reference.shape[0] // size * size
    ref = np.square(reference[:n].astype(np.float64)).reshape(-1, size, reference.shape[1]).mean(axis=(1, 2))
    delta = np.square((marked[:n] - reference[:n]).astype(np.float64)).reshape(-1, size, reference.shape[1]).mean(
        axis=(1, 2)
    )
    loud = ref > 1e-5
    seg = 10 * np.log10(ref[loud] / np.maximum(delta[loud], 1e-20))
    quiet = delta[~loud]
    return {
        "segmental_snr_p5_db": float(np.percentile(seg, 5)) if seg.size else math.nan,
        "quiet_segments": int((~loud).sum()),
        "quiet_mark_max_dbfs": float(10 * np.log10(quiet.max() + 1e-20)) if quiet.size else math.nan,
    }


def pesq_wb(reference: np.ndarray, marked: np.ndarray, rate: int) -> float | None:
    try:
        from pesq import pesq
    except ImportError:
        return None
    ref16 = resample_pcm(reference, rate, 16000).mean(axis=1)
    mk16 = resample_pcm(marked, rate, 16000).mean(axis=1)
    n = min(ref16.size, mk16.size)
    return float(pesq(16000, ref16[:n].astype(np.float64), mk16[:n].astype(np.float64), "wb"))


def _pesq_cell(programme: Programme, marked: np.ndarray) -> float | None:
    if programme.kind != "speech":
        return None
    score = pesq_wb(programme.pcm, marked, programme.sample_rate)
    return round(score, 3) if score is not None else None


def excerpt_starts(length: int, rate: int, rng: np.random.Generator) -> list[int]:
    span = length - int(EXCERPT_SECONDS * rate)
    return sorted(int(s) for s in rng.integers(0, max(span, 1), EXCERPTS_PER_PROGRAMME))


def run(dest: Path, out_path: Path, fp_windows: int) -> dict[str, object]:
    rng = np.random.default_rng(SEED)
    programmes = load_programmes(dest)
    settings = AudioWatermarkSettings()
    quality = []
    marked: dict[str, np.ndarray] = {}
    speed_rows = []
    for programme in programmes:
        start = time.process_time()
        result = embed_audio(programme.pcm, programme.sample_rate, WATERMARK_ID, KEY, settings)
        embed_cpu = time.process_time() - start
        marked[programme.name] = result
        seconds = programme.pcm.shape[0] / programme.sample_rate
        start = time.process_time()
        detect_audio(result, programme.sample_rate, KEY, AudioWatermarkSettings(speed_search=False))
        verify_cpu = time.process_time() - start
        row = {
            "programme": programme.name,
            "kind": programme.kind,
            "rate": programme.sample_rate,
            "channels": programme.pcm.shape[1],
            "seconds": round(seconds, 1),
            "snr_db": round(snr_db(programme.pcm, result), 2),
            **{k: round(v, 2) for k, v in segmental(programme.pcm, result, programme.sample_rate).items()},
            "pesq_wb_16k": _pesq_cell(programme, result),
        }
        quality.append(row)
        speed_rows.append({
            "programme": programme.name, "rate": programme.sample_rate, "channels": programme.pcm.shape[1],
            "embed_x_realtime": round(seconds / embed_cpu, 1), "verify_x_realtime": round(seconds / verify_cpu, 1),
        })
    _table("Quality (marked vs original)", quality)
    _table("Speed (CPU seconds of one process; numpy FFTs are single-threaded)", speed_rows)

    robustness = []
    for name, (target, attack) in ATTACKS.items():
        per_kind: dict[str, list[int]] = {"speech": [0, 0], "music": [0, 0]}
        attempts_max = 0
        whole_files: list[str] = []
        t0 = time.perf_counter()
        for programme in programmes:
            attacked = attack(marked[programme.name], programme.sample_rate, rng)
            # What `labeler verify` does with the whole file: every segment, then the fold.
            whole = detect_audio(attacked, programme.sample_rate, KEY, settings)
            assert whole.watermark_id in (None, WATERMARK_ID), "a wrong ID was claimed"
            if whole.watermark_id == WATERMARK_ID:
                whole_files.append(programme.name)
            for s in excerpt_starts(attacked.shape[0], programme.sample_rate, rng):
                window = attacked[s : s + int(EXCERPT_SECONDS * programme.sample_rate)]
                found = detect_excerpt(window, programme.sample_rate, KEY, settings)
                per_kind[programme.kind][0] += int(found.watermark_id == WATERMARK_ID)
                per_kind[programme.kind][1] += 1
                attempts_max = max(attempts_max, found.attempts)
                assert found.watermark_id in (None, WATERMARK_ID), "a wrong ID was claimed"
        ok = per_kind["speech"][0] + per_kind["music"][0]
        total = per_kind["speech"][1] + per_kind["music"][1]
        robustness.append({
            "attack": name, "target": target, "exact_id": f"{ok}/{total}", "rate": round(ok / total, 3),
            "speech": "{}/{}".format(*per_kind["speech"]), "music": "{}/{}".format(*per_kind["music"]),
            "meets_target": ok / total >= target,
            "whole_files": f"{len(whole_files)}/{len(programmes)}",
            "speech_file": "alsa-speech" in whole_files,
            "seconds": round(time.perf_counter() - t0, 1),
        })
        print(f"  {name:18s} {ok:3d}/{total}  speech {per_kind['speech'][0]}/{per_kind['speech'][1]}  "
              f"music {per_kind['music'][0]}/{per_kind['music'][1]}  whole files {len(whole_files)}/{len(programmes)}",
              flush=True)
    _table(f"Exact-ID recovery from random {EXCERPT_SECONDS:.0f}-s excerpts", robustness)

    fp_path = out_path.with_name("audio-fp.json")
    if fp_windows > 0:
        false_positives = sweep_unmarked(dest, programmes, fp_windows)
    elif fp_path.exists():  # measured by a separate `--fp-only` run
        false_positives = json.loads(fp_path.read_text())
    else:
        false_positives = {"windows": 0, "note": "not run"}
    _table("False positives on unmarked 10-s windows", [false_positives])
    report = {
        "excerpt_seconds": EXCERPT_SECONDS,
        "watermark_id": f"{WATERMARK_ID:016x}",
        "quality": quality,
        "speed": speed_rows,
        "robustness": robustness,
        "false_positives": false_positives,
        "note": "CPU shared with other jobs while measuring",
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out_path}")
    return report


def sweep_unmarked(dest: Path, programmes: list[Programme], limit: int) -> dict[str, object]:
    """Every 10-s window (hop 2 s) of the unmarked soundtrack and the unmarked speech, speed search on."""
    windows = claims = attempts = 0
    seconds = 0.0
    t0 = time.perf_counter()
    sources = [(p.name, p.pcm, p.sample_rate) for p in programmes if p.kind == "speech"]
    sources += unmarked_music(dest)
    for _, pcm, rate in sources:
        size, hop = int(EXCERPT_SECONDS * rate), int(2.0 * rate)
        for start in range(0, max(pcm.shape[0] - size, 0) + 1, hop):
            if windows >= limit:
                break
            found = detect_excerpt(pcm[start : start + size], rate, KEY)
            windows += 1
            seconds += size / rate
            attempts = max(attempts, found.attempts)
            claims += int(found.detected)
    return {
        "windows": windows,
        "window_hours": round(seconds / 3600, 2),
        "claims": claims,
        "max_attempts_per_window": attempts,
        "bound_per_window": attempts * 2.0**-28,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def _table(title: str, rows: list[dict[str, object]]) -> None:
    print(f"\n{title}")
    if not rows:
        return
    keys = list(rows[0])
    widths = {k: max(len(k), *(len(str(r.get(k))) for r in rows)) for k in keys}
    print("  ".join(k.ljust(widths[k]) for k in keys))
    for row in rows:
        print("  ".join(str(row.get(k)).ljust(widths[k]) for k in keys))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST)
    parser.add_argument("--out", type=Path, default=Path("out/bench/audio.json"))
    parser.add_argument("--fp-windows", type=int, default=4000, help="unmarked 10-s windows to try (0: reuse "
                        "audio-fp.json from an --fp-only run)")
    parser.add_argument("--fp-only", action="store_true", help="only the false-positive sweep, to audio-fp.json")
    args = parser.parse_args()
    if args.fp_only:
        result = sweep_unmarked(args.dest, load_programmes(args.dest), args.fp_windows)
        _table("False positives on unmarked 10-s windows", [result])
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_name("audio-fp.json").write_text(json.dumps(result, indent=2) + "\n")
        return
    run(args.dest, args.out, args.fp_windows)


if __name__ == "__main__":
    main()
