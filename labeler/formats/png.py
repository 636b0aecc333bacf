"""PNG: Pillow for pixels, a small bounded chunk walker for everything else.

The walker reads the structure (and metadata) without decoding pixels; decode uses it first to reject
truncated files (Pillow tolerates a missing IEND), wrong CRCs on critical chunks, APNG animations and
oversized dimensions before any pixel is inflated.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from typing import Any, ClassVar

from PIL import PngImagePlugin

from labeler.errors import CorruptMedia, UnsupportedFormat
from labeler.formats import _pillow
from labeler.formats.base import CarriedMetadata, DecodedImage
from labeler.settings import Limits

SIGNATURE = b"\x89PNG\r\n\x1a\n"
XMP_KEYWORD = b"XML:com.adobe.xmp"
#: ImageMagick's older way of storing XMP (hex text in a zTXt/tEXt chunk).
RAW_XMP_KEYWORD = b"Raw profile type xmp"

_MAX_CHUNKS = 100_000
#: Bound on inflated text per chunk and in total: labels and XMP are far smaller; zTXt bombs are not.
_MAX_TEXT_BYTES = 16 * 1024 * 1024
_MAX_TOTAL_TEXT_BYTES = 64 * 1024 * 1024
_TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")
_CRITICAL = (b"IHDR", b"PLTE", b"IDAT", b"IEND")
#: Ancillary chunks copied to the output unchanged (colour interpretation); pHYs goes through dpi.
_KEPT_COLOUR_CHUNKS = (b"gAMA", b"cHRM", b"sRGB")


@dataclass(frozen=True)
class _Chunk:
    ctype: bytes
    start: int  # payload start
    end: int  # payload end (CRC follows)
    crc_ok: bool


def _walk(data: bytes, check_crc: bool = False) -> tuple[list[_Chunk], str | None]:
    """All chunks up to IEND; (chunks, None) for a complete file, else (chunks so far, reason)."""
    if not data.startswith(SIGNATURE):
        return [], "no PNG signature"
    chunks: list[_Chunk] = []
    pos = len(SIGNATURE)
    size = len(data)
    while len(chunks) < _MAX_CHUNKS:
        if pos + 8 > size:
            return chunks, f"truncated at byte {pos} (no IEND chunk)"
        length, ctype = struct.unpack_from(">I4s", data, pos)
        if length > 0x7FFFFFFF:
            return chunks, f"chunk at byte {pos} has an impossible length {length}"
        if not all(65 <= c <= 90 or 97 <= c <= 122 for c in ctype):
            return chunks, f"chunk at byte {pos} has an invalid type {ctype!r}"
        start = pos + 8
        end = start + length
        if end + 4 > size:
            return chunks, f"chunk {ctype.decode('ascii')} at byte {pos} is truncated"
        crc_ok = True
        if check_crc and ctype in _CRITICAL:
            (stored,) = struct.unpack_from(">I", data, end)
            crc_ok = zlib.crc32(data[start:end], zlib.crc32(ctype)) == stored
        chunks.append(_Chunk(ctype, start, end, crc_ok))
        pos = end + 4
        if ctype == b"IEND":
            return chunks, None
    return chunks, f"more than {_MAX_CHUNKS} chunks"


def _inflate(payload: bytes, limit: int) -> bytes | None:
    """zlib-inflate at most ``limit`` bytes; None for broken or oversized streams."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(payload, limit)
    except zlib.error:
        return None
    if inflater.unconsumed_tail:
        return None
    return out


def _text_chunk(ctype: bytes, payload: bytes, limit: int) -> tuple[bytes, bytes, bool] | None:
    """(keyword, text bytes, text is UTF-8) of a tEXt/zTXt/iTXt chunk; None if malformed."""
    keyword, sep, rest = payload.partition(b"\x00")
    if not sep or not 1 <= len(keyword) <= 79:
        return None
    if ctype == b"tEXt":
        return keyword, rest, False
    if ctype == b"zTXt":
        if not rest or rest[0] != 0:
            return None
        text = _inflate(rest[1:], limit)
        return None if text is None else (keyword, text, False)
    if len(rest) < 2:
        return None
    compressed, method = rest[0], rest[1]
    _lang, sep1, rest = rest[2:].partition(b"\x00")
    _tkey, sep2, text_bytes = rest.partition(b"\x00")
    if not (sep1 and sep2):
        return None
    if compressed:
        if method != 0:
            return None
        inflated = _inflate(text_bytes, limit)
        if inflated is None:
            return None
        text_bytes = inflated
    return keyword, text_bytes, True


def _raw_profile_xmp(text: bytes) -> bytes | None:
    """Decode ImageMagick's "Raw profile type xmp": newline, name, length, hex lines."""
    parts = text.split(None, 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    try:
        decoded = bytes.fromhex(parts[2].decode("ascii", errors="strict"))
    except (ValueError, UnicodeDecodeError):
        return None
    return decoded[: int(parts[1])] or None


class PngHandler:
    """PNG stills (APNG animations are refused)."""

    name: ClassVar[str] = "png"
    mime: ClassVar[str] = "image/png"
    extensions: ClassVar[tuple[str, ...]] = (".png",)

    def sniff(self, head: bytes) -> bool:
        return head.startswith(SIGNATURE)

    def decode(self, data: bytes, limits: Limits) -> DecodedImage:
        if not data.startswith(SIGNATURE):
            raise CorruptMedia("not a PNG file (no PNG signature)")
        chunks, error = _walk(data, check_crc=True)
        if not chunks or chunks[0].ctype != b"IHDR" or chunks[0].end - chunks[0].start != 13:
            raise CorruptMedia("PNG is malformed: it does not start with a valid IHDR chunk")
        width, height = struct.unpack_from(">II", data, chunks[0].start)
        _pillow.check_dimensions(width, height, limits, "PNG image")
        for chunk in chunks:
            if chunk.ctype == b"IDAT":
                break
            if chunk.ctype == b"acTL" and chunk.end - chunk.start >= 8:
                (frames,) = struct.unpack_from(">I", data, chunk.start)
                if frames > 1:
                    raise UnsupportedFormat(
                        f"animated PNG (APNG, {frames} frames) is not supported; only still images are"
                    )
        if error is not None:
            raise CorruptMedia(f"PNG is truncated or malformed: {error}")
        bad_crc = [c.ctype.decode("ascii") for c in chunks if not c.crc_ok]
        if bad_crc:
            raise CorruptMedia(f"PNG is corrupt: CRC mismatch in {', '.join(sorted(set(bad_crc)))}")
        if not any(c.ctype == b"IDAT" for c in chunks):
            raise CorruptMedia("PNG is malformed: no image data (IDAT)")

        im = _pillow.open_image(PngImagePlugin.PngImageFile, data, limits, "PNG image")
        _pillow.load_image(im, "PNG image")

        exif_raw = next((data[c.start : c.end] for c in chunks if c.ctype == b"eXIf"), None)
        exif = _pillow.exif_with_header(exif_raw)
        orientation = 1
        if exif is not None:
            exif, orientation = _pillow.exif_orientation_reset(exif)
        pixels = _pillow.to_pixels(im, orientation)
        xmp = self.read_xmp(data)
        if orientation != 1:
            xmp = _pillow.xmp_orientation_reset(xmp)

        kept: list[tuple[bytes, bytes]] = []
        for chunk in chunks:
            payload = data[chunk.start : chunk.end]
            if chunk.ctype in _TEXT_CHUNKS:
                keyword = payload.partition(b"\x00")[0]
                if keyword in (XMP_KEYWORD, RAW_XMP_KEYWORD):
                    continue  # XMP is written separately (merged)
                kept.append((chunk.ctype, payload))
            elif chunk.ctype in _KEPT_COLOUR_CHUNKS:
                kept.append((chunk.ctype, payload))
        hints: dict[str, Any] = {"png_chunks": kept}
        if "dpi" in im.info:
            hints["dpi"] = im.info["dpi"]
        icc = im.info.get("icc_profile") or None
        return DecodedImage(
            format=self.name,
            pixels=pixels,
            metadata=CarriedMetadata(icc_profile=icc, exif=exif, xmp=xmp),
            encode_hints=hints,
        )

    def encode(self, image: DecodedImage, xmp: bytes | None) -> bytes:
        im = _pillow.from_pixels(image.pixels)
        info = PngImagePlugin.PngInfo()
        for ctype, payload in image.encode_hints.get("png_chunks", ()):
            info.add(ctype, payload)
        if xmp:
            # iTXt, uncompressed, no language tag: what Adobe and exiftool write and read.
            info.add(b"iTXt", XMP_KEYWORD + b"\x00\x00\x00\x00\x00" + xmp)
        out = io.BytesIO()
        params: dict[str, Any] = {"pnginfo": info, "compress_level": 6}
        if image.metadata.icc_profile:
            params["icc_profile"] = image.metadata.icc_profile
        if image.metadata.exif:
            params["exif"] = _pillow.exif_without_header(image.metadata.exif)
        if image.encode_hints.get("dpi"):
            params["dpi"] = image.encode_hints["dpi"]
        im.save(out, "PNG", **params)
        return out.getvalue()

    def read_xmp(self, data: bytes) -> bytes | None:
        try:
            chunks, _ = _walk(data)
            for chunk in chunks:
                if chunk.ctype not in _TEXT_CHUNKS:
                    continue
                payload = data[chunk.start : chunk.end]
                keyword = payload.partition(b"\x00")[0]
                if keyword not in (XMP_KEYWORD, RAW_XMP_KEYWORD):
                    continue
                parsed = _text_chunk(chunk.ctype, payload, _MAX_TEXT_BYTES)
                if parsed is None:
                    continue
                text = parsed[1]
                if keyword == RAW_XMP_KEYWORD:
                    decoded = _raw_profile_xmp(text)
                    if decoded:
                        return decoded
                    continue
                if text.strip(b"\x00 \t\r\n"):
                    return text
        except Exception:  # never raise on junk
            return None
        return None

    def read_text_chunks(self, data: bytes) -> dict[str, str]:
        out: dict[str, str] = {}
        counts: dict[str, int] = {}
        try:
            chunks, _ = _walk(data)
            budget = _MAX_TOTAL_TEXT_BYTES
            seen_exif = False
            for chunk in chunks:
                if budget <= 0:
                    break
                if chunk.ctype == b"eXIf":
                    if seen_exif:
                        continue
                    seen_exif = True
                    for key, value in _pillow.exif_text_fields(data[chunk.start : chunk.end]).items():
                        _pillow.put_unique(out, counts, key, value)
                    continue
                if chunk.ctype not in _TEXT_CHUNKS:
                    continue
                parsed = _text_chunk(chunk.ctype, data[chunk.start : chunk.end], min(budget, _MAX_TEXT_BYTES))
                if parsed is None:
                    continue
                keyword, text, is_utf8 = parsed
                if keyword in (XMP_KEYWORD, RAW_XMP_KEYWORD):
                    continue
                budget -= len(text)
                value = text.decode("utf-8", errors="replace") if is_utf8 else _pillow.decode_text(text)
                _pillow.put_unique(out, counts, keyword.decode("latin-1"), value)
        except Exception:  # never raise on junk
            return out
        return out


PNG = PngHandler()
