"""Container handlers behind a small registry with magic-byte sniffing.

See README.md in this folder for the capability table.
"""

from __future__ import annotations

from labeler.errors import EmptyMedia, UnsupportedFormat
from labeler.formats.base import CarriedMetadata, DecodedImage, ImageHandler
from labeler.formats.jpeg import JPEG
from labeler.formats.png import PNG
from labeler.formats.webp import WEBP

#: Handlers in sniffing order.
IMAGE_HANDLERS: tuple[ImageHandler, ...] = (JPEG, PNG, WEBP)

SNIFF_BYTES = 64


def sniff(data: bytes) -> ImageHandler:
    """The handler whose magic bytes match ``data``; the extension is never consulted."""
    if not data:
        raise EmptyMedia("the file is empty (0 bytes)")
    head = data[:SNIFF_BYTES]
    for handler in IMAGE_HANDLERS:
        if handler.sniff(head):
            return handler
    raise UnsupportedFormat(
        "not a supported format (supported: " + ", ".join(h.name.upper() for h in IMAGE_HANDLERS) + ")"
    )


def by_name(name: str) -> ImageHandler:
    for handler in IMAGE_HANDLERS:
        if handler.name == name:
            return handler
    raise UnsupportedFormat(f"unknown format {name!r}")


__all__ = ["IMAGE_HANDLERS", "CarriedMetadata", "DecodedImage", "ImageHandler", "by_name", "sniff"]
