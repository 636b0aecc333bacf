"""The registry: magic-byte sniffing picks the handler, never the file name."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image

from labeler import formats
from labeler.errors import EmptyMedia, UnsupportedFormat
from labeler.formats import IMAGE_HANDLERS, by_name, sniff
from labeler.formats.jpeg import JPEG
from labeler.formats.png import PNG
from labeler.formats.webp import WEBP


@pytest.mark.parametrize(("pil_format", "handler"), [("JPEG", JPEG), ("PNG", PNG), ("WEBP", WEBP)])
def test_sniff_picks_the_handler_from_content(
    pil_format: str, handler: object, make_pixels: Callable[..., np.ndarray], encode_pil: Callable[..., bytes]
) -> None:
    data = encode_pil(make_pixels(), pil_format)
    assert sniff(data) is handler
    # Each handler answers only for its own magic bytes.
    for other in IMAGE_HANDLERS:
        assert other.sniff(data[:64]) is (other is handler)


@pytest.mark.parametrize("pil_format", ["GIF", "BMP", "TIFF", "ICO"])
def test_sniff_rejects_other_image_formats(
    pil_format: str, make_pixels: Callable[..., np.ndarray], encode_pil: Callable[..., bytes]
) -> None:
    data = encode_pil(Image.fromarray(make_pixels(32, 32)), pil_format)
    with pytest.raises(UnsupportedFormat):
        sniff(data)


@pytest.mark.parametrize(
    "data",
    [
        b"hello, this is a text file that is called picture.jpg\n",
        b"RIFF\x10\x00\x00\x00WAVEfmt ",  # RIFF, but not WebP
        b"\xff\xd8",  # too short to be a JPEG
        b"\x89PNG\r\n",  # cut-off PNG signature
        bytes(range(64)),
    ],
)
def test_sniff_rejects_non_images(data: bytes) -> None:
    with pytest.raises(UnsupportedFormat):
        sniff(data)


def test_empty_input_is_empty_media() -> None:
    with pytest.raises(EmptyMedia):
        sniff(b"")


def test_short_heads_never_raise() -> None:
    for handler in IMAGE_HANDLERS:
        for size in range(13):
            assert handler.sniff(b"\xff" * size) in (True, False)


def test_by_name_and_handler_attributes() -> None:
    assert by_name("jpeg") is JPEG and by_name("png") is PNG and by_name("webp") is WEBP
    with pytest.raises(UnsupportedFormat):
        by_name("gif")
    seen_extensions: set[str] = set()
    for handler in IMAGE_HANDLERS:
        assert handler.mime.startswith("image/")
        assert handler.extensions and all(ext.startswith(".") for ext in handler.extensions)
        assert not seen_extensions & set(handler.extensions)
        seen_extensions |= set(handler.extensions)
        for method in ("sniff", "decode", "encode", "read_xmp", "read_text_chunks"):
            assert callable(getattr(handler, method))
    assert formats.SNIFF_BYTES >= 12
