from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.quality import luma, psnr_y, ssim_y
from tests.helpers import natural_image


def reference_ssim(x: np.ndarray, y: np.ndarray) -> float:
    """Wang et al. (2004) written out window by window: the slow, obviously-right version."""
    size, sigma = 11, 1.5
    r = np.arange(size) - size // 2
    g = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * sigma**2))
    w = g / g.sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    values = []
    for i in range(x.shape[0] - size + 1):
        for j in range(x.shape[1] - size + 1):
            px, py = x[i : i + size, j : j + size], y[i : i + size, j : j + size]
            mx, my = (w * px).sum(), (w * py).sum()
            vx, vy = (w * (px - mx) ** 2).sum(), (w * (py - my) ** 2).sum()
            cxy = (w * (px - mx) * (py - my)).sum()
            values.append(((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2)))
    return float(np.mean(values))


def test_identical_images() -> None:
    image = natural_image(64, 80, seed=1)
    assert psnr_y(image, image) == math.inf
    assert ssim_y(image, image) == 1.0


def test_psnr_of_one_level_offset() -> None:
    image = natural_image(64, 80, seed=2)
    image = np.clip(image, 0, 254).astype(np.uint8)
    assert psnr_y(image, image + 1) == pytest.approx(48.1308, abs=1e-4)
    assert psnr_y(image, image + 1) == pytest.approx(20 * math.log10(255), abs=1e-9)


def test_luma_is_bt601() -> None:
    pixel = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255]]], dtype=np.uint8)
    assert luma(pixel) == pytest.approx(np.array([[76.245, 149.685, 29.07]]))


def test_ssim_matches_reference_implementation() -> None:
    rng = np.random.default_rng(3)
    a = natural_image(30, 27, seed=4)
    b = np.clip(a.astype(np.int16) + rng.integers(-20, 21, size=a.shape), 0, 255).astype(np.uint8)
    expected = reference_ssim(luma(a), luma(b))
    assert ssim_y(a, b) == pytest.approx(expected, abs=1e-9)
    assert 0.0 < expected < 1.0


def test_ssim_orders_distortions() -> None:
    a = natural_image(96, 96, seed=5)
    rng = np.random.default_rng(0)
    mild = np.clip(a + rng.normal(0, 2, a.shape), 0, 255).astype(np.uint8)
    strong = np.clip(a + rng.normal(0, 20, a.shape), 0, 255).astype(np.uint8)
    assert 1.0 > ssim_y(a, mild) > ssim_y(a, strong)
    assert psnr_y(a, mild) > psnr_y(a, strong)


def test_shape_checks() -> None:
    a = natural_image(32, 32)
    with pytest.raises(ValueError):
        psnr_y(a, a[:16])
    with pytest.raises(ValueError):
        ssim_y(a[:8, :8], a[:8, :8])
