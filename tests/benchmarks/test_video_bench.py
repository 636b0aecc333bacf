"""The video benchmark's flicker measure: what it reports for marks that hold still, pulse or shimmer."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.video import temporal_flicker


def _frames(count: int = 6) -> list[np.ndarray]:
    rng = np.random.default_rng(2)
    return [rng.integers(40, 200, (36, 64), dtype=np.uint8) for _ in range(count)]


def test_a_constant_mark_does_not_flicker_and_holds_its_level() -> None:
    source = _frames()
    mark = np.random.default_rng(3).choice([-2, 2], size=(36, 64))
    result = temporal_flicker(source, iter([(f + mark).astype(np.uint8) for f in source]))
    assert result["flicker"] == 0.0
    assert result["rms_min"] == result["rms_max"] == pytest.approx(2.0)


def test_a_mark_that_pulses_with_the_frame_types_shows_in_both_measures() -> None:
    source = _frames()
    mark = np.random.default_rng(3).choice([-1, 1], size=(36, 64))
    gains = [3, 1, 1, 3, 1, 1]  # strong on "I" frames, weak between
    coded = [(f + g * mark).astype(np.uint8) for f, g in zip(source, gains, strict=True)]
    result = temporal_flicker(source, iter(coded))
    assert result["rms_min"] == pytest.approx(1.0) and result["rms_max"] == pytest.approx(3.0)
    assert result["flicker"] == pytest.approx(np.mean([2, 0, 2, 2, 0]))


def test_a_shimmering_mark_flickers_at_a_constant_level() -> None:
    source = _frames()
    rng = np.random.default_rng(4)
    coded = [(f + rng.choice([-1, 1], size=f.shape)).astype(np.uint8) for f in source]  # new pattern every frame
    result = temporal_flicker(source, iter(coded))
    assert result["rms_min"] == result["rms_max"] == pytest.approx(1.0)
    assert result["flicker"] == pytest.approx(1.0, abs=0.1)  # |±1 − ±1| is 0 or 2, half the time each
