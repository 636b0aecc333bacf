"""Types shared by every container handler.

Pixel layout: ``DecodedImage.pixels`` is uint8, C-contiguous, HxWxC with C = 1 (grey), 3 (RGB) or
4 (RGBA), orientation already applied (EXIF Orientation honoured and reset to 1 in ``exif``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np

from labeler.settings import Limits


@dataclass(frozen=True)
class CarriedMetadata:
    """Metadata that labeling keeps from the input and writes back unchanged (XMP is merged)."""

    icc_profile: bytes | None = None
    #: Raw EXIF (``Exif\\0\\0`` stripped or not, as Pillow gives it) with Orientation reset to 1.
    exif: bytes | None = None
    #: The input's XMP packet (UTF-8 XML), if any; labeling merges the AIGC property into it.
    xmp: bytes | None = None


@dataclass
class DecodedImage:
    format: str  # handler name: "jpeg", "png", "webp"
    pixels: np.ndarray  # uint8 HxWxC, C in (1, 3, 4)
    metadata: CarriedMetadata
    #: Format-specific hints so the encoder can match the input's quality (JPEG quantisation tables
    #: and subsampling, WebP lossless flag, PNG text chunks to keep, ...). Opaque to everything else.
    encode_hints: dict[str, Any] = field(default_factory=dict)

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])


class ImageHandler(Protocol):
    """One still-image container. Implementations are stateless module-level objects."""

    name: ClassVar[str]
    mime: ClassVar[str]
    extensions: ClassVar[tuple[str, ...]]

    def sniff(self, head: bytes) -> bool:
        """True when the first bytes (at least 32 are given when the file has them) are this format."""

    def decode(self, data: bytes, limits: Limits) -> DecodedImage:
        """Decode, checking ``limits.max_pixels`` from the header *before* decoding pixels.

        Raises CorruptMedia (truncated/malformed), MediaTooLarge, EmptyMedia (zero pixels).
        """

    def encode(self, image: DecodedImage, xmp: bytes | None) -> bytes:
        """Encode ``image.pixels`` with ``image.metadata`` (ICC, EXIF) and the given XMP packet
        (which replaces ``image.metadata.xmp``; None keeps no XMP)."""

    def read_xmp(self, data: bytes) -> bytes | None:
        """The XMP packet, without decoding pixels; None when absent. Never raises on junk input
        (returns None)."""

    def read_text_chunks(self, data: bytes) -> dict[str, str]:
        """Other textual metadata where providers put AIGC labels (PNG tEXt/iTXt/zTXt keys, EXIF
        UserComment/ImageDescription, ...), as key -> text. Never raises on junk input."""
