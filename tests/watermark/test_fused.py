"""The native per-pixel kernel against its NumPy/OpenCV reference."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labeler.watermark import fused

pytestmark = pytest.mark.skipif(
    not fused.NATIVE_AVAILABLE and not os.environ.get("CI"),
    reason="native kernel not built (run `make native`); under CI its absence fails these tests",
)


def _case(height: int, width: int, channels: int, work_h: int, work_w: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    shape = (height, width) if channels == 0 else (height, width, channels)
    pixels = rng.integers(0, 256, shape, dtype=np.uint8)
    delta = rng.normal(0.0, 4.0, (work_h, work_w)).astype(np.float32)
    return pixels, delta


def _assert_equivalent(pixels: np.ndarray, delta: np.ndarray) -> None:
    assert fused.NATIVE_AVAILABLE, "native kernel missing"
    native = fused.add_upsampled_delta_native(pixels, delta)
    reference = fused.add_upsampled_delta_reference(pixels, delta)
    assert native.shape == reference.shape == pixels.shape and native.dtype == np.uint8
    difference = np.abs(native.astype(np.int16) - reference.astype(np.int16))
    # Float interpolation order differs from OpenCV's, so a value on a rounding boundary may land one
    # grey level apart; anything more is a bug.
    assert int(difference.max()) <= 1
    assert float(np.mean(difference > 0)) < 0.01
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        assert np.array_equal(native[:, :, 3], pixels[:, :, 3])  # alpha untouched


@pytest.mark.parametrize("channels", [0, 1, 3, 4])
def test_matches_reference_on_typical_geometry(channels: int) -> None:
    _assert_equivalent(*_case(1080, 1920, channels, 512, 910, seed=channels))


def test_matches_reference_when_upsampling_less_than_working_size() -> None:
    _assert_equivalent(*_case(300, 400, 3, 512, 683, seed=9))


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 90), st.integers(1, 90), st.sampled_from([0, 1, 3, 4]),
    st.integers(1, 40), st.integers(1, 40), st.integers(0, 2**31),
)
def test_matches_reference_on_any_shape(height: int, width: int, channels: int, wh: int, ww: int, seed: int) -> None:
    _assert_equivalent(*_case(height, width, channels, wh, ww, seed))


def test_saturates_instead_of_wrapping() -> None:
    pixels = np.full((64, 64, 3), 250, dtype=np.uint8)
    pixels[:32] = 3
    delta = np.full((16, 16), 20.0, dtype=np.float32)
    delta[:8] = -20.0
    out = fused.add_upsampled_delta_native(pixels, delta)
    assert out[:24].max() == 0 and out[40:].min() == 255


def test_non_contiguous_input_is_handled() -> None:
    pixels, delta = _case(200, 300, 4, 64, 96, seed=3)
    view = pixels[:, ::-1]  # negative stride
    _assert_equivalent(view, delta)


def _luma(height: int, width: int, seed: int) -> np.ndarray:
    # Flat, textured, near-black and near-white regions: every branch of the mask (floor, ceiling, headroom).
    rng = np.random.default_rng(seed)
    plane = rng.normal(128.0, 40.0, (height, width))
    plane[: height // 3] = 128.0 + rng.normal(0.0, 0.5, (height // 3, width))
    plane[:, : width // 4] *= 0.05
    plane[:, -(width // 4) :] = 255.0 - plane[:, -(width // 4) :] * 0.05
    return np.clip(plane, 0.0, 255.0).astype(np.float32)


@settings(max_examples=25, deadline=None)
@given(height=st.integers(8, 90), width=st.integers(8, 90), boost=st.sampled_from([1.0, 1.6]),
       seed=st.integers(0, 2**16))
def test_mask_kernels_are_bit_identical_to_the_reference(height: int, width: int, boost: float, seed: int) -> None:
    from labeler.watermark import masking

    luma = _luma(height, width, seed)
    rng = np.random.default_rng(seed)
    mean = rng.uniform(0.0, 255.0, luma.shape).astype(np.float32)
    mean_sq = (mean * mean + rng.normal(0.0, 300.0, luma.shape)).astype(np.float32)  # some negative variances
    scale, low, high = np.float32(boost / 10.0), np.float32(0.3), np.float32(1.8 * boost)
    native = fused.mask_activity_native(mean, mean_sq.copy(), float(scale), float(low), float(high))
    reference = masking.mask_activity_reference(mean, mean_sq.copy(), scale, low, high)
    np.testing.assert_array_equal(native, reference)
    gain = rng.uniform(0.0, 3.0, luma.shape).astype(np.float32)
    inverse = np.float32(1.0 / 12.0)
    np.testing.assert_array_equal(fused.mask_headroom_native(gain.copy(), mean, float(inverse)),
                                  masking.mask_headroom_reference(gain.copy(), mean, inverse))


def test_perceptual_mask_is_the_same_with_and_without_the_kernels(monkeypatch: pytest.MonkeyPatch) -> None:
    from labeler.watermark import masking

    luma = _luma(512, 910, 5)
    with_kernels = masking.perceptual_mask(luma, texture_boost=1.3)
    monkeypatch.setattr(fused, "NATIVE_AVAILABLE", False)
    np.testing.assert_array_equal(with_kernels, masking.perceptual_mask(luma, texture_boost=1.3))


def test_mask_kernels_refuse_other_layouts() -> None:
    plane = np.zeros((8, 8), np.float32)
    with pytest.raises(ValueError):
        fused.mask_activity_native(plane[:, ::2], plane[:, ::2], 0.1, 0.3, 1.8)
    with pytest.raises(ValueError):
        fused.mask_headroom_native(plane.astype(np.float64), plane, 0.1)


def test_perceptual_mask_of_a_strided_view_equals_that_of_a_copy() -> None:
    from labeler.watermark import masking

    wide = _luma(40, 120, 9)
    view = wide[:, ::2]  # not contiguous: OpenCV copies it, the kernels see its own planes
    np.testing.assert_array_equal(masking.perceptual_mask(view), masking.perceptual_mask(view.copy()))
