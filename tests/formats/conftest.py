"""Fixtures for the container handler tests: photo-like pixels, metadata blobs and tiny crafted files."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageCms

XMP_WITH_TITLE = (
    b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Test Core">'
    b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"'
    b' xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:tiff="http://ns.adobe.com/tiff/1.0/"'
    b' xmp:CreatorTool="Camera &amp; Co" tiff:Orientation="6">'
    b'<dc:title><rdf:Alt><rdf:li xml:lang="x-default">A title</rdf:li></rdf:Alt></dc:title>'
    b"</rdf:Description></rdf:RDF></x:xmpmeta>"
    b'<?xpacket end="w"?>'
)


def _pixels(height: int, width: int, channels: int, seed: int) -> np.ndarray:
    """Gradients plus noise: not flat, so codecs and comparisons are exercised for real."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    planes = [
        255 * xx / max(width - 1, 1),
        255 * yy / max(height - 1, 1),
        127 + 100 * np.sin(xx / 7.0) * np.cos(yy / 11.0),
        255 * ((xx + yy) % 64) / 63,
    ]
    stack = np.stack(planes[:channels], axis=-1) + rng.normal(0, 12, (height, width, channels))
    return np.clip(stack, 0, 255).astype(np.uint8)


@pytest.fixture
def make_pixels() -> Callable[..., np.ndarray]:
    def make(height: int = 48, width: int = 64, channels: int = 3, seed: int = 0) -> np.ndarray:
        return _pixels(height, width, channels, seed)

    return make


@pytest.fixture
def encode_pil() -> Callable[..., bytes]:
    """Encode a Pillow image (or a uint8 array) with Pillow itself, as other software would."""

    def encode(image: Image.Image | np.ndarray, fmt: str, **params: Any) -> bytes:
        if isinstance(image, np.ndarray):
            arr = image[:, :, 0] if image.ndim == 3 and image.shape[2] == 1 else image
            image = Image.fromarray(arr)
        out = io.BytesIO()
        image.save(out, fmt, **params)
        return out.getvalue()

    return encode


@pytest.fixture(scope="session")
def icc_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.fixture
def make_exif() -> Callable[..., bytes]:
    """EXIF (with the ``Exif\\0\\0`` header) holding an Orientation and some text tags."""

    def make(orientation: int = 6, description: str = "a description", user_comment: bytes | None = None) -> bytes:
        exif = Image.Exif()
        exif[0x0112] = orientation
        exif[0x010E] = description
        exif[0x0131] = "TestSoftware"
        if user_comment is not None:
            exif.get_ifd(0x8769)[0x9286] = user_comment
        return exif.tobytes()

    return make


@pytest.fixture
def existing_xmp() -> bytes:
    return XMP_WITH_TITLE


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


@pytest.fixture
def png_header_only() -> Callable[[int, int], bytes]:
    """A PNG whose IHDR claims ``width`` x ``height`` and carries one tiny IDAT (a bomb's header)."""

    def make(width: int, height: int) -> bytes:
        ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n"
            + png_chunk(b"IHDR", ihdr)
            + png_chunk(b"IDAT", zlib.compress(b"\x00" * 16))
            + png_chunk(b"IEND", b"")
        )

    return make


@pytest.fixture
def png_chunk_builder() -> Callable[[bytes, bytes], bytes]:
    return png_chunk


@pytest.fixture
def jpeg_header_only() -> Callable[[int, int], bytes]:
    """SOI + a baseline SOF0 claiming ``width`` x ``height`` + a minimal SOS + EOI (no real data)."""

    def make(width: int, height: int) -> bytes:
        sof = struct.pack(">BHHB", 8, height, width, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
        sos = struct.pack(">B", 3) + b"\x01\x00\x02\x11\x03\x11" + b"\x00\x3f\x00"
        return (
            b"\xff\xd8"
            + b"\xff\xc0"
            + struct.pack(">H", len(sof) + 2)
            + sof
            + b"\xff\xda"
            + struct.pack(">H", len(sos) + 2)
            + sos
            + b"\x00" * 8
            + b"\xff\xd9"
        )

    return make


@pytest.fixture
def riff_webp() -> Callable[[list[tuple[bytes, bytes]]], bytes]:
    """Assemble a RIFF/WEBP file from (fourcc, payload) chunks."""

    def make(chunks: list[tuple[bytes, bytes]]) -> bytes:
        body = b"WEBP"
        for fourcc, payload in chunks:
            body += fourcc + struct.pack("<I", len(payload)) + payload + (b"\x00" if len(payload) % 2 else b"")
        return b"RIFF" + struct.pack("<I", len(body)) + body

    return make


@pytest.fixture
def webp_chunks() -> Callable[[bytes], list[tuple[bytes, bytes]]]:
    """Split a WebP file into its (fourcc, payload) chunks."""

    def split(data: bytes) -> list[tuple[bytes, bytes]]:
        out = []
        pos = 12
        while pos + 8 <= len(data):
            fourcc = data[pos : pos + 4]
            (size,) = struct.unpack_from("<I", data, pos + 4)
            out.append((fourcc, data[pos + 8 : pos + 8 + size]))
            pos += 8 + size + (size & 1)
        return out

    return split
