"""The attacks the image watermark benchmark applies: what happens to a picture on its way across the web.

Independent of the embedder on purpose (OpenCV and Pillow only, nothing from ``labeler.watermark``), so
the benchmark cannot flatter the detector. Every attack is a pure function
``attack(rgb, rng) -> rgb`` on uint8 HxWx3 RGB arrays; the only randomness comes from ``rng``, so a run
is reproducible from its seed. :data:`ATTACKS` lists them in the order the tables print.

Choices (each one what a typical tool does, unless it would make the attack unrealistically easy):

* JPEG goes through Pillow (libjpeg-turbo) with 4:2:0 chroma subsampling, the default of cameras, phones
  and every social network; WebP through Pillow (libwebp, lossy).
* Downscaling uses ``INTER_AREA`` (what image servers use; it averages, so it removes the most high
  frequency content); upscaling uses ``INTER_CUBIC``.
* Crops keep the aspect ratio and are not resized back: the detector must cope with a smaller picture
  whose tile grid starts at an unknown offset.
* Rotations keep the canvas size and fill the corners by reflecting the picture (``BORDER_REFLECT_101``),
  like an editor's rotate-and-fill; black corners would add straight edges no real photo has. Bilinear
  interpolation, the common default.
* Brightness multiplies; contrast scales the distance from the picture's mean level; both clip to 0..255.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Final, Literal, TypeAlias

import cv2
import numpy as np
from PIL import Image

Attack: TypeAlias = Callable[[np.ndarray, np.random.Generator], np.ndarray]

__all__ = [
    "ATTACKS",
    "Attack",
    "blur",
    "brightness",
    "contrast",
    "crop_centre",
    "crop_random",
    "flip",
    "gaussian_noise",
    "jpeg",
    "jpeg_bytes",
    "resize",
    "rotate",
    "screenshot",
    "social",
    "turn",
    "webp",
    "webp_bytes",
]

_SUBSAMPLING: Final = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}


def _check(image: np.ndarray) -> np.ndarray:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"attacks take uint8 HxWx3 RGB arrays, got {image.dtype} {image.shape}")
    return image


def _decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def jpeg_bytes(image: np.ndarray, quality: int, subsampling: Literal["4:4:4", "4:2:2", "4:2:0"] = "4:2:0") -> bytes:
    """The JPEG file Pillow writes for ``image`` (baseline, no optimisation, given chroma subsampling)."""
    buffer = io.BytesIO()
    Image.fromarray(_check(image)).save(buffer, "JPEG", quality=quality, subsampling=_SUBSAMPLING[subsampling])
    return buffer.getvalue()


def webp_bytes(image: np.ndarray, quality: int) -> bytes:
    """The lossy WebP file Pillow writes for ``image`` (``method`` 4, libwebp's default)."""
    buffer = io.BytesIO()
    Image.fromarray(_check(image)).save(buffer, "WEBP", quality=quality, method=4)
    return buffer.getvalue()


def jpeg(quality: int) -> Attack:
    """Re-encode as JPEG at ``quality`` (4:2:0)."""

    def attack(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return _decode(jpeg_bytes(image, quality))

    return attack


def webp(quality: int) -> Attack:
    """Re-encode as lossy WebP at ``quality``."""

    def attack(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return _decode(webp_bytes(image, quality))

    return attack


def _resized(image: np.ndarray, width: int, height: int, interpolation: int | None = None) -> np.ndarray:
    h, w = image.shape[:2]
    if interpolation is None:
        interpolation = cv2.INTER_AREA if width * height < w * h else cv2.INTER_CUBIC
    return np.ascontiguousarray(cv2.resize(image, (max(1, width), max(1, height)), interpolation=interpolation))


def resize(factor: float) -> Attack:
    """Scale both sides by ``factor`` (rounded to whole pixels)."""

    def attack(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        h, w = _check(image).shape[:2]
        return _resized(image, round(w * factor), round(h * factor))

    return attack


def _crop(image: np.ndarray, area: float, top_fraction: float, left_fraction: float) -> np.ndarray:
    """Keep ``area`` of the picture (same aspect ratio), its corner at the given fraction of the slack."""
    h, w = image.shape[:2]
    side = math.sqrt(area)
    ch, cw = max(1, round(h * side)), max(1, round(w * side))
    y, x = round((h - ch) * top_fraction), round((w - cw) * left_fraction)
    return np.ascontiguousarray(image[y : y + ch, x : x + cw])


def crop_centre(area: float) -> Attack:
    """Keep the central ``area`` fraction of the picture, not resized back."""

    def attack(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return _crop(_check(image), area, 0.5, 0.5)

    return attack


def crop_random(min_area: float, max_area: float) -> Attack:
    """Keep a random ``[min_area, max_area]`` fraction at a random offset, not resized back."""

    def attack(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        area = float(rng.uniform(min_area, max_area))
        return _crop(_check(image), area, float(rng.uniform()), float(rng.uniform()))

    return attack


def rotate(degrees: float) -> Attack:
    """Rotate about the centre by ``degrees`` (counter-clockwise), same canvas, reflected corners."""

    def attack(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        h, w = _check(image).shape[:2]
        matrix = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), degrees, 1.0)
        return np.ascontiguousarray(
            cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        )

    return attack


def blur(sigma: float) -> Attack:
    """Gaussian blur with standard deviation ``sigma`` pixels (kernel size chosen by OpenCV)."""

    def attack(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return np.ascontiguousarray(cv2.GaussianBlur(_check(image), (0, 0), sigmaX=sigma, sigmaY=sigma))

    return attack


def gaussian_noise(levels: float) -> Attack:
    """Add independent Gaussian noise of standard deviation ``levels`` (of 255) to every sample."""

    def attack(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        noise = rng.normal(0.0, levels, size=_check(image).shape)
        return _to_uint8(image + noise)

    return attack


def brightness(factor: float) -> Attack:
    """Multiply every sample by ``factor`` and clip."""

    def attack(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return _to_uint8(_check(image).astype(np.float32) * factor)

    return attack


def contrast(factor: float) -> Attack:
    """Scale every sample's distance from the picture's mean level by ``factor`` and clip."""

    def attack(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        pixels = _check(image).astype(np.float32)
        mean = float(pixels.mean())
        return _to_uint8((pixels - mean) * factor + mean)

    return attack


def social(long_side: int = 1080, quality: int = 75) -> Attack:
    """What a social network does on upload: fit the long side in ``long_side`` px, then JPEG 4:2:0."""

    def attack(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        h, w = _check(image).shape[:2]
        if max(h, w) > long_side:
            scale = long_side / max(h, w)
            image = _resized(image, round(w * scale), round(h * scale), cv2.INTER_AREA)
        return _decode(jpeg_bytes(image, quality))

    return attack


def screenshot(scale: float = 0.8, max_edge: float = 0.05, quality: int = 80) -> Attack:
    """A screenshot of the picture shown on screen: rescaled (bilinear, like a browser), each side cut by a
    random 0..``max_edge`` of that dimension (window chrome, sloppy selection), saved as JPEG."""

    def attack(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        h, w = _check(image).shape[:2]
        shown = _resized(image, round(w * scale), round(h * scale), cv2.INTER_LINEAR)
        sh, sw = shown.shape[:2]
        top, bottom, left, right = rng.uniform(0.0, max_edge, size=4)
        y0, y1 = round(sh * top), sh - round(sh * bottom)
        x0, x1 = round(sw * left), sw - round(sw * right)
        return _decode(jpeg_bytes(np.ascontiguousarray(shown[y0:y1, x0:x1]), quality))

    return attack


def _none(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return _check(image).copy()


def _followed(edit: Callable[[np.ndarray], np.ndarray], then: Attack | None) -> Attack:
    """``edit``, then the attack ``then`` when given."""

    def attack(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        edited = np.ascontiguousarray(edit(_check(image)))
        return then(edited, rng) if then is not None else edited

    return attack


def flip(then: Attack | None = None) -> Attack:
    """The picture mirrored left to right (a common repost edit), then ``then`` when given."""
    return _followed(lambda image: image[:, ::-1], then)


def turn(quarter_turns: int, then: Attack | None = None) -> Attack:
    """The picture turned clockwise by ``quarter_turns`` right angles (a rotate edit), then ``then``."""
    return _followed(lambda image: np.rot90(image, -quarter_turns), then)


def _build() -> dict[str, Attack]:
    attacks: dict[str, Attack] = {"none": _none}
    for q in (90, 75, 50, 30, 10):
        attacks[f"jpeg{q}"] = jpeg(q)
    attacks["webp50"] = webp(50)
    for f in (0.25, 0.5, 0.75, 1.5):
        attacks[f"resize{f:g}"] = resize(f)
    attacks["crop50-centre"] = crop_centre(0.5)
    attacks["crop-random"] = crop_random(0.5, 0.8)
    for d in (2, -2, 5, -5):
        attacks[f"rotate{d:+d}"] = rotate(d)
    attacks["blur1"] = blur(1.0)
    attacks["noise5"] = gaussian_noise(5.0)
    attacks["bright0.5"] = brightness(0.5)
    attacks["bright1.5"] = brightness(1.5)
    attacks["contrast0.7"] = contrast(0.7)
    attacks["social"] = social()
    attacks["screenshot"] = screenshot()
    attacks["flip"] = flip()
    attacks["flip+social"] = flip(social())
    attacks["turn90"] = turn(1)
    attacks["turn270+social"] = turn(3, social())
    attacks["turn90+crop-random"] = turn(1, crop_random(0.5, 0.8))
    return attacks


#: Every attack by name, in table order (a read-only view: no module-level state anyone can change).
ATTACKS: Final[Mapping[str, Attack]] = MappingProxyType(_build())
