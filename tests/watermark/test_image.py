from __future__ import annotations

import cv2
import numpy as np
import pytest

from labeler.watermark import WatermarkKey, derive_watermark_id, detect_image, embed_image
from labeler.watermark.image import DEFAULT_FALSE_POSITIVE_LIMIT, MIN_SHORT_SIDE
from tests.helpers import jpeg_roundtrip, natural_image, psnr_y, sample_photos

KEY = WatermarkKey(b"test-key-0123456789abcdef-test-k")
OTHER_KEY = WatermarkKey(b"another-key-0123456789abcdef-xyz")
WID = 0x0123456789ABCDEF


def _photos() -> list[np.ndarray]:
    photos = [p for p in sample_photos() if min(p.shape[:2]) >= MIN_SHORT_SIDE]
    return photos or [natural_image(600, 800, seed=1)]


@pytest.fixture(scope="module")
def marked() -> list[tuple[np.ndarray, np.ndarray]]:
    return [(p, embed_image(p, WID, KEY)) for p in [*_photos(), natural_image(480, 640, seed=2)]]


def test_embed_is_invisible_enough_and_keeps_shape(marked: list[tuple[np.ndarray, np.ndarray]]) -> None:
    for original, out in marked:
        assert out.shape == original.shape and out.dtype == np.uint8
        assert psnr_y(original, out) >= 38.0


def test_input_array_is_not_modified() -> None:
    image = natural_image(300, 400, seed=3)
    before = image.copy()
    embed_image(image, WID, KEY)
    assert np.array_equal(image, before)


@pytest.mark.parametrize(
    "attack",
    [
        pytest.param(lambda a: a, id="none"),
        pytest.param(lambda a: jpeg_roundtrip(a, 75), id="jpeg75"),
        pytest.param(lambda a: cv2.resize(a, None, fx=0.75, fy=0.75, interpolation=cv2.INTER_AREA), id="resize0.75"),
        pytest.param(
            lambda a: jpeg_roundtrip(cv2.resize(a, None, fx=0.75, fy=0.75, interpolation=cv2.INTER_AREA), 75),
            id="resize0.75+jpeg75",
        ),
    ],
)
def test_decodes_the_exact_id_after_attacks(marked: list[tuple[np.ndarray, np.ndarray]], attack) -> None:  # type: ignore[no-untyped-def]
    for _, out in marked:
        result = detect_image(attack(out), KEY)
        assert result.detected, result.reason
        assert result.watermark_id == WID
        assert result.false_positive_probability <= DEFAULT_FALSE_POSITIVE_LIMIT


def test_wrong_key_finds_nothing(marked: list[tuple[np.ndarray, np.ndarray]]) -> None:
    for _, out in marked:
        result = detect_image(out, OTHER_KEY)
        assert not result.detected and result.watermark_id is None


def _unmarked_variants() -> list[np.ndarray]:
    images = [*_photos(), *(natural_image(360 + 40 * s, 480, seed=100 + s) for s in range(6))]
    variants: list[np.ndarray] = []
    rng = np.random.default_rng(11)
    for image in images:
        variants.append(image)
        variants.append(jpeg_roundtrip(image, 60))
        for scale in (0.5, 0.8, 1.3):
            variants.append(cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))
        h, w = image.shape[:2]
        for _ in range(4):
            ch, cw = int(h * rng.uniform(0.5, 0.9)), int(w * rng.uniform(0.5, 0.9))
            y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
            variants.append(np.ascontiguousarray(image[y : y + ch, x : x + cw]))
    # Content that stresses the decoder: flat, gradients, pure noise, periodic patterns.
    variants.append(np.full((512, 512, 3), 128, np.uint8))
    variants.append(np.tile(np.linspace(0, 255, 700, dtype=np.uint8)[None, :, None], (500, 1, 3)))
    variants.append(np.random.default_rng(5).integers(0, 256, (512, 640, 3), dtype=np.uint8))
    checker = ((np.indices((512, 512)).sum(axis=0) // 16) % 2 * 255).astype(np.uint8)
    variants.append(np.repeat(checker[:, :, None], 3, axis=2))
    stripes = (np.sin(np.arange(640) / 3.0) * 100 + 128).astype(np.uint8)
    variants.append(np.tile(stripes[None, :, None], (480, 1, 3)))
    return variants


def test_no_claims_on_unmarked_images() -> None:
    variants = _unmarked_variants()
    assert len(variants) >= 60
    for image in variants:
        result = detect_image(image, KEY)
        assert not result.detected, f"false claim on a {image.shape} image: {result}"
        assert result.watermark_id is None
        assert result.false_positive_probability == 1.0


def test_marks_do_not_leak_between_ids() -> None:
    image = natural_image(512, 512, seed=9)
    a = detect_image(embed_image(image, 1, KEY), KEY)
    b = detect_image(embed_image(image, 2**64 - 1, KEY), KEY)
    assert (a.watermark_id, b.watermark_id) == (1, 2**64 - 1)


def test_grey_and_rgba_images() -> None:
    grey = natural_image(400, 500, seed=4, channels=1)
    out = embed_image(grey, WID, KEY)
    assert out.shape == grey.shape and detect_image(out, KEY).watermark_id == WID

    rgba = np.concatenate([natural_image(400, 500, seed=5), np.full((400, 500, 1), 77, np.uint8)], axis=2)
    out = embed_image(rgba, WID, KEY)
    assert np.array_equal(out[:, :, 3], rgba[:, :, 3])  # alpha untouched
    assert detect_image(out, KEY).watermark_id == WID


def test_too_small_images() -> None:
    with pytest.raises(ValueError):
        embed_image(natural_image(MIN_SHORT_SIDE - 1, 600), WID, KEY)
    tiny = detect_image(natural_image(20, 20), KEY)
    assert not tiny.detected and "too small" in tiny.reason


def test_derived_ids_depend_on_producer_and_produce_id() -> None:
    assert derive_watermark_id("a", "1") == derive_watermark_id("a", "1")
    assert derive_watermark_id("a", "1") != derive_watermark_id("b", "1")
    assert derive_watermark_id("a", "1") != derive_watermark_id("a", "2")
    assert 0 <= derive_watermark_id("x", "y") < 2**64


def _rotate(a: np.ndarray, degrees: float) -> np.ndarray:
    h, w = a.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(a, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _centre_crop(a: np.ndarray, area: float) -> np.ndarray:
    h, w = a.shape[:2]
    ch, cw = int(h * area**0.5), int(w * area**0.5)
    y, x = (h - ch) // 2, (w - cw) // 2
    return np.ascontiguousarray(a[y : y + ch, x : x + cw])


def _screenshot(a: np.ndarray) -> np.ndarray:
    small = cv2.resize(a, None, fx=0.8, fy=0.8, interpolation=cv2.INTER_AREA)
    h, w = small.shape[:2]
    return jpeg_roundtrip(np.ascontiguousarray(small[h // 20 : h - h // 20, w // 20 : w - w // 20]), 80)


def _flip(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a[:, ::-1])


def _turn_clockwise(a: np.ndarray, quarter_turns: int = 1) -> np.ndarray:
    return np.ascontiguousarray(np.rot90(a, -quarter_turns))


@pytest.mark.parametrize(
    ("attack", "scale", "rotation", "mirrored", "turns"),
    [
        pytest.param(lambda a: _centre_crop(a, 0.5), 2**0.5, 0.0, False, 0, id="crop50"),
        pytest.param(lambda a: _rotate(a, 5), 1.0, -5.0, False, 0, id="rotate5"),
        pytest.param(lambda a: _rotate(_centre_crop(a, 0.7), -2), 0.7**-0.5, 2.0, False, 0, id="crop70+rotate-2"),
        pytest.param(_screenshot, 1 / 0.9, 0.0, False, 0, id="screenshot"),
        pytest.param(_flip, 1.0, 0.0, True, 0, id="flip"),
        # the mirror image of a turn is the opposite turn
        pytest.param(lambda a: _flip(_rotate(_centre_crop(a, 0.7), -2)), 0.7**-0.5, -2.0, True, 0,
                     id="crop70+rotate-2+flip"),
        pytest.param(lambda a: _screenshot(_flip(a)), 1 / 0.9, 0.0, True, 0, id="flip+screenshot"),
        # rotate edits: right-angle turns, alone and with crops, small rotations, flips and screenshots
        pytest.param(_turn_clockwise, 1.0, 0.0, False, 1, id="turn90"),
        pytest.param(lambda a: _turn_clockwise(a, 2), 1.0, 0.0, False, 2, id="turn180"),
        pytest.param(lambda a: _turn_clockwise(a, 3), 1.0, 0.0, False, 3, id="turn270"),
        pytest.param(lambda a: np.ascontiguousarray(a[::-1]), 1.0, 0.0, True, 2, id="upside-down-flip"),
        pytest.param(lambda a: _rotate(_centre_crop(_turn_clockwise(a), 0.7), 3), 0.7**-0.5, -3.0, False, 1,
                     id="turn90+crop70+rotate3"),
        pytest.param(lambda a: _screenshot(_turn_clockwise(_flip(a), 3)), 1 / 0.9, 0.0, True, 3,
                     id="flip+turn270+screenshot"),
    ],
)
def test_recovers_geometry_after_crops_rotations_turns_and_flips(attack, scale: float, rotation: float,  # type: ignore[no-untyped-def]
                                                                mirrored: bool, turns: int) -> None:
    marked = embed_image(natural_image(720, 960, seed=21), WID, KEY)
    result = detect_image(attack(marked), KEY)
    assert result.watermark_id == WID, result.reason
    assert result.scale == pytest.approx(scale, rel=0.02)
    assert result.rotation_degrees == pytest.approx(rotation, abs=0.3)
    assert (result.mirrored, result.right_angle_turns) == (mirrored, turns)
    assert result.false_positive_probability <= DEFAULT_FALSE_POSITIVE_LIMIT


def test_detection_reports_per_bit_reliability(marked: list[tuple[np.ndarray, np.ndarray]]) -> None:
    _, out = marked[0]
    result = detect_image(out, KEY)
    assert len(result.bit_reliability) == 64
    assert min(result.bit_reliability) > 1.0
    unmarked = detect_image(natural_image(480, 640, seed=11), KEY)
    assert unmarked.bit_reliability == ()


def test_small_pictures_get_a_stronger_mark_but_flat_areas_do_not() -> None:
    from labeler.watermark.image import MAX_SMALL_PICTURE_BOOST, small_picture_boost
    from labeler.watermark.masking import MASK_FLOOR, perceptual_mask

    assert small_picture_boost(2000, 3000) == 1.0
    assert 1.0 < small_picture_boost(1080, 1920) < small_picture_boost(600, 800) <= MAX_SMALL_PICTURE_BOOST
    flat = np.full((200, 300), 128.0, dtype=np.float32)
    assert np.allclose(perceptual_mask(flat, texture_boost=1.7), perceptual_mask(flat))
    assert float(perceptual_mask(flat, texture_boost=1.7).max()) <= MASK_FLOOR + 1e-6
    textured = natural_image(200, 300, seed=4)[:, :, 0].astype(np.float32)
    assert float(perceptual_mask(textured, texture_boost=1.7).mean()) > 1.2 * float(perceptual_mask(textured).mean())


def test_small_picture_mark_respects_the_psnr_floor() -> None:
    from labeler.watermark.image import MIN_PSNR_DB

    busy = natural_image(300, 400, seed=8)
    assert psnr_y(busy, embed_image(busy, WID, KEY)) >= MIN_PSNR_DB - 0.05
