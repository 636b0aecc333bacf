"""The embedder's per-pixel stage: upsample the working-size luma change and add it to every colour channel.

Two implementations with the same contract. ``add_upsampled_delta_reference`` is NumPy/OpenCV
(``cv2.resize`` INTER_LINEAR, then a rounded, saturating add). ``native/fused_embed.c`` does the same in
one pass without the full-resolution float plane; `make native` builds it into
``labeler/watermark/_fused_embed.so`` and it is used when present (tests/watermark/test_fused.py holds
the two to within one grey level, `make bench` shows the speed-up). Setting LABELER_NATIVE=0 in the
environment before import forces the reference.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import cv2
import numpy as np

LIBRARY_PATH = Path(__file__).with_name("_fused_embed.so")


def add_luma_delta(pixels: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """``pixels`` with the float32 HxW ``delta`` added to every colour channel (rounded, saturated);
    alpha untouched. Adding the same amount to R, G and B moves Y by exactly that and leaves chroma."""
    step = cv2.multiply(delta, 1.0, dtype=cv2.CV_16S)  # type: ignore[call-overload]  # rounds to nearest
    if pixels.ndim == 2 or pixels.shape[2] == 1:
        marked = cv2.add(pixels.reshape(pixels.shape[:2]), step, dtype=cv2.CV_8U)
        return marked.reshape(pixels.shape)
    colour = np.ascontiguousarray(pixels[:, :, :3])
    marked = cv2.add(colour, cv2.merge([step, step, step]), dtype=cv2.CV_8U)
    if pixels.shape[2] == 3:
        return marked
    return np.dstack([marked, pixels[:, :, 3:]])


def add_upsampled_delta_reference(pixels: np.ndarray, delta_work: np.ndarray) -> np.ndarray:
    height, width = pixels.shape[:2]
    return add_luma_delta(pixels, cv2.resize(delta_work, (width, height), interpolation=cv2.INTER_LINEAR))


def _load() -> ctypes.CDLL | None:
    if os.environ.get("LABELER_NATIVE", "1") == "0" or not LIBRARY_PATH.exists():
        return None
    try:
        library = ctypes.CDLL(str(LIBRARY_PATH))
    except OSError:
        return None
    try:
        function = library.fused_add_luma_delta
        activity, headroom = library.mask_activity, library.mask_headroom
    except AttributeError:  # a library built from an older fused_embed.c: `make native` rebuilds it
        return None
    function.restype = ctypes.c_int
    function.argtypes = [
        ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int,
        ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
    ]
    activity.restype = headroom.restype = None
    activity.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_long, ctypes.c_float, ctypes.c_float,
                         ctypes.c_float]
    headroom.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_long, ctypes.c_float]
    return library


_LIBRARY = _load()
NATIVE_AVAILABLE = _LIBRARY is not None


def add_upsampled_delta_native(pixels: np.ndarray, delta_work: np.ndarray) -> np.ndarray:
    library = _library()
    source = pixels if pixels.ndim == 3 else pixels[:, :, None]
    if source.strides[2] != 1 or source.strides[1] != source.shape[2]:
        source = np.ascontiguousarray(source)
    delta = np.ascontiguousarray(delta_work, dtype=np.float32)
    out = np.empty(source.shape, dtype=np.uint8)
    height, width, channels = source.shape
    status = library.fused_add_luma_delta(
        source.ctypes.data, out.ctypes.data, height, width, channels, source.strides[0], out.strides[0],
        delta.ctypes.data, delta.shape[0], delta.shape[1],
    )
    if status != 0:
        raise MemoryError("native kernel could not allocate its row buffers")
    return out.reshape(pixels.shape)


def add_upsampled_delta(pixels: np.ndarray, delta_work: np.ndarray) -> np.ndarray:
    """A new uint8 array like ``pixels`` (HxW or HxWxC) with ``delta_work`` (float32, any size) resized
    to it bilinearly and added to the colour channels."""
    if NATIVE_AVAILABLE:
        return add_upsampled_delta_native(pixels, delta_work)
    return add_upsampled_delta_reference(pixels, delta_work)


def _library() -> ctypes.CDLL:
    if _LIBRARY is None:
        raise RuntimeError(f"native kernel not built ({LIBRARY_PATH.name}); run `make native`")
    return _LIBRARY


def _float_planes(first: np.ndarray, second: np.ndarray) -> None:
    for plane in (first, second):
        if plane.dtype != np.float32 or not plane.flags.c_contiguous:
            raise ValueError("the mask kernels take C-contiguous float32 planes")
    if first.shape != second.shape:
        raise ValueError("the mask kernels' planes differ in shape")


def mask_activity_native(mean: np.ndarray, mean_sq: np.ndarray, scale: float, low: float, high: float) -> np.ndarray:
    """clip(sqrt(max(mean_sq - mean**2, 0)) * scale, low, high) in one pass, written into ``mean_sq``
    (float32, bit-identical to :func:`labeler.watermark.masking.mask_activity_reference`, which writes
    there too)."""
    library = _library()
    _float_planes(mean, mean_sq)
    library.mask_activity(mean.ctypes.data, mean_sq.ctypes.data, mean.size, scale, low, high)
    return mean_sq


def mask_headroom_native(gain: np.ndarray, mean: np.ndarray, inverse_margin: float) -> np.ndarray:
    """``gain`` *= clip(min(mean, 255 - mean) * inverse_margin, 0, 1), in place, in one pass (bit-identical
    to :func:`labeler.watermark.masking.mask_headroom_reference`)."""
    library = _library()
    _float_planes(gain, mean)
    library.mask_headroom(gain.ctypes.data, mean.ctypes.data, gain.size, inverse_margin)
    return gain
