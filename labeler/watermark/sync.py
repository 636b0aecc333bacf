"""Synchronisation: whitening, folding tiles into one, and finding the tile's offset by FFT correlation.

Planes are float32 HxW at the working resolution, where one watermark cell is ``CELL_PX`` pixels and
one tile ``TILE_PX`` pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

WHITEN_SIGMA = 3.0
NORMALISE_WINDOW = 9
CLIP_SIGMAS = 2.0


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


# --- Geometry: recovering scale and rotation from the tile lattice ---------------------------------------
#
# The tiled pattern makes the whitened picture periodic, so its autocorrelation has sharp peaks on the
# tile lattice: at (m, n) * period, rotated with the picture. Scoring candidate (period, angle) pairs
# by the autocorrelation summed over a few lattice points finds how the picture was scaled and rotated
# (crops change the period relative to the short side; rotations tilt the lattice). The autocorrelation
# is high-passed so only sharp peaks count, and left unnormalised so that long lags (few overlapping
# pixels, noisy sums) weigh less; that also makes the true period beat its multiples, whose lattice
# points are a subset of the true one's.

SCALE_RANGE = (0.85, 2.4)
SCALE_STEPS = 300
ROTATION_LIMIT_DEGREES = 10.0
ROTATION_STEP_DEGREES = 0.25
ACF_DETREND_SIGMA = 6.0


@dataclass(frozen=True)
class Geometry:
    """How the suspect picture relates to the embedding frame: lattice period / nominal, and angle."""

    scale: float
    rotation: float  # radians, image coordinates (y down)
    score: float = 0.0

    @property
    def is_identity(self) -> bool:
        return self.scale == 1.0 and self.rotation == 0.0


IDENTITY = Geometry(1.0, 0.0)


@lru_cache(maxsize=8)
def _detrend_spectrum(height: int, width: int) -> np.ndarray:
    """Spectrum (OpenCV packed format) of "identity minus a Gaussian blur", for detrending by multiplying."""
    dy = np.minimum(np.arange(height), height - np.arange(height)).astype(np.float64)
    dx = np.minimum(np.arange(width), width - np.arange(width)).astype(np.float64)
    kernel = np.exp(-(dy[:, None] ** 2 + dx[None, :] ** 2) / (2.0 * ACF_DETREND_SIGMA**2))
    kernel = -kernel / kernel.sum()
    kernel[0, 0] += 1.0
    return cv2.dft(kernel.astype(np.float32))


def autocorrelation(plane: np.ndarray) -> np.ndarray:
    """Linear (zero-padded) autocorrelation, centred, with its smooth trend removed.

    OpenCV's packed real DFT (6x faster than NumPy's here) at an optimal padded size; the detrending
    blur is applied as one more spectrum product instead of a large spatial filter.
    """
    height, width = plane.shape
    padded_h, padded_w = cv2.getOptimalDFTSize(2 * height), cv2.getOptimalDFTSize(2 * width)
    padded = np.zeros((padded_h, padded_w), dtype=np.float32)
    padded[:height, :width] = plane
    spectrum = cv2.dft(padded)
    power = cv2.mulSpectrums(spectrum, spectrum, 0, conjB=True)
    detrended = cv2.mulSpectrums(power, _detrend_spectrum(padded_h, padded_w), 0)
    acf = cv2.idft(detrended, flags=cv2.DFT_REAL_OUTPUT | cv2.DFT_SCALE)
    return np.fft.fftshift(acf)


#: Lattice points for the fine stage: longer lags pin the angle and period down more precisely.
REFINE_POINTS = tuple(
    (m, n) for m in range(0, 4) for n in range(-3, 4) if (m > 0 or n > 0) and m * m + n * n <= 10
)
REFINE_SCALE_SPAN = 0.012
REFINE_ROTATION_SPAN_DEGREES = 0.5
REFINE_STEPS = 41


def _lattice_point(acf: np.ndarray, period: np.ndarray, angle: np.ndarray, m: int, n: int) -> np.ndarray:
    """The autocorrelation at lattice point (m, n) of every candidate (period, angle)."""
    centre_y, centre_x = acf.shape[0] // 2, acf.shape[1] // 2
    cos, sin = np.cos(angle), np.sin(angle)
    x = (centre_x + (m * cos - n * sin) * period).astype(np.float32)
    y = (centre_y + (m * sin + n * cos) * period).astype(np.float32)
    return cv2.remap(acf, x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _lattice_score(
    acf: np.ndarray, period: np.ndarray, angle: np.ndarray, points: tuple[tuple[int, int], ...]
) -> np.ndarray:
    """Autocorrelation summed over ``points`` of the lattice (period, angle), for arrays of candidates."""
    score = np.zeros(period.shape, dtype=np.float32)
    for m, n in points:
        score += _lattice_point(acf, period, angle, m, n)
    return score


def _square_lattice_score(acf: np.ndarray, period: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Coarse score that needs support along *both* axes and both diagonals.

    Pictures with stripes (blinds, fences, text lines) have strong one-directional periodicity; taking
    the weaker of each pair stops them outscoring the two-dimensional tile lattice.
    """
    along_x = _lattice_point(acf, period, angle, 1, 0) + _lattice_point(acf, period, angle, 2, 0)
    along_y = _lattice_point(acf, period, angle, 0, 1) + _lattice_point(acf, period, angle, 0, 2)
    diagonal = _lattice_point(acf, period, angle, 1, 1)
    antidiagonal = _lattice_point(acf, period, angle, 1, -1)
    return np.minimum(along_x, along_y) + np.minimum(diagonal, antidiagonal)


def _refine(acf: np.ndarray, nominal_period: int, coarse: Geometry) -> Geometry:
    scales = coarse.scale * np.exp(np.linspace(-REFINE_SCALE_SPAN, REFINE_SCALE_SPAN, REFINE_STEPS))
    angles = coarse.rotation + np.deg2rad(
        np.linspace(-REFINE_ROTATION_SPAN_DEGREES, REFINE_ROTATION_SPAN_DEGREES, REFINE_STEPS)
    )
    scale_grid, angle_grid = np.meshgrid(scales, angles, indexing="ij")
    score = _lattice_score(acf, nominal_period * scale_grid, angle_grid, REFINE_POINTS)
    i, j = np.unravel_index(int(np.argmax(score)), score.shape)
    return Geometry(scale=float(scale_grid[i, j]), rotation=float(angle_grid[i, j]), score=coarse.score)


def lattice_candidates(whitened: np.ndarray, nominal_period: int, count: int) -> list[Geometry]:
    """The ``count`` most likely (scale, rotation) pairs, best first.

    A coarse grid over the whole range scored on the short lattice vectors (both axes required), then a
    fine grid around each peak with more and longer ones.
    """
    acf = autocorrelation(whitened)
    log_scales = np.linspace(math.log(SCALE_RANGE[0]), math.log(SCALE_RANGE[1]), SCALE_STEPS)
    angles = np.deg2rad(
        np.arange(-ROTATION_LIMIT_DEGREES, ROTATION_LIMIT_DEGREES + 1e-9, ROTATION_STEP_DEGREES)
    )
    period, angle = np.meshgrid(nominal_period * np.exp(log_scales), angles, indexing="ij")
    score = _square_lattice_score(acf, period, angle)

    found: list[Geometry] = []
    for _ in range(count):
        i, j = np.unravel_index(int(np.argmax(score)), score.shape)
        if not math.isfinite(float(score[i, j])):
            break
        coarse = Geometry(scale=float(math.exp(log_scales[i])), rotation=float(angles[j]), score=float(score[i, j]))
        found.append(_refine(acf, nominal_period, coarse))
        # Suppress the neighbourhood so the next candidate is a different geometry.
        score[max(0, i - 8) : i + 9, max(0, j - 4) : j + 5] = -np.inf
    return found


def warp_to_canonical(plane: np.ndarray, geometry: Geometry) -> tuple[np.ndarray, np.ndarray]:
    """Undo ``geometry``: rotate back and rescale so the lattice has its nominal period and axes.

    Returns the warped plane and a 0/1 mask of the pixels that came from inside the picture.
    """
    height, width = plane.shape
    factor = 1.0 / geometry.scale
    cos, sin = math.cos(geometry.rotation) * factor, math.sin(geometry.rotation) * factor
    out_h, out_w = max(1, round(height * factor)), max(1, round(width * factor))
    matrix = np.array([[cos, sin, 0.0], [-sin, cos, 0.0]], dtype=np.float64)
    matrix[:, 2] = np.array([out_w / 2.0, out_h / 2.0]) - matrix[:, :2] @ np.array([width / 2.0, height / 2.0])
    warped = cv2.warpAffine(plane, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    # The mask is warped as uint8 (a quarter of the bytes of float32: this warp was the costliest step
    # of each candidate's decode).
    inside = cv2.warpAffine(
        np.ones(plane.shape, dtype=np.uint8), matrix, (out_w, out_h), flags=cv2.INTER_NEAREST,
        borderMode=cv2.BORDER_CONSTANT, borderValue=0,
    )
    return warped, inside.astype(np.float32)
