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

from labeler.orientation import ORIENTATIONS

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


def template_spectrum(template: np.ndarray) -> np.ndarray:
    """The conjugate spectrum :func:`cyclic_correlate` multiplies by: computed once for a fixed template."""
    spectrum = np.conj(np.fft.rfft2(template))
    spectrum.setflags(write=False)  # cached and shared by callers
    return spectrum


def cyclic_correlate(signal: np.ndarray, template: np.ndarray, spectrum: np.ndarray | None = None) -> np.ndarray:
    """Circular cross-correlation: out[dy, dx] = sum(signal[y+dy, x+dx] * template[y, x]); ``spectrum``,
    when given, is ``template_spectrum(template)``."""
    product = np.fft.rfft2(signal) * (template_spectrum(template) if spectrum is None else spectrum)
    return np.fft.irfft2(product, s=signal.shape).astype(np.float32)


@dataclass(frozen=True)
class SyncResult:
    dy: int
    dx: int
    #: Peak height in robust standard deviations of the correlation surface.
    z: float
    #: Probability that the highest of ``positions`` null peaks reaches ``z`` (Gaussian, union bound).
    p_value: float


def orientation_spectra(template: np.ndarray) -> np.ndarray:
    """For each orientation but upright, the OpenCV spectrum of the (square) ``template`` it undoes: a tile
    restored by an orientation correlates with the template as the unrestored tile correlates with the
    template undone (the surfaces are the same values, permuted). Float32 (7, N, N), packed CCS.

    Folding commutes with these transforms up to a cyclic shift (which the sync search absorbs), so a
    detector restores the folded tile, not the whole picture."""
    spectra = np.stack([cv2.dft(o.undo(template).astype(np.float32)) for o in ORIENTATIONS[1:]])
    spectra.setflags(write=False)  # cached and shared by callers
    return spectra


def peak_heights(folded: np.ndarray, spectra: np.ndarray) -> np.ndarray:
    """(max - mean) / std of the correlation surface of ``folded`` with each template of ``spectra``
    (:func:`orientation_spectra`): one forward transform for all, and plain moments instead of
    :func:`find_offset`'s robust ones. A screen to pick which orientation gets the full sync search."""
    signal = cv2.dft(np.ascontiguousarray(folded, dtype=np.float32))
    heights = np.zeros(len(spectra))
    for index, spectrum in enumerate(spectra):
        surface = cv2.idft(cv2.mulSpectrums(signal, spectrum, 0, conjB=True), flags=cv2.DFT_REAL_OUTPUT)
        mean, std = cv2.meanStdDev(surface)
        spread = float(std[0, 0])
        heights[index] = (float(surface.max()) - float(mean[0, 0])) / spread if spread > 0 else 0.0
    return heights


def normal_tail(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def find_offset(folded: np.ndarray, template: np.ndarray, spectrum: np.ndarray | None = None) -> SyncResult:
    surface = cyclic_correlate(folded, template, spectrum)
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
    """Spectrum (OpenCV packed format) of "identity minus a Gaussian blur", circularly shifted by half the
    (even) size: multiplying by it both detrends and centres (fftshift) the autocorrelation."""
    dy = np.minimum(np.arange(height), height - np.arange(height)).astype(np.float64)
    dx = np.minimum(np.arange(width), width - np.arange(width)).astype(np.float64)
    kernel = np.exp(-(dy[:, None] ** 2 + dx[None, :] ** 2) / (2.0 * ACF_DETREND_SIGMA**2))
    kernel = -kernel / kernel.sum()
    kernel[0, 0] += 1.0
    spectrum = cv2.dft(np.roll(kernel, (height // 2, width // 2), axis=(0, 1)).astype(np.float32))
    spectrum.setflags(write=False)  # cached and shared
    return spectrum


def fast_dft_size(length: int) -> int:
    """The smallest 2^a * 3^b * 5^c >= ``length`` with b <= 2 and c <= 1.

    OpenCV's getOptimalDFTSize allows any power of 3 and 5, but its radix-5 passes are slow: the
    1080p plane's 1875 (3 * 5^4) took 1.5x as long as 1920 (2^7 * 3 * 5).
    """
    best = None
    for odd in (1, 3, 5, 9, 15, 45):
        size = odd
        while size < length:
            size *= 2
        best = size if best is None else min(best, size)
    assert best is not None
    return best


def autocorrelation(plane: np.ndarray) -> np.ndarray:
    """Linear (zero-padded) autocorrelation, centred, with its smooth trend removed.

    OpenCV's packed real DFT (6x faster than NumPy's here) at a fast padded size (``fast_dft_size``),
    computed in place in one buffer: fresh multi-megabyte temporaries cost more in page faults than the
    arithmetic. The detrending blur and the centring shift are one more spectrum product.
    """
    height, width = plane.shape
    padded_h, padded_w = fast_dft_size(2 * height), fast_dft_size(2 * width)
    buffer = np.zeros((padded_h, padded_w), dtype=np.float32)
    buffer[:height, :width] = plane
    cv2.dft(buffer, dst=buffer)
    cv2.mulSpectrums(buffer, buffer, 0, c=buffer, conjB=True)
    cv2.mulSpectrums(buffer, _detrend_spectrum(padded_h, padded_w), 0, c=buffer)
    cv2.idft(buffer, dst=buffer, flags=cv2.DFT_REAL_OUTPUT | cv2.DFT_SCALE)
    return buffer


#: Lattice points for the fine stage: longer lags pin the angle and period down more precisely.
REFINE_POINTS = tuple(
    (m, n) for m in range(0, 4) for n in range(-3, 4) if (m > 0 or n > 0) and m * m + n * n <= 10
)
REFINE_SCALE_SPAN = 0.012
REFINE_ROTATION_SPAN_DEGREES = 0.5
REFINE_STEPS = 41


def _lattice_points(
    acf: np.ndarray, period: np.ndarray, angle: np.ndarray, points: tuple[tuple[int, int], ...]
) -> np.ndarray:
    """The autocorrelation at each lattice point (m, n) of every candidate (period, angle): one array of
    shape ``(len(points), *period.shape)``, read with a single remap (per-point calls cost more in
    NumPy dispatch than in lookups)."""
    centre_y, centre_x = acf.shape[0] // 2, acf.shape[1] // 2
    m = np.array([p[0] for p in points], dtype=np.float64).reshape(-1, *([1] * period.ndim))
    n = np.array([p[1] for p in points], dtype=np.float64).reshape(m.shape)
    cos, sin = np.cos(angle) * period, np.sin(angle) * period
    x = (centre_x + (m * cos - n * sin)).astype(np.float32).reshape(len(points), -1)
    y = (centre_y + (m * sin + n * cos)).astype(np.float32).reshape(len(points), -1)
    values = cv2.remap(acf, x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return values.reshape(len(points), *period.shape)


_SQUARE_POINTS = ((1, 0), (2, 0), (0, 1), (0, 2), (1, 1), (1, -1))


def _square_lattice_score(acf: np.ndarray, period: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Coarse score that needs support along *both* axes and both diagonals.

    Pictures with stripes (blinds, fences, text lines) have strong one-directional periodicity; taking
    the weaker of each pair stops them outscoring the two-dimensional tile lattice.
    """
    x1, x2, y1, y2, diagonal, antidiagonal = _lattice_points(acf, period, angle, _SQUARE_POINTS)
    return np.minimum(x1 + x2, y1 + y2) + np.minimum(diagonal, antidiagonal)


def _refine(acf: np.ndarray, nominal_period: int, coarse: list[Geometry]) -> list[Geometry]:
    """Each coarse candidate moved to the best (scale, angle) of a fine grid around it, on more and longer
    lattice vectors; all candidates' grids are scored together."""
    scale_offsets = np.exp(np.linspace(-REFINE_SCALE_SPAN, REFINE_SCALE_SPAN, REFINE_STEPS))
    angle_offsets = np.deg2rad(np.linspace(-REFINE_ROTATION_SPAN_DEGREES, REFINE_ROTATION_SPAN_DEGREES, REFINE_STEPS))
    scales = np.array([g.scale for g in coarse])[:, None, None] * scale_offsets[None, :, None]
    angles = np.array([g.rotation for g in coarse])[:, None, None] + angle_offsets[None, None, :]
    scale_grid, angle_grid = np.broadcast_arrays(scales, angles)
    score = _lattice_points(acf, nominal_period * scale_grid, angle_grid, REFINE_POINTS).sum(axis=0)
    refined = []
    for k, geometry in enumerate(coarse):
        i, j = np.unravel_index(int(np.argmax(score[k])), score[k].shape)
        refined.append(
            Geometry(scale=float(scale_grid[k, i, j]), rotation=float(angle_grid[k, i, j]), score=geometry.score)
        )
    return refined


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

    coarse: list[Geometry] = []
    for _ in range(count):
        i, j = np.unravel_index(int(np.argmax(score)), score.shape)
        if not math.isfinite(float(score[i, j])):
            break
        scale, rotation = float(math.exp(log_scales[i])), float(angles[j])
        coarse.append(Geometry(scale=scale, rotation=rotation, score=float(score[i, j])))
        # Suppress the neighbourhood so the next candidate is a different geometry.
        score[max(0, i - 8) : i + 9, max(0, j - 4) : j + 5] = -np.inf
    return _refine(acf, nominal_period, coarse) if coarse else []


def _canonical_affine(shape: tuple[int, ...], geometry: Geometry) -> tuple[np.ndarray, tuple[int, int]]:
    """The affine matrix that rotates back and rescales about the centre, and the output (height, width)."""
    height, width = shape[:2]
    factor = 1.0 / geometry.scale
    cos, sin = math.cos(geometry.rotation) * factor, math.sin(geometry.rotation) * factor
    out_h, out_w = max(1, round(height * factor)), max(1, round(width * factor))
    matrix = np.array([[cos, sin, 0.0], [-sin, cos, 0.0]], dtype=np.float64)
    matrix[:, 2] = np.array([out_w / 2.0, out_h / 2.0]) - matrix[:, :2] @ np.array([width / 2.0, height / 2.0])
    return matrix, (out_h, out_w)


def warp_to_canonical(whitened: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Undo ``geometry`` on a whitened plane: rotate back and rescale so the lattice has its nominal
    period and axes. Pixels from outside the picture are 0, which the fold ignores.

    The plane is whitened once, before the lattice search, and each candidate warps that: re-whitening
    every warped plane cost a third of each candidate's decode and rarely matters (see
    ``whiten_at_canonical`` for when it does).
    """
    matrix, (out_h, out_w) = _canonical_affine(whitened.shape, geometry)
    return cv2.warpAffine(
        whitened, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )


def whiten_at_canonical(plane: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Warp the *unwhitened* plane to the canonical geometry, then whiten: slower than
    ``warp_to_canonical`` on the whitened plane, but the whitening filter then sees the mark's cells at
    their nominal size, which rescues marginal decodes on strongly rescaled, busy pictures."""
    matrix, (out_h, out_w) = _canonical_affine(plane.shape, geometry)
    warped = cv2.warpAffine(plane, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    inside = cv2.warpAffine(
        np.ones(plane.shape, dtype=np.uint8), matrix, (out_w, out_h), flags=cv2.INTER_NEAREST,
        borderMode=cv2.BORDER_CONSTANT, borderValue=0,
    )
    return whiten(warped) * inside.astype(np.float32)
