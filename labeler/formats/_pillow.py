"""Helpers shared by the Pillow-backed still-image handlers (JPEG, PNG, WebP).

Everything here is a pure function: no module state is changed, Pillow's global switches
(``ImageFile.LOAD_TRUNCATED_IMAGES``, ``Image.MAX_IMAGE_PIXELS``) are never touched. Pillow's own
decompression-bomb check is side-stepped without touching its global by constructing the plugin's
``ImageFile`` class directly (the check lives in ``Image.open``); our ``Limits.max_pixels`` is checked
from the container header before that, so the limit users see is ours.
"""

from __future__ import annotations

import io
import re
import struct
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image, ImageCms, ImageFile

from labeler.errors import CorruptMedia, EmptyMedia, InvalidInput, LabelerError, MediaTooLarge
from labeler.settings import Limits

#: What Pillow raises on truncated or malformed data (plus struct/zlib errors from plugins).
PILLOW_DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
    struct.error,
    Image.DecompressionBombError,
)

#: EXIF Orientation -> Pillow transpose, the same table ``ImageOps.exif_transpose`` uses.
_ORIENTATION_TRANSPOSE: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

EXIF_HEADER = b"Exif\x00\x00"
_TAG_ORIENTATION = 0x0112


def check_dimensions(width: int, height: int, limits: Limits, what: str) -> None:
    """Empty and too-large checks from header values, before any pixel is decoded."""
    if width <= 0 or height <= 0:
        raise EmptyMedia(f"{what} has zero pixels ({width}x{height})")
    pixels = width * height
    if pixels > limits.max_pixels:
        raise MediaTooLarge(f"{what} is {width}x{height} = {pixels} pixels, over the limit of {limits.max_pixels}")


def open_image(
    factory: Callable[[io.BytesIO], ImageFile.ImageFile], data: bytes, limits: Limits, what: str
) -> ImageFile.ImageFile:
    """Open (header only) with the plugin class; re-check the size Pillow reports."""
    try:
        im = factory(io.BytesIO(data))
    except LabelerError:
        raise
    except PILLOW_DECODE_ERRORS as exc:
        raise CorruptMedia(f"{what} header cannot be read: {describe(exc)}") from None
    check_dimensions(im.width, im.height, limits, what)
    return im


def load_image(im: ImageFile.ImageFile, what: str) -> None:
    """Decode pixels; truncation and bitstream errors become CorruptMedia."""
    try:
        im.load()
    except PILLOW_DECODE_ERRORS as exc:
        raise CorruptMedia(f"{what} is truncated or malformed: {describe(exc)}") from None


def describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__


def to_pixels(im: Image.Image, orientation: int) -> np.ndarray:
    """Normalise any Pillow mode to uint8 HxWxC (C in 1, 3, 4) and apply EXIF orientation."""
    im = normalise_mode(im)
    transpose = _ORIENTATION_TRANSPOSE.get(orientation)
    if transpose is not None:
        im = im.transpose(transpose)
    arr = np.asarray(im)
    if arr.dtype != np.uint8:  # pragma: no cover - normalise_mode only yields 8-bit modes
        raise CorruptMedia(f"unexpected pixel type {arr.dtype}")
    if arr.ndim == 2:
        arr = arr[:, :, np.newaxis]
    if not arr.flags.c_contiguous or not arr.flags.writeable:
        arr = np.ascontiguousarray(arr).copy()
    return arr


def normalise_mode(im: Image.Image) -> Image.Image:
    """Map Pillow modes to L, RGB or RGBA (see formats/README.md for the table)."""
    mode = im.mode
    has_transparency = "transparency" in im.info
    if mode in ("L", "RGB") and not has_transparency:
        return im
    if mode == "RGBA":
        return im
    if mode in ("L", "RGB", "P") and has_transparency:
        return im.convert("RGBA")
    if mode in ("LA", "La", "PA", "RGBa"):
        return im.convert("RGBA")
    if mode == "P":
        return im.convert("RGB")
    if mode == "1":
        return im.convert("L")
    if mode.startswith("I;16") or mode in ("I", "F"):
        return _high_depth_to_l(im)
    if mode == "CMYK":
        return _cmyk_to_rgb(im)
    if mode in ("RGBX", "YCbCr", "LAB", "HSV"):
        return im.convert("RGB")
    bands = im.getbands()
    return im.convert("RGBA" if "A" in bands or "a" in bands else "RGB")


def _high_depth_to_l(im: Image.Image) -> Image.Image:
    """16-bit (or 32-bit integer) grey to 8-bit by scaling, not clipping (Pillow's convert clips)."""
    arr = np.asarray(im)
    if im.mode == "F":
        wide = np.clip(np.nan_to_num(arr.astype(np.float64)), 0.0, 1.0) * 65535.0
    else:
        wide = np.clip(arr.astype(np.int64), 0, 65535).astype(np.float64)
    out = np.rint(wide * (255.0 / 65535.0)).astype(np.uint8)
    return Image.fromarray(out, mode="L")


def _cmyk_to_rgb(im: Image.Image) -> Image.Image:
    """CMYK -> RGB through the embedded profile when there is one.

    The CMYK ICC profile is dropped by the caller afterwards: it describes CMYK values and no longer
    applies to the RGB pixels (which are sRGB when the colour-managed path worked).
    """
    icc = im.info.get("icc_profile")
    if icc:
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            dst = ImageCms.createProfile("sRGB")
            converted = ImageCms.profileToProfile(im, src, dst, outputMode="RGB")
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass  # fall back to Pillow's naive conversion below
    return im.convert("RGB")


def from_pixels(pixels: np.ndarray) -> Image.Image:
    """uint8 HxWxC (C in 1, 3, 4) -> Pillow image of mode L, RGB or RGBA."""
    arr = np.asarray(pixels)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise InvalidInput(f"pixels must be uint8 HxWxC with C in 1, 3, 4; got {arr.dtype} of shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise EmptyMedia("cannot encode an image with zero pixels")
    arr = np.ascontiguousarray(arr)
    if arr.shape[2] == 1:
        return Image.fromarray(arr[:, :, 0], mode="L")
    return Image.fromarray(arr, mode="RGB" if arr.shape[2] == 3 else "RGBA")


def flatten_alpha(im: Image.Image) -> Image.Image:
    """Composite RGBA over white for containers without alpha (JPEG)."""
    if im.mode != "RGBA":
        return im
    background = Image.new("RGB", im.size, (255, 255, 255))
    background.paste(im, mask=im.getchannel("A"))
    return background


# --- EXIF, at byte level so nothing else in the block is rewritten ---------------------------------


def exif_with_header(raw: bytes | None) -> bytes | None:
    """EXIF as a JPEG APP1 payload (``Exif\\0\\0`` + TIFF); None for empty/implausible data."""
    if not raw:
        return None
    tiff = raw[len(EXIF_HEADER) :] if raw.startswith(EXIF_HEADER) else raw
    if tiff[:4] not in (b"II*\x00", b"MM\x00*"):
        return None
    return EXIF_HEADER + tiff


def exif_without_header(raw: bytes) -> bytes:
    return raw[len(EXIF_HEADER) :] if raw.startswith(EXIF_HEADER) else raw


def exif_orientation_reset(raw: bytes) -> tuple[bytes, int]:
    """Return (EXIF with IFD0 Orientation patched to 1 in place, the original orientation).

    Patching the two bytes in place keeps MakerNotes and every offset valid, which re-serialising
    through Pillow's ``Exif.tobytes`` does not guarantee. Unknown/absent orientation counts as 1.
    """
    start = len(EXIF_HEADER) if raw.startswith(EXIF_HEADER) else 0
    tiff = raw[start:]
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return raw, 1
    endian = "<" if tiff[:2] == b"II" else ">"
    try:
        (ifd0,) = struct.unpack_from(endian + "I", tiff, 4)
        if ifd0 + 2 > len(tiff):
            return raw, 1
        (count,) = struct.unpack_from(endian + "H", tiff, ifd0)
        for index in range(min(count, 1024)):
            entry = ifd0 + 2 + 12 * index
            if entry + 12 > len(tiff):
                break
            tag, typ, n = struct.unpack_from(endian + "HHI", tiff, entry)
            if tag != _TAG_ORIENTATION:
                continue
            if typ != 3 or n != 1:  # SHORT, one value, stored inline
                return raw, 1
            (value,) = struct.unpack_from(endian + "H", tiff, entry + 8)
            if value == 1 or value not in _ORIENTATION_TRANSPOSE:
                return raw, 1
            patched = bytearray(raw)
            struct.pack_into(endian + "H", patched, start + entry + 8, 1)
            return bytes(patched), value
    except struct.error:
        return raw, 1
    return raw, 1


_XMP_ORIENTATION_ATTR = re.compile(rb'(tiff:Orientation\s*=\s*["\'])\s*[2-8]\s*(["\'])')
_XMP_ORIENTATION_ELEM = re.compile(rb"(<tiff:Orientation>)\s*[2-8]\s*(</tiff:Orientation>)")


def xmp_orientation_reset(xmp: bytes | None) -> bytes | None:
    """Set tiff:Orientation to 1 in an XMP packet whose pixels we have already rotated."""
    if not xmp:
        return xmp
    xmp = _XMP_ORIENTATION_ATTR.sub(rb"\g<1>1\g<2>", xmp)
    return _XMP_ORIENTATION_ELEM.sub(rb"\g<1>1\g<2>", xmp)


#: EXIF tags that providers use for free text (IFD0 unless noted).
_TAG_IMAGE_DESCRIPTION = 0x010E
_TAG_XP_COMMENT = 0x9C9C
_TAG_EXIF_IFD = 0x8769
_TAG_USER_COMMENT = 0x9286  # in the Exif sub-IFD


def exif_text_fields(raw: bytes | None) -> dict[str, str]:
    """ImageDescription, XPComment and UserComment as text. Never raises."""
    out: dict[str, str] = {}
    if not raw:
        return out
    try:
        exif = Image.Exif()
        exif.load(raw if raw.startswith(EXIF_HEADER) else EXIF_HEADER + raw)
        desc = exif.get(_TAG_IMAGE_DESCRIPTION)
        if desc is not None:
            text = _exif_value_text(desc)
            if text:
                out["EXIF ImageDescription"] = text
        xp = exif.get(_TAG_XP_COMMENT)
        if xp is not None:
            text = _xp_text(xp)
            if text:
                out["EXIF XPComment"] = text
        sub: Any = exif.get_ifd(_TAG_EXIF_IFD)
        comment = sub.get(_TAG_USER_COMMENT) if sub else None
        if comment is not None:
            text = _user_comment_text(comment)
            if text:
                out["EXIF UserComment"] = text
    except Exception:  # hostile EXIF can break Pillow in many ways; reading never raises
        return out
    return out


def _exif_value_text(value: object) -> str:
    if isinstance(value, bytes):
        return decode_text(value).strip("\x00").strip()
    return str(value).strip("\x00").strip()


def _xp_text(value: object) -> str:
    if isinstance(value, tuple):
        try:
            value = bytes(value)
        except (TypeError, ValueError):
            return ""
    if isinstance(value, bytes):
        return value.decode("utf-16-le", errors="replace").rstrip("\x00").strip()
    return str(value).rstrip("\x00").strip()


def _user_comment_text(value: object) -> str:
    if not isinstance(value, bytes):
        return str(value).strip("\x00").strip()
    prefix, body = value[:8], value[8:]
    if prefix == b"UNICODE\x00":
        if body[:2] in (b"\xff\xfe", b"\xfe\xff"):
            return body.decode("utf-16", errors="replace").rstrip("\x00").strip()
        # The EXIF spec leaves the byte order open; most writers use the file's, UTF-16LE in practice.
        little = body.decode("utf-16-le", errors="replace").rstrip("\x00").strip()
        big = body.decode("utf-16-be", errors="replace").rstrip("\x00").strip()
        return little if _printable_share(little) >= _printable_share(big) else big
    if prefix in (b"ASCII\x00\x00\x00", b"\x00" * 8, b"JIS\x00\x00\x00\x00\x00"):
        return decode_text(body).strip("\x00").strip()
    return decode_text(value).strip("\x00").strip()


def _printable_share(text: str) -> float:
    if not text:
        return 0.0
    return sum(1 for ch in text if ch.isprintable()) / len(text)


def decode_text(raw: bytes) -> str:
    """UTF-8 when valid, else Latin-1 (what tEXt and old EXIF writers use)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


#: Text-chunk mappings stop growing here (hostile files can repeat a chunk 100 000 times).
MAX_TEXT_KEYS = 4096


def put_unique(out: dict[str, str], counts: dict[str, int], key: str, value: str) -> None:
    """Add to a text-chunk mapping; repeated keys are kept as "key#2", "key#3", ..."""
    if len(out) >= MAX_TEXT_KEYS:
        return
    seen = counts.get(key, 0) + 1
    counts[key] = seen
    name = key if seen == 1 else f"{key}#{seen}"
    while name in out:  # a literal "key#2" keyword in the file; rare, bounded by MAX_TEXT_KEYS
        seen += 1
        counts[key] = seen
        name = f"{key}#{seen}"
    out[name] = value
