from __future__ import annotations

import numpy as np
import pytest

from labeler.errors import KeyInvalid
from labeler.watermark.keys import WatermarkKey


def test_streams_are_deterministic_and_separated_by_purpose() -> None:
    key = WatermarkKey(bytes(range(32)))
    assert np.array_equal(key.signs("a", 100), WatermarkKey(bytes(range(32))).signs("a", 100))
    assert not np.array_equal(key.signs("a", 100), key.signs("b", 100))
    assert not np.array_equal(key.signs("a", 100), WatermarkKey(bytes(range(1, 33))).signs("a", 100))
    assert set(np.unique(key.signs("a", 1000))) == {-1.0, 1.0}


def test_secret_never_printed_and_hex_round_trip() -> None:
    key = WatermarkKey.generate()
    assert key.to_hex() not in repr(key)
    assert WatermarkKey.from_hex(key.to_hex()) == key
    assert len(key.key_id) == 16


@pytest.mark.parametrize("text", ["zz", "00" * 8, ""])
def test_bad_keys_are_rejected(text: str) -> None:
    with pytest.raises(KeyInvalid):
        WatermarkKey.from_hex(text)
