"""Synchronisation: whitening, folding tiles into one, and finding the tile's offset by FFT correlation.

Planes are float32 HxW at the working resolution, where one watermark cell is ``CELL_PX`` pixels and
one tile ``TILE_PX`` pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

WHITEN_SIGMA = 3.0
NORMALISE_WINDOW = 31
CLIP_SIGMAS = 3.0


def whiten(plane: np.ndarray) -> np.ndarray:
    """Remove the picture's own low-frequency content and equalise local noise.

    The residual is divided by its local RMS so that busy regions (loud noise for the detector) do not
    drown quiet ones, then clipped so edges cannot dominate the sums.
    """
    residual = plane - cv2.GaussianBlur(plane, (0, 0), WHITEN_SIGMA, borderType=cv2.BORDER_REFLECT)
    power = cv2.blur(residual * residual, (NORMALISE_WINDOW, NORMALISE_WINDOW), borderType=cv2.BORDER_REFLECT)
    normalised = residual / np.sqrt(power + 1.0)
    return np.clip(normalised, -CLIP_SIGMAS, CLIP_SIGMAS).astype(np.float32)


def highpass_cyclic(tile: np.ndarray) -> np.ndarray:
    """The same low-frequency removal as ``whiten`` applied to a periodic tile (wrap-around borders)."""
    pad = math.ceil(4 * WHITEN_SIGMA)
    wrapped = np.pad(tile.astype(np.float32), pad, mode="wrap")
    blurred = cv2.GaussianBlur(wrapped, (0, 0), WHITEN_SIGMA, borderType=cv2.BORDER_REFLECT)[pad:-pad, pad:-pad]
    return (tile - blurred).astype(np.float32)


def fold(plane: np.ndarray, period: int) -> np.ndarray:
    """Sum every ``period``-sized tile of ``plane`` into one (the last partial tiles count too)."""
    height, width = plane.shape
    padded_h = -(-height // period) * period
    padded_w = -(-width // period) * period
    padded = np.zeros((padded_h, padded_w), dtype=np.float32)
    padded[:height, :width] = plane
    return padded.reshape(padded_h // period, period, padded_w // period, period).sum(axis=(0, 2))


def cyclic_upsample(chips: np.ndarray, cell_px: int) -> np.ndarray:
    """Smoothly interpolate a periodic grid of chips (cells) to pixels, wrapping at the edges.

    Cell j covers pixels [j*cell_px, (j+1)*cell_px); the embedder's interpolation is the same.
    """
    rows, cols = chips.shape
    tiled = np.tile(chips.astype(np.float32), (3, 3))
    up = cv2.resize(tiled, (cols * 3 * cell_px, rows * 3 * cell_px), interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(up[rows * cell_px : 2 * rows * cell_px, cols * cell_px : 2 * cols * cell_px])


def cyclic_correlate(signal: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Circular cross-correlation: out[dy, dx] = sum(signal[y+dy, x+dx] * template[y, x])."""
    spectrum = np.fft.rfft2(signal) * np.conj(np.fft.rfft2(template))
    return np.fft.irfft2(spectrum, s=signal.shape).astype(np.float32)


@dataclass(frozen=True)
class SyncResult:
    dy: int
    dx: int
    #: Peak height in robust standard deviations of the correlation surface.
    z: float
    #: Probability that the highest of ``positions`` null peaks reaches ``z`` (Gaussian, union bound).
    p_value: float


def normal_tail(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def find_offset(folded: np.ndarray, template: np.ndarray) -> SyncResult:
    surface = cyclic_correlate(folded, template)
    flat_index = int(np.argmax(surface))
    dy, dx = np.unravel_index(flat_index, surface.shape)
    median = float(np.median(surface))
    spread = 1.4826 * float(np.median(np.abs(surface - median)))
    if spread <= 0.0 or not math.isfinite(spread):
        return SyncResult(int(dy), int(dx), 0.0, 1.0)
    z = (float(surface.flat[flat_index]) - median) / spread
    p_value = min(1.0, surface.size * normal_tail(z))
    return SyncResult(int(dy), int(dx), z, p_value)
