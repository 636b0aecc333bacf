"""Perceptual masking: how much pattern each region of the picture can hide.

Textured regions hide more than flat ones (skies, walls, gradients), and pixels near black or white
get less so the pattern is not clipped away. Works on the luma plane at the working resolution
(float32 HxW, 0..255).
"""

from __future__ import annotations

import cv2
import numpy as np

from labeler.watermark import fused

#: Local standard deviation (grey levels) that earns the nominal strength.
ACTIVITY_REFERENCE = 10.0
MASK_FLOOR = 0.30
MASK_CEILING = 1.8
#: Grey levels from black/white over which strength ramps down.
SATURATION_MARGIN = 12.0


class Scratch:
    """Reusable planes for a caller that computes the same sizes again and again (video: every frame).
    Allocating and freeing the ~13 MB of temporaries of a 1080p frame made the C heap shrink and grow
    back each frame (~1,300 page faults, 1.3-1.8 ms of system time per frame). Results are identical;
    a plane handed out is overwritten by the next call that asks for it, so one Scratch serves one
    thread."""

    def __init__(self) -> None:
        self._planes: dict[str, np.ndarray] = {}

    def plane(self, name: str, shape: tuple[int, ...], dtype: type = np.float32) -> np.ndarray:
        found = self._planes.get(name)
        if found is None or found.shape != shape or found.dtype != dtype:
            found = self._planes[name] = np.empty(shape, dtype=dtype)
        return found


def perceptual_mask(
    luma: np.ndarray, window: int = 5, texture_boost: float = 1.0, scratch: Scratch | None = None
) -> np.ndarray:
    """A float32 HxW gain map in [0, MASK_CEILING * texture_boost] (with ``scratch``: one of its planes).

    ``texture_boost`` scales the gain where texture earns it but leaves the floor alone, so flat areas
    (where a pattern shows first) never get more than MASK_FLOOR.
    """
    def plane(name: str) -> np.ndarray | None:
        return scratch.plane(name, luma.shape) if scratch is not None else None

    mean = cv2.blur(luma, (window, window), dst=plane("mean"), borderType=cv2.BORDER_REFLECT)
    square = cv2.multiply(luma, luma, dst=plane("square"))
    mean_sq = cv2.blur(square, (window, window), dst=plane("mean_sq"), borderType=cv2.BORDER_REFLECT)
    scale = np.float32(texture_boost / ACTIVITY_REFERENCE)
    low, high = np.float32(MASK_FLOOR), np.float32(MASK_CEILING * texture_boost)
    native = (fused.NATIVE_AVAILABLE and mean.dtype == mean_sq.dtype == np.float32
              and mean.flags.c_contiguous and mean_sq.flags.c_contiguous)
    if native:  # one pass each instead of six and five (video calls this once per frame)
        gain = fused.mask_activity_native(mean, mean_sq, float(scale), float(low), float(high))
    else:
        gain = mask_activity_reference(mean, mean_sq, scale, low, high)
    # Smooth the map so the gain itself carries no visible edges.
    gain = cv2.GaussianBlur(gain, (0, 0), window / 2.0, dst=plane("gain"), borderType=cv2.BORDER_REFLECT)
    inverse_margin = np.float32(1.0 / SATURATION_MARGIN)
    if native and gain.flags.c_contiguous:
        return fused.mask_headroom_native(gain, mean, float(inverse_margin))
    return mask_headroom_reference(gain, mean, inverse_margin)


def mask_activity_reference(
    mean: np.ndarray, mean_sq: np.ndarray, scale: np.float32, low: np.float32, high: np.float32
) -> np.ndarray:
    """Local activity to gain, clip(sqrt(max(mean_sq - mean**2, 0)) * scale, low, high), float32; writes
    into ``mean_sq``. In place where NumPy allows it: the same float32 operations in the same order as the
    plain expressions (bit-identical), without full-size temporaries."""
    variance = np.subtract(mean_sq, np.multiply(mean, mean), out=mean_sq)
    np.maximum(variance, np.float32(0.0), out=variance)
    std = np.sqrt(variance, out=variance)
    gain = np.multiply(std, scale, out=std)
    return np.clip(gain, low, high, out=gain)


def mask_headroom_reference(gain: np.ndarray, mean: np.ndarray, inverse_margin: np.float32) -> np.ndarray:
    """``gain`` times clip(min(mean, 255 - mean) * inverse_margin, 0, 1), in place: less pattern near black
    and white."""
    headroom = np.subtract(np.float32(255.0), mean)
    np.minimum(mean, headroom, out=headroom)
    np.multiply(headroom, inverse_margin, out=headroom)
    np.clip(headroom, np.float32(0.0), np.float32(1.0), out=headroom)
    return np.multiply(gain, headroom, out=gain)
