"""Keyed random streams: every pseudo-random choice of the watermark derives from one secret.

Each purpose ("image/sync", "payload/scramble", ...) gets its own HMAC-SHA256 derived seed, so streams
are independent and one purpose never leaks another's values.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import numpy as np

from labeler.errors import KeyInvalid

MIN_SECRET_BYTES = 16


@dataclass(frozen=True)
class WatermarkKey:
    """The secret that makes the mark detectable only by its owner. ``key_id`` is a public fingerprint."""

    secret: bytes

    def __post_init__(self) -> None:
        if len(self.secret) < MIN_SECRET_BYTES:
            raise KeyInvalid(f"a watermark key needs at least {MIN_SECRET_BYTES} bytes")

    def __repr__(self) -> str:  # never print the secret
        return f"WatermarkKey(key_id={self.key_id!r})"

    @property
    def key_id(self) -> str:
        return hashlib.sha256(b"labeler/key-id\0" + self.secret).hexdigest()[:16]

    @classmethod
    def generate(cls) -> WatermarkKey:
        return cls(secrets.token_bytes(32))

    @classmethod
    def from_hex(cls, text: str) -> WatermarkKey:
        try:
            return cls(bytes.fromhex(text.strip()))
        except ValueError:
            raise KeyInvalid("the watermark key is not valid hex") from None

    def to_hex(self) -> str:
        return self.secret.hex()

    def derive(self, purpose: str) -> bytes:
        return hmac.new(self.secret, b"labeler/v1/" + purpose.encode(), hashlib.sha256).digest()

    def rng(self, purpose: str) -> np.random.Generator:
        """A NumPy generator seeded for ``purpose`` (deterministic for a given key and purpose)."""
        seed = int.from_bytes(self.derive(purpose), "big")
        return np.random.Generator(np.random.PCG64(seed))

    def signs(self, purpose: str, count: int) -> np.ndarray:
        """``count`` keyed ±1 values as float32."""
        bits = self.rng(purpose).integers(0, 2, size=count, dtype=np.int8)
        return (bits.astype(np.float32) * 2.0 - 1.0).astype(np.float32)
