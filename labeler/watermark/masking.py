"""Perceptual masking: how much pattern each region of the picture can hide.

Textured regions hide more than flat ones (skies, walls, gradients), and pixels near black or white
get less so the pattern is not clipped away. Works on the luma plane at the working resolution
(float32 HxW, 0..255).
"""

from __future__ import annotations

import cv2
import numpy as np

#: Local standard deviation (grey levels) that earns the nominal strength.
ACTIVITY_REFERENCE = 10.0
MASK_FLOOR = 0.30
MASK_CEILING = 1.8
#: Grey levels from black/white over which strength ramps down.
SATURATION_MARGIN = 12.0


def perceptual_mask(luma: np.ndarray, window: int = 5, texture_boost: float = 1.0) -> np.ndarray:
    """A float32 HxW gain map in [0, MASK_CEILING * texture_boost].

    ``texture_boost`` scales the gain where texture earns it but leaves the floor alone, so flat areas
    (where a pattern shows first) never get more than MASK_FLOOR.
    """
    # In place where NumPy allows it: the same float32 operations in the same order as the plain
    # expressions (bit-identical), without a dozen full-size temporaries per call (video calls it per frame).
    mean = cv2.blur(luma, (window, window), borderType=cv2.BORDER_REFLECT)
    mean_sq = cv2.blur(cv2.multiply(luma, luma), (window, window), borderType=cv2.BORDER_REFLECT)
    variance = np.subtract(mean_sq, np.multiply(mean, mean), out=mean_sq)
    np.maximum(variance, np.float32(0.0), out=variance)
    std = np.sqrt(variance, out=variance)
    # Smooth the map so the gain itself carries no visible edges.
    gain = np.multiply(std, np.float32(texture_boost / ACTIVITY_REFERENCE), out=std)
    np.clip(gain, np.float32(MASK_FLOOR), np.float32(MASK_CEILING * texture_boost), out=gain)
    gain = cv2.GaussianBlur(gain, (0, 0), window / 2.0, borderType=cv2.BORDER_REFLECT)
    headroom = np.subtract(np.float32(255.0), mean)
    np.minimum(mean, headroom, out=headroom)
    np.multiply(headroom, np.float32(1.0 / SATURATION_MARGIN), out=headroom)
    np.clip(headroom, np.float32(0.0), np.float32(1.0), out=headroom)
    return np.multiply(gain, headroom, out=gain)
