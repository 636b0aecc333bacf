"""Image quality metrics for the benchmark, on luma only: the watermark lives in luma, and luma is what
the eye resolves finely, so PSNR-Y and SSIM-Y are the numbers that say whether the mark is visible.

Luma is full-range BT.601 (``Y = 0.299 R + 0.587 G + 0.114 B``) kept in float64, not rounded, so a
constant offset of one level in every channel gives exactly MSE 1 (PSNR 48.13 dB).
"""

from __future__ import annotations

import math
from typing import Final

import cv2
import numpy as np

__all__ = ["luma", "psnr_y", "ssim_y"]

_BT601: Final = np.array([0.299, 0.587, 0.114])
_PEAK: Final = 255.0
#: Wang et al. (2004): K1 = 0.01, K2 = 0.03, L = 255; 11x11 Gaussian window, sigma 1.5.
_C1: Final = (0.01 * _PEAK) ** 2
_C2: Final = (0.03 * _PEAK) ** 2
_WINDOW: Final = 11
_SIGMA: Final = 1.5


def luma(image: np.ndarray) -> np.ndarray:
    """BT.601 luma of a uint8 HxWx3 RGB (or HxW grey) array, as float64 HxW."""
    if image.ndim == 2:
        return image.astype(np.float64)
    if image.ndim != 3 or image.shape[2] < 3:
        raise ValueError(f"expected HxW or HxWx3 pixels, got shape {image.shape}")
    return image[..., :3].astype(np.float64) @ _BT601


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    return luma(a), luma(b)


def psnr_y(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of the luma planes in dB (``inf`` for identical luma)."""
    ya, yb = _pair(a, b)
    mse = float(np.mean((ya - yb) ** 2))
    return math.inf if mse == 0.0 else 10.0 * math.log10(_PEAK * _PEAK / mse)


def _filter(plane: np.ndarray) -> np.ndarray:
    """Gaussian-weighted local mean, keeping only windows wholly inside the image (MATLAB's 'valid')."""
    blurred = cv2.GaussianBlur(plane, (_WINDOW, _WINDOW), _SIGMA, borderType=cv2.BORDER_REFLECT_101)
    r = _WINDOW // 2
    return np.asarray(blurred[r:-r, r:-r], dtype=np.float64)


def ssim_y(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM (Wang et al. 2004) of the luma planes: 11x11 Gaussian window (sigma 1.5), K1 0.01, K2 0.03,
    mean over the windows that lie wholly inside the image, no automatic downsampling.

    Both images must be at least 11 pixels on each side.
    """
    x, y = _pair(a, b)
    if min(x.shape) < _WINDOW:
        raise ValueError(f"SSIM needs images of at least {_WINDOW}x{_WINDOW} pixels, got {x.shape}")
    mu_x, mu_y = _filter(x), _filter(y)
    xx, yy, xy = _filter(x * x), _filter(y * y), _filter(x * y)
    var_x = xx - mu_x * mu_x
    var_y = yy - mu_y * mu_y
    cov = xy - mu_x * mu_y
    numerator = (2 * mu_x * mu_y + _C1) * (2 * cov + _C2)
    denominator = (mu_x * mu_x + mu_y * mu_y + _C1) * (var_x + var_y + _C2)
    return float(np.mean(numerator / denominator))
