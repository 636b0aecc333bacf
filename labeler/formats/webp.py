"""WebP: Pillow (libwebp) for pixels, a bounded RIFF chunk walker for structure and metadata.

Quality policy: lossless input is written lossless (pixels unchanged); lossy input is written at
quality 90, because neither the format nor Pillow exposes the quality the input was encoded with.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from typing import Any, ClassVar

from PIL import WebPImagePlugin

from labeler.errors import CorruptMedia, UnsupportedFormat
from labeler.formats import _pillow
from labeler.formats.base import CarriedMetadata, DecodedImage
from labeler.settings import Limits

LOSSY_QUALITY = 90
_MAX_CHUNKS = 100_000
_IMAGE_CHUNKS = (b"VP8 ", b"VP8L")
_KNOWN_CHUNKS = frozenset({b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP", b"EXIF", b"XMP "})
#: Unknown chunks larger than this are not searched for text.
_MAX_TEXT_CHUNK = 1024 * 1024
_VP8X_ANIMATION = 0x02


@dataclass(frozen=True)
class _Chunk:
    fourcc: bytes
    start: int
    end: int


def _walk(data: bytes) -> tuple[list[_Chunk], str | None]:
    """Chunks of the RIFF WEBP container; (chunks, None) when complete, else (chunks so far, reason)."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return [], "no RIFF/WEBP header"
    (riff_size,) = struct.unpack_from("<I", data, 4)
    declared_end = 8 + riff_size
    error: str | None = None
    if declared_end > len(data):
        error = f"the file is truncated ({len(data)} of {declared_end} bytes)"
    end = min(declared_end, len(data))
    chunks: list[_Chunk] = []
    pos = 12
    while pos + 8 <= end and len(chunks) < _MAX_CHUNKS:
        fourcc = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        start = pos + 8
        if start + size > end:
            return chunks, error or f"chunk {fourcc!r} at byte {pos} is truncated"
        chunks.append(_Chunk(fourcc, start, start + size))
        pos = start + size + (size & 1)
    if error is None and pos < end and end - pos < 8:
        error = f"{end - pos} stray bytes at the end of the RIFF data"
    return chunks, error


def _canvas(data: bytes, chunks: list[_Chunk]) -> tuple[int, int, bool] | None:
    """(width, height, animated) from the VP8X, VP8L or VP8 header; None when unreadable."""
    if not chunks:
        return None
    first = chunks[0]
    payload = data[first.start : first.end]
    if first.fourcc == b"VP8X" and len(payload) >= 10:
        flags = payload[0]
        width = 1 + int.from_bytes(payload[4:7], "little")
        height = 1 + int.from_bytes(payload[7:10], "little")
        animated = bool(flags & _VP8X_ANIMATION) or any(c.fourcc in (b"ANIM", b"ANMF") for c in chunks)
        return width, height, animated
    if first.fourcc == b"VP8L" and len(payload) >= 5 and payload[0] == 0x2F:
        (bits,) = struct.unpack_from("<I", payload, 1)
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, False
    if first.fourcc == b"VP8 " and len(payload) >= 10 and payload[3:6] == b"\x9d\x01\x2a":
        width, height = struct.unpack_from("<HH", payload, 6)
        return width & 0x3FFF, height & 0x3FFF, False
    return None


class WebpHandler:
    """Still WebP, lossy or lossless, with or without alpha (animations are refused)."""

    name: ClassVar[str] = "webp"
    mime: ClassVar[str] = "image/webp"
    extensions: ClassVar[tuple[str, ...]] = (".webp",)

    def sniff(self, head: bytes) -> bool:
        return len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP"

    def decode(self, data: bytes, limits: Limits) -> DecodedImage:
        if not self.sniff(data[:12]):
            raise CorruptMedia("not a WebP file (no RIFF/WEBP header)")
        chunks, error = _walk(data)
        canvas = _canvas(data, chunks)
        if canvas is None:
            detail = f": {error}" if error else ""
            raise CorruptMedia(f"WebP is truncated or malformed: no readable image header{detail}")
        width, height, animated = canvas
        _pillow.check_dimensions(width, height, limits, "WebP image")
        if animated:
            frames = sum(1 for c in chunks if c.fourcc == b"ANMF")
            raise UnsupportedFormat(f"animated WebP ({frames} frames) is not supported; only still images are")
        if error is not None:
            raise CorruptMedia(f"WebP is truncated or malformed: {error}")
        if not any(c.fourcc in _IMAGE_CHUNKS for c in chunks):
            raise CorruptMedia("WebP is malformed: no image data (VP8/VP8L chunk)")

        im = _pillow.open_image(WebPImagePlugin.WebPImageFile, data, limits, "WebP image")
        _pillow.load_image(im, "WebP image")

        exif_raw = next((data[c.start : c.end] for c in chunks if c.fourcc == b"EXIF"), None)
        exif = _pillow.exif_with_header(exif_raw)
        orientation = 1
        if exif is not None:
            exif, orientation = _pillow.exif_orientation_reset(exif)
        pixels = _pillow.to_pixels(im, orientation)
        xmp = self.read_xmp(data)
        if orientation != 1:
            xmp = _pillow.xmp_orientation_reset(xmp)
        icc = next((data[c.start : c.end] for c in chunks if c.fourcc == b"ICCP"), None) or None
        lossless = any(c.fourcc == b"VP8L" for c in chunks) and not any(c.fourcc == b"VP8 " for c in chunks)
        return DecodedImage(
            format=self.name,
            pixels=pixels,
            metadata=CarriedMetadata(icc_profile=icc, exif=exif, xmp=xmp),
            encode_hints={"lossless": lossless},
        )

    def encode(self, image: DecodedImage, xmp: bytes | None) -> bytes:
        im = _pillow.from_pixels(image.pixels)
        params: dict[str, Any] = {"method": 4}
        if image.encode_hints.get("lossless"):
            # exact: keep RGB under fully transparent pixels, so lossless really is lossless.
            params.update(lossless=True, quality=100, exact=True)
        else:
            params.update(lossless=False, quality=LOSSY_QUALITY)
        if image.metadata.icc_profile:
            params["icc_profile"] = image.metadata.icc_profile
        if image.metadata.exif:
            # The WebP container stores the TIFF data without the JPEG "Exif\0\0" header.
            params["exif"] = _pillow.exif_without_header(image.metadata.exif)
        if xmp:
            params["xmp"] = xmp
        out = io.BytesIO()
        im.save(out, "WEBP", **params)
        return out.getvalue()

    def read_xmp(self, data: bytes) -> bytes | None:
        try:
            chunks, _ = _walk(data)
            for chunk in chunks:
                if chunk.fourcc == b"XMP ":
                    packet = data[chunk.start : chunk.end]
                    if packet.strip(b"\x00 \t\r\n"):
                        return packet
        except Exception:  # never raise on junk
            return None
        return None

    def read_text_chunks(self, data: bytes) -> dict[str, str]:
        out: dict[str, str] = {}
        counts: dict[str, int] = {}
        try:
            chunks, _ = _walk(data)
            exif_done = False
            for chunk in chunks:
                if chunk.fourcc == b"EXIF":
                    if not exif_done:
                        exif_done = True
                        for key, value in _pillow.exif_text_fields(data[chunk.start : chunk.end]).items():
                            _pillow.put_unique(out, counts, key, value)
                elif chunk.fourcc not in _KNOWN_CHUNKS and chunk.end - chunk.start <= _MAX_TEXT_CHUNK:
                    # An "AIGC" RIFF chunk, as the WAV practice uses, or another provider's own chunk.
                    payload = data[chunk.start : chunk.end]
                    if b"{" in payload:
                        key = chunk.fourcc.decode("latin-1").strip()
                        _pillow.put_unique(out, counts, key, _pillow.decode_text(payload).strip("\x00"))
        except Exception:  # never raise on junk
            return out
        return out


WEBP = WebpHandler()
