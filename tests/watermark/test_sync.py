from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labeler.orientation import ORIENTATIONS
from labeler.watermark import sync


@given(st.integers(1, 20_000))
def test_fast_dft_size_is_the_smallest_allowed_size(length: int) -> None:
    size = sync.fast_dft_size(length)
    assert size >= length

    def allowed(n: int) -> bool:
        while n % 2 == 0:
            n //= 2
        return n in (1, 3, 5, 9, 15, 45)

    assert allowed(size)
    assert not any(allowed(n) for n in range(length, size))


def _reference_autocorrelation(plane: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The definition in float64 NumPy: zero-padded ACF, minus its Gaussian-blurred trend, fftshifted."""
    height, width = shape
    padded = np.zeros(shape)
    padded[: plane.shape[0], : plane.shape[1]] = plane
    spectrum = np.fft.fft2(padded)
    acf = np.real(np.fft.ifft2(np.abs(spectrum) ** 2))
    dy = np.minimum(np.arange(height), height - np.arange(height))
    dx = np.minimum(np.arange(width), width - np.arange(width))
    kernel = np.exp(-(dy[:, None] ** 2 + dx[None, :] ** 2) / (2.0 * sync.ACF_DETREND_SIGMA**2))
    kernel = -kernel / kernel.sum()
    kernel[0, 0] += 1.0
    return np.fft.fftshift(np.real(np.fft.ifft2(np.fft.fft2(acf) * np.fft.fft2(kernel))))


@settings(max_examples=10, deadline=None)
@given(st.integers(40, 200), st.integers(40, 200), st.integers(0, 2**32 - 1))
def test_autocorrelation_matches_the_numpy_definition(height: int, width: int, seed: int) -> None:
    plane = np.random.default_rng(seed).normal(size=(height, width)).astype(np.float32)
    acf = sync.autocorrelation(plane)
    assert acf.shape == (sync.fast_dft_size(2 * height), sync.fast_dft_size(2 * width))
    reference = _reference_autocorrelation(plane, acf.shape)
    assert np.abs(acf - reference).max() <= 1e-4 * np.abs(reference).max()


def test_lattice_scoring_reads_each_point_like_a_direct_lookup() -> None:
    rng = np.random.default_rng(3)
    acf = rng.normal(size=(300, 400)).astype(np.float32)
    period = rng.uniform(20.0, 60.0, (7, 5))
    angle = rng.uniform(-0.2, 0.2, (7, 5))
    points = ((1, 0), (0, 2), (2, -1))
    values = sync._lattice_points(acf, period, angle, points)
    for k, (m, n) in enumerate(points):
        x = 200 + (m * np.cos(angle) - n * np.sin(angle)) * period
        y = 150 + (m * np.sin(angle) + n * np.cos(angle)) * period
        direct = cv2.remap(acf, x.astype(np.float32), y.astype(np.float32), cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        np.testing.assert_allclose(values[k], direct, rtol=1e-5, atol=1e-4)


def test_lattice_candidates_find_a_scaled_and_rotated_tiling() -> None:
    # A keyed-noise tile repeated over the plane, then scaled by 1.3 and rotated by 4 degrees.
    tile = np.random.default_rng(5).choice([-1.0, 1.0], size=(32, 32)).astype(np.float32)
    pattern = sync.cyclic_upsample(tile, 4)
    plane = np.tile(pattern, (6, 8)) + np.random.default_rng(6).normal(0.0, 2.0, (768, 1024)).astype(np.float32)
    centre = (512.0, 384.0)
    matrix = cv2.getRotationMatrix2D(centre, -4.0, 1.3)
    warped = cv2.warpAffine(plane, matrix, (1024, 768), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    best = sync.lattice_candidates(sync.whiten(warped[128:640, 128:896]), 128, 4)[0]
    assert abs(best.scale - 1.3) < 0.01
    assert abs(math.degrees(best.rotation) - 4.0) < 0.3


def test_warp_to_canonical_leaves_outside_pixels_at_zero() -> None:
    plane = np.ones((200, 300), dtype=np.float32)
    warped = sync.warp_to_canonical(plane, sync.Geometry(scale=0.9, rotation=math.radians(8.0)))
    assert warped.shape == (round(200 / 0.9), round(300 / 0.9))
    assert warped[0, 0] == 0.0 and warped[-1, -1] == 0.0
    assert warped[warped.shape[0] // 2, warped.shape[1] // 2] == 1.0


def _cyclic_shifts_of(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether ``b`` is ``a`` cyclically shifted (the sync search absorbs any such shift)."""
    return any(np.allclose(np.roll(a, (dy, dx), axis=(0, 1)), b, atol=1e-4)
               for dy in range(a.shape[0]) for dx in range(a.shape[1]))


@given(st.integers(3, 9), st.integers(3, 9), st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None)
def test_each_orientation_commutes_with_folding(height: int, width: int, seed: int) -> None:
    period = 4
    plane = np.random.default_rng(seed).standard_normal((height, width)).astype(np.float32)
    for orientation in ORIENTATIONS:
        # the fold of the restored plane is the restored fold, up to a cyclic shift
        assert _cyclic_shifts_of(orientation.apply(sync.fold(plane, period)),
                                 sync.fold(orientation.apply(plane), period))


def test_peak_heights_screen_each_orientation_as_its_restored_tile_correlates() -> None:
    rng = np.random.default_rng(3)
    template = rng.standard_normal((32, 32)).astype(np.float32)
    folded = rng.standard_normal((32, 32)).astype(np.float32)
    heights = sync.peak_heights(folded, sync.orientation_spectra(template))
    for orientation, height in zip(ORIENTATIONS[1:], heights, strict=True):
        surface = sync.cyclic_correlate(orientation.apply(folded), template)
        assert height == pytest.approx((surface.max() - surface.mean()) / surface.std())
    # a tile that is the template turned and flipped stands out in exactly that orientation
    for index, orientation in enumerate(ORIENTATIONS[1:]):
        shown = orientation.undo(template) + 0.3 * rng.standard_normal((32, 32)).astype(np.float32)
        assert int(np.argmax(sync.peak_heights(shown, sync.orientation_spectra(template)))) == index
