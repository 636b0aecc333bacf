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
    mean = cv2.blur(luma, (window, window), borderType=cv2.BORDER_REFLECT)
    mean_sq = cv2.blur(luma * luma, (window, window), borderType=cv2.BORDER_REFLECT)
    std = np.sqrt(np.maximum(mean_sq - mean * mean, 0.0))
    # Smooth the map so the gain itself carries no visible edges.
    gain = np.clip(std * (texture_boost / ACTIVITY_REFERENCE), MASK_FLOOR, MASK_CEILING * texture_boost)
    gain = cv2.GaussianBlur(gain, (0, 0), window / 2.0, borderType=cv2.BORDER_REFLECT)
    headroom = np.clip(np.minimum(mean, 255.0 - mean) * (1.0 / SATURATION_MARGIN), 0.0, 1.0)
    return (gain * headroom).astype(np.float32)
