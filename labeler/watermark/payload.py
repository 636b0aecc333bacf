"""Payload framing: version + 64-bit watermark ID + CRC-24.

The CRC is what turns "the decoder produced some bits" into "this is a mark": on unmarked content
the (keyed, whitened) decoder output is uniformly random, so a frame passes with probability 2^-28
(24 CRC bits and 4 version bits).
"""

from __future__ import annotations

import numpy as np

VERSION = 1
VERSION_BITS = 4
ID_BITS = 64
CRC_BITS = 24
FRAME_BITS = VERSION_BITS + ID_BITS + CRC_BITS  # 92
#: Probability that random bits form a valid frame of our version.
RANDOM_FRAME_ACCEPT_PROBABILITY = 2.0 ** -(CRC_BITS + VERSION_BITS)

# CRC-24/LTE-A polynomial (0x864CFB), no reflection, zero init.
_CRC24_POLY = 0x864CFB


def crc24(bits: np.ndarray) -> int:
    reg = 0
    for bit in bits.astype(np.uint8).tolist():
        top = ((reg >> 23) & 1) ^ bit
        reg = (reg << 1) & 0xFFFFFF
        if top:
            reg ^= _CRC24_POLY
    return reg


def int_to_bits(value: int, width: int) -> np.ndarray:
    return np.array([(value >> (width - 1 - i)) & 1 for i in range(width)], dtype=np.uint8)


def bits_to_int(bits: np.ndarray) -> int:
    value = 0
    for bit in bits.astype(np.uint8).tolist():
        value = (value << 1) | bit
    return value


def encode_frame(watermark_id: int) -> np.ndarray:
    """The 92 frame bits (uint8 0/1) for ``watermark_id``."""
    if not 0 <= watermark_id < 2**ID_BITS:
        raise ValueError("watermark id must fit in 64 bits")
    head = np.concatenate([int_to_bits(VERSION, VERSION_BITS), int_to_bits(watermark_id, ID_BITS)])
    return np.concatenate([head, int_to_bits(crc24(head), CRC_BITS)])


def decode_frame(bits: np.ndarray) -> int | None:
    """The watermark ID when ``bits`` is a valid frame of our version, else None."""
    if bits.shape != (FRAME_BITS,):
        raise ValueError(f"expected {FRAME_BITS} bits")
    head, crc = bits[: VERSION_BITS + ID_BITS], bits[VERSION_BITS + ID_BITS :]
    if bits_to_int(head[:VERSION_BITS]) != VERSION or bits_to_int(crc) != crc24(head):
        return None
    return bits_to_int(head[VERSION_BITS:])
