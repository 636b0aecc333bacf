from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from labeler.watermark import payload


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_frame_round_trip(watermark_id: int) -> None:
    bits = payload.encode_frame(watermark_id)
    assert bits.shape == (payload.FRAME_BITS,)
    assert payload.decode_frame(bits) == watermark_id


@given(st.integers(min_value=0, max_value=2**64 - 1), st.integers(min_value=0, max_value=payload.FRAME_BITS - 1))
def test_any_single_bit_error_is_rejected(watermark_id: int, position: int) -> None:
    bits = payload.encode_frame(watermark_id)
    bits[position] ^= 1
    assert payload.decode_frame(bits) is None


def test_random_frames_are_rejected_at_the_designed_rate() -> None:
    rng = np.random.default_rng(7)
    accepted = sum(
        payload.decode_frame(rng.integers(0, 2, payload.FRAME_BITS).astype(np.uint8)) is not None for _ in range(3000)
    )
    assert accepted == 0
    assert payload.RANDOM_FRAME_ACCEPT_PROBABILITY == 2.0**-28


def test_out_of_range_ids_are_refused() -> None:
    with pytest.raises(ValueError):
        payload.encode_frame(2**64)
    with pytest.raises(ValueError):
        payload.encode_frame(-1)
