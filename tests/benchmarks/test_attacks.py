from __future__ import annotations

import io
import math

import numpy as np
import pytest
from PIL import Image

from benchmarks.attacks import ATTACKS, jpeg_bytes, rotate, screenshot, webp_bytes
from benchmarks.quality import psnr_y
from tests.helpers import natural_image

EXPECTED_NAMES = [
    "none", "jpeg90", "jpeg75", "jpeg50", "jpeg30", "jpeg10", "webp50",
    "resize0.25", "resize0.5", "resize0.75", "resize1.5", "crop50-centre", "crop-random",
    "rotate+2", "rotate-2", "rotate+5", "rotate-5", "blur1", "noise5", "bright0.5", "bright1.5",
    "contrast0.7", "social", "screenshot", "flip", "flip+social", "turn90", "turn270+social", "turn90+crop-random",
]  # fmt: skip

H, W = 240, 320


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return natural_image(H, W, seed=7)


def test_names_and_order() -> None:
    assert list(ATTACKS) == EXPECTED_NAMES
    with pytest.raises(TypeError):
        ATTACKS["x"] = ATTACKS["none"]  # type: ignore[index]


@pytest.mark.parametrize("name", EXPECTED_NAMES)
def test_uint8_rgb_and_deterministic(image: np.ndarray, name: str) -> None:
    attack = ATTACKS[name]
    before = image.copy()
    first = attack(image, np.random.default_rng(11))
    second = attack(image, np.random.default_rng(11))
    assert first.dtype == np.uint8 and first.ndim == 3 and first.shape[2] == 3
    assert first.flags.c_contiguous
    assert np.array_equal(first, second)
    assert np.array_equal(image, before)  # the input is never modified


@pytest.mark.parametrize("name", ["noise5", "crop-random", "screenshot"])
def test_random_attacks_depend_on_seed(image: np.ndarray, name: str) -> None:
    a = ATTACKS[name](image, np.random.default_rng(1))
    b = ATTACKS[name](image, np.random.default_rng(2))
    assert a.shape != b.shape or not np.array_equal(a, b)


def test_none_is_identity(image: np.ndarray) -> None:
    out = ATTACKS["none"](image, np.random.default_rng(0))
    assert np.array_equal(out, image) and out is not image


@pytest.mark.parametrize(
    ("name", "factor"), [("resize0.25", 0.25), ("resize0.5", 0.5), ("resize0.75", 0.75), ("resize1.5", 1.5)]
)
def test_resize_sizes(image: np.ndarray, name: str, factor: float) -> None:
    out = ATTACKS[name](image, np.random.default_rng(0))
    assert out.shape == (round(H * factor), round(W * factor), 3)


def test_flip_mirrors_left_to_right(image: np.ndarray) -> None:
    assert np.array_equal(ATTACKS["flip"](image, np.random.default_rng(0)), image[:, ::-1])
    social = ATTACKS["social"](np.ascontiguousarray(image[:, ::-1]), np.random.default_rng(0))
    assert np.array_equal(ATTACKS["flip+social"](image, np.random.default_rng(0)), social)


def test_turns_are_clockwise_and_then_chain(image: np.ndarray) -> None:
    turned = ATTACKS["turn90"](image, np.random.default_rng(0))
    assert turned.shape == (W, H, 3) and np.array_equal(turned[0, :], image[::-1, 0])  # the left column is on top
    social = ATTACKS["social"](np.ascontiguousarray(np.rot90(image, 1)), np.random.default_rng(0))
    assert np.array_equal(ATTACKS["turn270+social"](image, np.random.default_rng(0)), social)
    cropped = ATTACKS["crop-random"](turned, np.random.default_rng(4))
    assert np.array_equal(ATTACKS["turn90+crop-random"](image, np.random.default_rng(4)), cropped)


def test_crop_centre_keeps_half_the_area_in_the_middle(image: np.ndarray) -> None:
    out = ATTACKS["crop50-centre"](image, np.random.default_rng(0))
    h, w = out.shape[:2]
    assert h * w / (H * W) == pytest.approx(0.5, abs=0.01)
    y, x = (H - h) // 2, (W - w) // 2
    assert np.array_equal(out, image[y : y + h, x : x + w])


def test_crop_random_area_and_offset(image: np.ndarray) -> None:
    offsets = set()
    for seed in range(20):
        out = ATTACKS["crop-random"](image, np.random.default_rng(seed))
        h, w = out.shape[:2]
        assert 0.49 <= h * w / (H * W) <= 0.81
        # the crop is an exact sub-array of the original: find where it sits
        found = [
            (y, x)
            for y in range(H - h + 1)
            for x in range(W - w + 1)
            if out[0, 0].tolist() == image[y, x].tolist() and np.array_equal(out, image[y : y + h, x : x + w])
        ]
        assert found
        offsets.add(found[0])
    assert len(offsets) > 10


def test_jpeg_bytes_shrink_with_quality(image: np.ndarray) -> None:
    sizes = [len(jpeg_bytes(image, q)) for q in (90, 75, 50, 30, 10)]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > 2 * sizes[-1]
    assert len(webp_bytes(image, 50)) < len(webp_bytes(image, 90))


def test_jpeg_is_420(image: np.ndarray) -> None:
    with Image.open(io.BytesIO(jpeg_bytes(image, 75))) as im:
        assert im.format == "JPEG"
        # Pillow reports the sampling factors of each component: luma 2x2, chroma 1x1 means 4:2:0.
        assert [layer[1:3] for layer in im.layer] == [(2, 2), (1, 1), (1, 1)]  # type: ignore[attr-defined]


def test_jpeg_distortion_grows_as_quality_falls(image: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    psnrs = [psnr_y(image, ATTACKS[f"jpeg{q}"](image, rng)) for q in (90, 75, 50, 30, 10)]
    assert psnrs == sorted(psnrs, reverse=True)
    assert psnr_y(image, ATTACKS["webp50"](image, rng)) < 60


def test_rotation_keeps_canvas_and_moves_pixels(image: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    for name in ("rotate+2", "rotate-2", "rotate+5", "rotate-5"):
        out = ATTACKS[name](image, rng)
        assert out.shape == image.shape
        assert not np.array_equal(out, image)
    assert np.array_equal(rotate(0)(image, rng), image)
    # corners are filled by reflection, never black: a white picture stays white
    white = np.full((64, 96, 3), 255, np.uint8)
    assert np.array_equal(ATTACKS["rotate-5"](white, rng), white)
    # +5 and -5 are mirror operations: rotating back nearly restores the centre
    back = rotate(-5)(ATTACKS["rotate+5"](image, rng), rng)
    centre = (slice(H // 4, 3 * H // 4), slice(W // 4, 3 * W // 4))
    assert psnr_y(back[centre], image[centre]) > 25


def test_blur_and_noise_effects(image: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    blurred = ATTACKS["blur1"](image, rng).astype(np.float64)
    assert np.abs(np.diff(blurred, axis=1)).mean() < np.abs(np.diff(image.astype(np.float64), axis=1)).mean()
    flat = np.full((200, 200, 3), 128, np.uint8)
    noisy = ATTACKS["noise5"](flat, rng).astype(np.float64)
    assert noisy.mean() == pytest.approx(128, abs=0.2)
    assert noisy.std() == pytest.approx(5, rel=0.05)


def test_brightness_and_contrast() -> None:
    rng = np.random.default_rng(0)
    image = np.array([[[100, 200, 20], [40, 60, 80]]], np.uint8)
    assert ATTACKS["bright0.5"](image, rng).tolist() == [[[50, 100, 10], [20, 30, 40]]]
    assert ATTACKS["bright1.5"](image, rng).tolist() == [[[150, 255, 30], [60, 90, 120]]]
    out = ATTACKS["contrast0.7"](image, rng).astype(np.float64)
    mean = image.mean()
    assert out.mean() == pytest.approx(mean, abs=0.5)
    assert out.std() == pytest.approx(0.7 * image.std(), abs=0.5)


def test_social_downscales_long_side() -> None:
    rng = np.random.default_rng(0)
    tall = natural_image(1600, 900, seed=1)
    out = ATTACKS["social"](tall, rng)
    assert out.shape == (1080, round(900 * 1080 / 1600), 3)
    small = natural_image(300, 400, seed=1)
    assert ATTACKS["social"](small, rng).shape == small.shape  # never upscales
    assert 25 < psnr_y(small, ATTACKS["social"](small, rng)) < 60


def test_screenshot_scale_and_crop(image: np.ndarray) -> None:
    for seed in range(5):
        out = ATTACKS["screenshot"](image, np.random.default_rng(seed))
        sh, sw = round(H * 0.8), round(W * 0.8)
        assert math.floor(sh * 0.9) <= out.shape[0] <= sh
        assert math.floor(sw * 0.9) <= out.shape[1] <= sw
    assert screenshot(max_edge=0.0)(image, np.random.default_rng(0)).shape == (round(H * 0.8), round(W * 0.8), 3)


def test_rejects_non_rgb_uint8(image: np.ndarray) -> None:
    with pytest.raises(ValueError):
        ATTACKS["jpeg75"](image.astype(np.float32), np.random.default_rng(0))
    with pytest.raises(ValueError):
        ATTACKS["blur1"](image[:, :, 0], np.random.default_rng(0))
