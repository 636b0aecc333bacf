"""JPEG: Pillow (libjpeg) for pixels, a bounded marker walker for structure and metadata.

Quality policy: the output reuses the input's quantisation tables and chroma subsampling (from
``encode_hints``), so labeling does not visibly change quality or grow the file much; without hints
(e.g. pixels that came from another format) quality 92 with 4:2:0 is used.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from PIL import JpegImagePlugin

from labeler.errors import CorruptMedia
from labeler.formats import _pillow
from labeler.formats._opencv_jpeg import decode_like_pillow, encode_like_pillow
from labeler.formats.base import CarriedMetadata, DecodedImage
from labeler.metadata.xmp import extended_xmp_guid, join_extended_xmp, split_extended_xmp
from labeler.settings import Limits

XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
XMP_EXT_HEADER = b"http://ns.adobe.com/xmp/extension/\x00"
ICC_HEADER = b"ICC_PROFILE\x00"
EXIF_HEADER = b"Exif\x00\x00"

_SOI = b"\xff\xd8"
_EOI = b"\xff\xd9"
_SOS = 0xDA
_COM = 0xFE
_APP1 = 0xE1
#: Start-of-frame markers (all coding processes); DHT (C4), JPG (C8) and DAC (CC) are not frames.
_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
_MAX_SEGMENTS = 65_536
#: Segment payload limit (65535 - 2 length bytes) and what Pillow allows for XMP after its header.
_MAX_SEGMENT_PAYLOAD = 65_533
_MAX_STANDARD_XMP = _MAX_SEGMENT_PAYLOAD - len(XMP_HEADER)
#: Extended XMP chunk size (Adobe's choice) and the largest extended packet we reassemble.
_EXT_CHUNK = 65_400
_MAX_EXTENDED_XMP = 32 * 1024 * 1024

DEFAULT_QUALITY = 92
DEFAULT_SUBSAMPLING = 2  # 4:2:0


@dataclass(frozen=True)
class _Segment:
    marker: int
    start: int  # payload start (after the 2 length bytes)
    end: int


def _walk(data: bytes) -> tuple[list[_Segment], int | None, str | None]:
    """Marker segments up to and including the first SOS.

    Returns (segments, offset of the first SOS marker or None, error or None). Stops at EOI.
    """
    if not data.startswith(_SOI):
        return [], None, "no JPEG start-of-image marker"
    segments: list[_Segment] = []
    pos = 2
    size = len(data)
    while len(segments) < _MAX_SEGMENTS:
        if pos + 2 > size:
            return segments, None, f"truncated at byte {pos} (before any image data)"
        if data[pos] != 0xFF:
            return segments, None, f"expected a marker at byte {pos}, found 0x{data[pos]:02X}"
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE or marker == 0xD8:
            pos += 2
            continue
        if marker == 0xD9:
            return segments, None, "end-of-image marker before any image data"
        if pos + 4 > size:
            return segments, None, f"truncated in the marker segment at byte {pos}"
        (length,) = struct.unpack_from(">H", data, pos + 2)
        if length < 2 or pos + 2 + length > size:
            return segments, None, f"marker segment 0x{marker:02X} at byte {pos} is truncated"
        segments.append(_Segment(marker, pos + 4, pos + 2 + length))
        if marker == _SOS:
            return segments, pos, None
        pos += 2 + length
    return segments, None, f"more than {_MAX_SEGMENTS} marker segments"


def _frame_size(data: bytes, segments: list[_Segment]) -> tuple[int, int] | None:
    for seg in segments:
        if seg.marker in _SOF_MARKERS and seg.end - seg.start >= 6:
            height, width = struct.unpack_from(">HH", data, seg.start + 1)
            return width, height
    return None


def _exif_payload(data: bytes, segments: list[_Segment]) -> bytes | None:
    for seg in segments:
        if seg.marker == _APP1 and data[seg.start : seg.start + 6] == EXIF_HEADER:
            return data[seg.start : seg.end]
    return None


def _read_xmp(data: bytes, segments: list[_Segment]) -> bytes | None:
    standard: bytes | None = None
    extended: dict[str, tuple[int, dict[int, bytes]]] = {}
    for seg in segments:
        if seg.marker != _APP1:
            continue
        payload = data[seg.start : seg.end]
        if payload.startswith(XMP_HEADER):
            if standard is None:
                standard = payload[len(XMP_HEADER) :]
        elif payload.startswith(XMP_EXT_HEADER):
            body = payload[len(XMP_EXT_HEADER) :]
            if len(body) < 40:
                continue
            guid = body[:32].decode("ascii", errors="replace").upper()
            total, offset = struct.unpack_from(">II", body, 32)
            if total > _MAX_EXTENDED_XMP:
                continue
            parts = extended.setdefault(guid, (total, {}))[1]
            parts[offset] = body[40:]
    if standard is None or not standard.strip(b"\x00 \t\r\n"):
        return None
    wanted = extended_xmp_guid(standard)
    if wanted is None or wanted not in extended:
        return standard
    total, parts = extended[wanted]
    assembled = bytearray()
    for offset in sorted(parts):
        if offset != len(assembled):
            return standard  # a gap: incomplete extended XMP, keep what is certain
        assembled += parts[offset]
    if len(assembled) != total:
        return standard
    joined = join_extended_xmp(standard, bytes(assembled))
    return joined if joined is not None else standard


class JpegHandler:
    """Baseline and progressive JPEG (JFIF/EXIF), grey, YCbCr and CMYK/YCCK input."""

    name: ClassVar[str] = "jpeg"
    mime: ClassVar[str] = "image/jpeg"
    extensions: ClassVar[tuple[str, ...]] = (".jpg", ".jpeg", ".jpe", ".jfif")

    def sniff(self, head: bytes) -> bool:
        return head[:3] == b"\xff\xd8\xff"

    def decode(self, data: bytes, limits: Limits) -> DecodedImage:
        if not data.startswith(_SOI):
            raise CorruptMedia("not a JPEG file (no start-of-image marker)")
        segments, sos, error = _walk(data)
        size = _frame_size(data, segments)
        if size is None:
            detail = f": {error}" if error else ""
            raise CorruptMedia(f"JPEG is truncated or malformed: no frame header{detail}")
        _pillow.check_dimensions(size[0], size[1], limits, "JPEG image")
        if error is not None or sos is None:
            raise CorruptMedia(f"JPEG is truncated or malformed: {error or 'no image data'}")
        if data.find(_EOI, sos) < 0:
            # libjpeg pads a cut-off scan with grey and only warns; refuse instead.
            raise CorruptMedia("JPEG is truncated: the image data has no end-of-image marker")

        im = _pillow.open_image(JpegImagePlugin.JpegImageFile, data, limits, "JPEG image")
        hints: dict[str, Any] = {}
        try:
            tables = getattr(im, "quantization", None) or {}
            hints["qtables"] = [list(tables[key]) for key in sorted(tables)]
            sampling = JpegImagePlugin.get_sampling(im)
        except (TypeError, ValueError, KeyError, AttributeError, IndexError):
            sampling = -1
        if sampling in (0, 1, 2):
            hints["subsampling"] = sampling
        source_mode = im.mode
        exif = _pillow.exif_with_header(_exif_payload(data, segments))
        orientation = 1
        if exif is not None:
            exif, orientation = _pillow.exif_orientation_reset(exif)
        pixels = None
        if orientation == 1 and source_mode in ("L", "RGB") and "transparency" not in im.info:
            # Same pixels as Pillow without holding the GIL (see _opencv_jpeg); None: Pillow decodes.
            pixels = decode_like_pillow(data, [seg.marker for seg in segments], grey=source_mode == "L")
        if pixels is None:
            _pillow.load_image(im, "JPEG image")
            pixels = _pillow.to_pixels(im, orientation)
        xmp = _read_xmp(data, segments)
        if orientation != 1:
            xmp = _pillow.xmp_orientation_reset(xmp)

        icc = im.info.get("icc_profile") or None
        if source_mode == "CMYK":
            # The pixels are RGB now; a CMYK profile describes CMYK values and no longer applies.
            icc = None
        if im.info.get("progressive") or im.info.get("progression"):
            hints["progressive"] = True
        if "dpi" in im.info:
            hints["dpi"] = im.info["dpi"]
        comment = im.info.get("comment")
        if isinstance(comment, bytes) and comment:
            hints["comment"] = comment
        return DecodedImage(
            format=self.name,
            pixels=pixels,
            metadata=CarriedMetadata(icc_profile=icc, exif=exif, xmp=xmp),
            encode_hints=hints,
        )

    def encode(self, image: DecodedImage, xmp: bytes | None) -> bytes:
        pixels = image.pixels
        mode = "L" if pixels.ndim == 3 and pixels.shape[2] == 1 else "RGB"  # RGBA is flattened to RGB
        hints = image.encode_hints
        params: dict[str, Any] = {"optimize": True}
        tables = _tables_for(mode, hints.get("qtables"))
        if tables is not None:
            params["qtables"] = tables
        else:
            params["quality"] = DEFAULT_QUALITY
        if mode == "RGB":
            sampling = hints.get("subsampling")
            params["subsampling"] = sampling if sampling in (0, 1, 2) else DEFAULT_SUBSAMPLING
        if hints.get("progressive"):
            params["progressive"] = True
        if hints.get("dpi"):
            params["dpi"] = hints["dpi"]
        comment = hints.get("comment")
        if isinstance(comment, bytes) and 0 < len(comment) <= _MAX_SEGMENT_PAYLOAD:
            params["comment"] = comment
        if image.metadata.icc_profile:
            params["icc_profile"] = image.metadata.icc_profile
        exif = _pillow.exif_with_header(image.metadata.exif)
        if exif is not None and len(exif) <= _MAX_SEGMENT_PAYLOAD:
            params["exif"] = exif
        if xmp:
            if len(xmp) <= _MAX_STANDARD_XMP:
                params["xmp"] = xmp
            else:
                standard, extended, guid = split_extended_xmp(xmp, _MAX_STANDARD_XMP)
                params["xmp"] = standard
                params["extra"] = _extended_segments(extended, guid)
        if pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[0] and pixels.shape[1]:
            # The same bytes as Pillow's, without holding the GIL (see _opencv_jpeg); None: use Pillow.
            fast = encode_like_pillow(pixels, params)
            if fast is not None:
                return fast
        im = _pillow.flatten_alpha(_pillow.from_pixels(pixels))
        out = io.BytesIO()
        im.save(out, "JPEG", **params)
        return out.getvalue()

    def read_xmp(self, data: bytes) -> bytes | None:
        try:
            segments, _, _ = _walk(data)
            return _read_xmp(data, segments)
        except Exception:  # never raise on junk
            return None

    def read_text_chunks(self, data: bytes) -> dict[str, str]:
        out: dict[str, str] = {}
        counts: dict[str, int] = {}
        try:
            segments, _, _ = _walk(data)
            exif_done = False
            for seg in segments:
                payload = data[seg.start : seg.end]
                if seg.marker == _COM:
                    _pillow.put_unique(out, counts, "COM", _pillow.decode_text(payload).strip("\x00"))
                elif seg.marker == _APP1 and payload.startswith(EXIF_HEADER):
                    if not exif_done:
                        exif_done = True
                        for key, value in _pillow.exif_text_fields(payload).items():
                            _pillow.put_unique(out, counts, key, value)
                elif 0xE0 <= seg.marker <= 0xEF:
                    if payload.startswith((XMP_HEADER, XMP_EXT_HEADER, ICC_HEADER)):
                        continue
                    # Some providers put the AIGC JSON in an APPn segment of its own (APP11 seen).
                    if b"{" in payload and (b"Label" in payload or b"AIGC" in payload):
                        key = f"APP{seg.marker - 0xE0}"
                        _pillow.put_unique(out, counts, key, _pillow.decode_text(payload).strip("\x00"))
        except Exception:  # never raise on junk
            return out
        return out


def _tables_for(mode: str, qtables: object) -> list[list[int]] | None:
    """The input's quantisation tables, fitted to the output's component count."""
    if not isinstance(qtables, list) or not qtables:
        return None
    tables = [t for t in qtables if isinstance(t, list) and len(t) == 64]
    if not tables:
        return None
    if mode == "L":
        return tables[:1]
    if len(tables) == 1:
        return [tables[0], tables[0]]
    return tables[:2]


def _extended_segments(extended: bytes, guid: str) -> bytes:
    """APP1 segments carrying an Extended XMP packet (XMP spec part 3, 1.1.3.1)."""
    out = bytearray()
    total = len(extended)
    for offset in range(0, total, _EXT_CHUNK):
        chunk = extended[offset : offset + _EXT_CHUNK]
        body = XMP_EXT_HEADER + guid.encode("ascii") + struct.pack(">II", total, offset) + chunk
        out += b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body
    return bytes(out)


JPEG = JpegHandler()
