"""Deterministic programme-like audio and container encoding for the audio tests."""

from __future__ import annotations

import io

import av
import numpy as np

from labeler.audio.codec import decode_audio, mux_pcm_blocks, resample_pcm
from labeler.settings import Limits


def music_like(seconds: float, sample_rate: int = 44100, channels: int = 2, seed: int = 0) -> np.ndarray:
    """float32 frames x channels: harmonic notes changing every 0.4 s over a soft pink-noise bed."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    out = np.zeros(n, dtype=np.float64)
    note = int(0.4 * sample_rate)
    for start in range(0, n, note):
        f0 = 110.0 * 2 ** (rng.integers(0, 24) / 12)
        seg = slice(start, min(start + note, n))
        envelope = np.exp(-3.0 * (t[seg] - t[start]))
        for harmonic in range(1, 12):
            out[seg] += 0.08 / harmonic * envelope * np.sin(2 * np.pi * f0 * harmonic * t[seg] + rng.uniform(0, 6))
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum /= np.sqrt(np.maximum(np.arange(spectrum.size), 1))
    pink = np.fft.irfft(spectrum, n)
    out += 0.02 * pink / pink.std()
    pcm = np.stack([out * (1.0 - 0.1 * c) for c in range(channels)], axis=1)
    return pcm.astype(np.float32)


def speech_like(seconds: float, sample_rate: int = 44100, seed: int = 0) -> np.ndarray:
    """float32 frames x 1: voiced syllables (0.15-0.4 s) of a man's voice, roughly — harmonics of a gliding
    95-150 Hz pitch under three formants — with 0.05-0.5 s pauses. The harmonics move across the
    watermark's 87.5-Hz bands as the pitch glides, which makes band energies vary far more than music's."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    out = np.zeros(n, dtype=np.float64)
    position = int(0.1 * sample_rate)
    while position < n:
        length = int(rng.uniform(0.15, 0.4) * sample_rate)
        t = np.arange(length) / sample_rate
        f0 = rng.uniform(95, 150) * (1 + rng.uniform(-0.15, 0.15) * t / t[-1])
        phase = 2 * np.pi * np.cumsum(f0) / sample_rate
        formants = rng.uniform([300, 900, 2200], [800, 1800, 3000])
        syllable = np.zeros(length)
        for harmonic in range(1, int(4000 / f0.max())):
            freq = harmonic * f0
            amplitude = sum(np.exp(-0.5 * ((freq - f) / 120.0) ** 2) for f in formants) + 0.02
            syllable += amplitude * np.sin(harmonic * phase)
        syllable *= np.sin(np.pi * np.arange(length) / length) ** 0.5
        stop = min(n, position + length)
        out[position:stop] += syllable[: stop - position]
        position = stop + int(rng.uniform(0.05, 0.5) * sample_rate)
    out *= 0.7 / np.max(np.abs(out))
    return out.astype(np.float32)[:, None]


#: (name, muxer, encoder, bit rate, sample rate) of each audio container labeler reads and writes.
AUDIO_FORMATS = [
    ("wav", "wav", "pcm_s16le", None, 44100),
    ("flac", "flac", "flac", None, 48000),
    ("mp3", "mp3", "libmp3lame", 128_000, 44100),
    ("m4a", "ipod", "aac", 128_000, 44100),
    ("ogg", "ogg", "libopus", 96_000, 48000),
]


def encode(pcm: np.ndarray, sample_rate: int, muxer: str, codec: str, bit_rate: int | None = None) -> bytes:
    """``pcm`` in a container, the way a third-party tool would write it."""
    layout = {1: "mono", 2: "stereo"}[pcm.shape[1]]
    rate = 48000 if codec == "libopus" else sample_rate
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=muxer) as sink:
        stream = sink.add_stream(codec, rate=rate, layout=layout)
        assert isinstance(stream, av.AudioStream)
        if bit_rate:
            stream.bit_rate = bit_rate
        mux_pcm_blocks(sink, stream, [pcm], sample_rate, layout)
    return buffer.getvalue()


def codec_roundtrip(
    pcm: np.ndarray, sample_rate: int, muxer: str, codec: str, bit_rate: int | None = None
) -> np.ndarray:
    """Encode then decode, back at ``sample_rate`` and trimmed to the input length."""
    decoded = decode_audio(encode(pcm, sample_rate, muxer, codec, bit_rate), Limits())
    out = resample_pcm(decoded.pcm, decoded.sample_rate, sample_rate)
    return out[: pcm.shape[0]]


def snr_db(reference: np.ndarray, test: np.ndarray) -> float:
    noise = np.sum(np.square(test.astype(np.float64) - reference))
    return float(10 * np.log10(np.sum(np.square(reference.astype(np.float64))) / noise))
