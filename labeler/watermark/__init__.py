"""The invisible watermark: payload framing, error correction, keyed streams, embedding and detection."""

from __future__ import annotations

import hashlib

from labeler.watermark.image import (
    DEFAULT_FALSE_POSITIVE_LIMIT,
    MIN_SHORT_SIDE,
    ImageDetection,
    can_embed,
    detect_image,
    embed_image,
)
from labeler.watermark.keys import WatermarkKey


def derive_watermark_id(content_producer: str, produce_id: str) -> int:
    """The 64-bit ID carried for (ContentProducer, ProduceID): a hash, so the registry maps it back and
    two producers' identical ProduceIDs still get different marks."""
    digest = hashlib.sha256(
        b"labeler/watermark-id\0" + content_producer.encode() + b"\0" + produce_id.encode()
    ).digest()
    return int.from_bytes(digest[:8], "big")


__all__ = [
    "DEFAULT_FALSE_POSITIVE_LIMIT",
    "MIN_SHORT_SIDE",
    "ImageDetection",
    "WatermarkKey",
    "can_embed",
    "derive_watermark_id",
    "detect_image",
    "embed_image",
]
