"""Fixtures shared by the end-to-end tests: a key, a registry, and photo-like files in every format."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from labeler.keyfile import init_key_file
from labeler.watermark.keys import WatermarkKey
from tests.helpers import natural_image

FORMATS = {"jpeg": ("JPEG", ".jpg"), "png": ("PNG", ".png"), "webp": ("WEBP", ".webp")}


#: The tests' watermark key: fixed, so a test's outcome never depends on which random key it drew (a fresh
#: key per run made short-clip audio checks fail now and then). Robustness across keys and IDs is what
#: the benchmarks measure; `labeler keys init` itself is tested on its own.
TEST_KEY = WatermarkKey(hashlib.sha256(b"labeler test suite key").digest())


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "watermark.key"
    init_key_file(path)  # the real file layout and permissions, then the fixed key in it
    path.write_text(TEST_KEY.to_hex() + "\n")
    return path


@pytest.fixture
def key(key_file: Path) -> WatermarkKey:
    return WatermarkKey.from_hex(key_file.read_text())


@pytest.fixture
def registry_path(tmp_path: Path) -> Path:
    return tmp_path / "registry.sqlite3"


def image_bytes(fmt: str, height: int = 480, width: int = 640, seed: int = 0) -> bytes:
    buffer = io.BytesIO()
    pil_format = FORMATS[fmt][0]
    kwargs = {"quality": 92} if fmt in ("jpeg", "webp") else {}
    Image.fromarray(natural_image(height, width, seed=seed)).save(buffer, pil_format, **kwargs)
    return buffer.getvalue()


@pytest.fixture
def make_image(tmp_path: Path) -> Callable[..., Path]:
    def make(fmt: str = "jpeg", height: int = 480, width: int = 640, seed: int = 0, name: str | None = None) -> Path:
        path = tmp_path / (name or f"input-{seed}{FORMATS[fmt][1]}")
        path.write_bytes(image_bytes(fmt, height, width, seed))
        return path

    return make


def png_claiming_size(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` but carries almost no data (a bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
