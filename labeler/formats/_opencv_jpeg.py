"""JPEG through OpenCV's libjpeg, producing the bytes (and pixels) Pillow would, with the GIL released.

Pillow's JPEG encoder holds the interpreter lock while libjpeg runs (measured with a GIL profiler: two
thirds of the lock time of a 1 MP labeling), so service threads labeling JPEGs serialise on it.
``cv2.imencode`` runs the same libjpeg(-turbo) code without the lock. For the common case — the IJG
quantisation tables scaled by a quality (what nearly every encoder writes, and what the input's tables
turn out to be) — this module asks OpenCV for the same tables, subsampling, optimisation and scan mode,
then writes the metadata segments in Pillow's order (JFIF, EXIF, extra, XMP, ICC, COM). The result is
byte-for-byte Pillow's output (``tests/formats/test_jpeg.py`` compares them); anything else (custom
tables, a mode other than L/RGB) returns None and the caller uses Pillow.

Decoding likewise: Pillow's ``np.asarray(image)`` copies the pixels out with the lock held; for 8-bit
Huffman-coded grey and YCbCr JPEGs ``cv2.imdecode`` gives the same pixels (tests compare them) without it.
"""

from __future__ import annotations

import io
import struct
from functools import lru_cache
from typing import Any

import cv2
import numpy as np
from PIL import Image

_DQT = 0xDB
#: Pillow's ICC chunk size (65533 - 14 bytes of "ICC_PROFILE\0" + sequence + count).
_ICC_CHUNK = 65_519
_XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
_SAMPLING = {
    0: cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444,
    1: cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422,
    2: cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420,
}


def _segments(data: bytes) -> list[tuple[int, bytes]]:
    """(marker, payload) of the segments before SOS in a JPEG libjpeg just wrote (well formed)."""
    out: list[tuple[int, bytes]] = []
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        (length,) = struct.unpack_from(">H", data, pos + 2)
        out.append((marker, data[pos + 4 : pos + 2 + length]))
        if marker == 0xDA:
            break
        pos += 2 + length
    return out


@lru_cache(maxsize=1)
def _ijg_tables() -> tuple[dict[tuple[int, ...], tuple[int, bytes]], dict[tuple[int, ...], tuple[int, bytes]],
                           dict[int, tuple[bytes, bytes]]]:
    """Luma and chroma tables (in Pillow's ``quantization`` order) of IJG qualities 1-100, each mapped to
    a quality giving it and to the DQT payload libjpeg writes for it; and the DQT payloads by quality.
    Built once, from Pillow itself."""
    luma: dict[tuple[int, ...], tuple[int, bytes]] = {}
    chroma: dict[tuple[int, ...], tuple[int, bytes]] = {}
    by_quality: dict[int, tuple[bytes, bytes]] = {}
    probe = Image.new("RGB", (8, 8))
    for quality in range(100, 0, -1):
        buffer = io.BytesIO()
        probe.save(buffer, "JPEG", quality=quality)
        data = buffer.getvalue()
        tables = Image.open(io.BytesIO(data)).quantization  # type: ignore[attr-defined]
        dqt = [payload for marker, payload in _segments(data) if marker == _DQT]
        luma.setdefault(tuple(tables[0]), (quality, dqt[0]))
        chroma.setdefault(tuple(tables[1]), (quality, dqt[1]))
        by_quality[quality] = (dqt[0], dqt[1])
    return luma, chroma, by_quality


def _qualities(params: dict[str, Any], grey: bool) -> tuple[int, int, list[bytes]] | None:
    """Luma and chroma quality reproducing the requested tables, and the DQT payloads expected."""
    luma_tables, chroma_tables, by_quality = _ijg_tables()
    if "qtables" not in params:
        quality = params.get("quality")
        if not isinstance(quality, int) or quality not in by_quality:
            return None
        luma, chroma = (quality, by_quality[quality][0]), (quality, by_quality[quality][1])
    else:
        tables = params["qtables"]
        found_luma = luma_tables.get(tuple(tables[0]))
        found_chroma = chroma_tables.get(tuple(tables[1])) if len(tables) > 1 else None
        if found_luma is None or (not grey and found_chroma is None):
            return None
        luma, chroma = found_luma, found_chroma or found_luma
    if grey:
        return luma[0], luma[0], [luma[1]]
    return luma[0], chroma[0], [luma[1], chroma[1]]


def _segment(marker: int, payload: bytes) -> bytes:
    return b"\xff" + bytes([marker]) + struct.pack(">H", len(payload) + 2) + payload


def _metadata_segments(params: dict[str, Any]) -> bytes:
    """EXIF, extra, XMP, ICC and comment segments, in the order Pillow writes them."""
    out = bytearray()
    if params.get("exif"):
        out += _segment(0xE1, params["exif"])
    out += params.get("extra", b"")
    if params.get("xmp"):
        out += _segment(0xE1, _XMP_HEADER + params["xmp"])
    icc = params.get("icc_profile")
    if icc:
        chunks = [icc[i : i + _ICC_CHUNK] for i in range(0, len(icc), _ICC_CHUNK)]
        for number, chunk in enumerate(chunks, 1):
            out += _segment(0xE2, b"ICC_PROFILE\x00" + bytes([number, len(chunks)]) + chunk)
    if params.get("comment"):
        out += _segment(0xFE, params["comment"])
    return bytes(out)


def encode_like_pillow(pixels: np.ndarray, params: dict[str, Any]) -> bytes | None:
    """``params`` as for ``Image.save(..., "JPEG", **params)``; None when this path cannot match Pillow.

    ``pixels``: uint8 HxWx1 (L) or HxWx3 (RGB).
    """
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] not in (1, 3):
        return None
    if not params.get("optimize") or set(params) - {
        "optimize", "qtables", "quality", "subsampling", "progressive", "dpi", "comment", "icc_profile", "exif",
        "xmp", "extra",
    }:
        return None
    grey = pixels.shape[2] == 1
    qualities = _qualities(params, grey)
    if qualities is None:
        return None
    luma_quality, chroma_quality, expected_dqt = qualities
    progressive = int(bool(params.get("progressive")))
    flags = [cv2.IMWRITE_JPEG_OPTIMIZE, 1, cv2.IMWRITE_JPEG_QUALITY, luma_quality,
             cv2.IMWRITE_JPEG_LUMA_QUALITY, luma_quality, cv2.IMWRITE_JPEG_PROGRESSIVE, progressive]
    if grey:
        source = pixels[:, :, 0]
    else:
        sampling = _SAMPLING.get(params.get("subsampling", 2))
        # OpenCV turns chroma subsampling off when the two qualities differ (at qualities below ~5 the
        # chroma table saturates, so its quality reads differently): leave those to Pillow.
        if sampling is None or (chroma_quality != luma_quality and sampling != _SAMPLING[0]):
            return None
        flags += [cv2.IMWRITE_JPEG_CHROMA_QUALITY, chroma_quality, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, sampling]
        source = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".jpg", source, flags)
    if not ok:
        return None
    data = encoded.tobytes()
    segments = _segments(data)
    # The tables OpenCV wrote must be the ones asked for; if a libjpeg build ever differs, use Pillow.
    if [payload for marker, payload in segments if marker == _DQT] != expected_dqt:
        return None
    if not segments or segments[0][0] != 0xE0 or not segments[0][1].startswith(b"JFIF\x00"):
        return None
    jfif = bytearray(segments[0][1])
    dpi = params.get("dpi")
    if dpi:
        x_dpi, y_dpi = (round(v) for v in dpi)
        if x_dpi > 0 and y_dpi > 0:  # Pillow writes dots per inch only when both are positive
            jfif[7:12] = struct.pack(">BHH", 1, x_dpi, y_dpi)
    rest = 2 + 2 + len(segments[0][1]) + 2  # SOI + APP0 marker, length and payload
    return b"\xff\xd8" + _segment(0xE0, bytes(jfif)) + _metadata_segments(params) + data[rest:]


#: Baseline, extended and progressive Huffman frames: what both decoders treat identically.
_HUFFMAN_FRAMES = frozenset({0xC0, 0xC1, 0xC2})
_OTHER_FRAMES = frozenset({0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


def decode_like_pillow(data: bytes, segment_markers: list[int], grey: bool) -> np.ndarray | None:
    """uint8 HxWx1 or HxWx3 (RGB) pixels of a JPEG Pillow reads as mode L or RGB, EXIF orientation
    ignored (the caller only asks when it is 1); None when the caller should decode with Pillow (another
    coding process, an Adobe transform, or anything OpenCV could not decode)."""
    markers = set(segment_markers)
    if not markers & _HUFFMAN_FRAMES or markers & _OTHER_FRAMES or 0xEE in markers:  # 0xEE: Adobe APP14
        return None
    flags = (cv2.IMREAD_GRAYSCALE if grey else cv2.IMREAD_COLOR) | cv2.IMREAD_IGNORE_ORIENTATION
    try:
        decoded = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error:
        return None
    if decoded is None or decoded.dtype != np.uint8:
        return None
    if grey:
        return decoded[:, :, np.newaxis] if decoded.ndim == 2 else None
    if decoded.ndim != 3 or decoded.shape[2] != 3:
        return None
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)
