"""Shared test helpers: deterministic photo-like images and assertions used across the suite."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

SAMPLES = Path(__file__).resolve().parent.parent / "labeler" / "samples"


def natural_image(height: int, width: int, seed: int = 0, channels: int = 3) -> np.ndarray:
    """A photo-like uint8 image: 1/f (pink) noise in each channel plus soft shapes, deterministic."""
    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    radius = np.sqrt(fx * fx + fy * fy)
    radius[0, 0] = 1.0
    out = np.empty((height, width, channels), dtype=np.float64)
    base = None
    for c in range(channels):
        spectrum = (rng.normal(size=radius.shape) + 1j * rng.normal(size=radius.shape)) / radius**1.1
        spectrum[0, 0] = 0
        plane = np.fft.irfft2(spectrum, s=(height, width))
        plane = (plane - plane.mean()) / (plane.std() + 1e-9)
        base = plane if base is None else base
        out[:, :, c] = 0.7 * base + 0.3 * plane  # correlated channels, like real colour
    out = 128 + 40 * out
    return np.clip(out, 0, 255).astype(np.uint8)


def jpeg_roundtrip(pixels: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)
    return np.array(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def psnr_y(a: np.ndarray, b: np.ndarray) -> float:
    weights = np.array([0.299, 0.587, 0.114])
    ya = a[..., :3].astype(np.float64) @ weights
    yb = b[..., :3].astype(np.float64) @ weights
    mse = float(np.mean((ya - yb) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def sample_photos() -> list[np.ndarray]:
    """The bundled real photos as RGB arrays (empty when none are bundled)."""
    photos = []
    for path in sorted(SAMPLES.glob("*")):
        if path.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"):
            photos.append(np.array(Image.open(path).convert("RGB")))
    return photos
