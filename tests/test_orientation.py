"""The eight right-angle turns and flips shared by the watermark search, display matrices and the video label."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from labeler.orientation import ORIENTATIONS, UPRIGHT, Orientation


@given(st.integers(1, 7), st.integers(1, 7), st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None)
def test_the_eight_orientations_are_distinct_and_undone(height: int, width: int, seed: int) -> None:
    plane = np.random.default_rng(seed).integers(0, 255, (height, width)).astype(np.uint8)
    assert len(set(ORIENTATIONS)) == 8 and ORIENTATIONS[0] == UPRIGHT
    for orientation in ORIENTATIONS:
        assert np.array_equal(orientation.undo(orientation.apply(plane)), plane)
        assert orientation.apply(plane).flags.c_contiguous  # OpenCV takes it as it is
    if height > 1 and width > 1 and len(np.unique(plane)) == plane.size:  # no symmetry of its own
        assert len({o.apply(plane).tobytes() + bytes(o.apply(plane).shape) for o in ORIENTATIONS}) == 8


def test_apply_turns_counter_clockwise_then_mirrors() -> None:
    plane = np.arange(6).reshape(2, 3)
    assert np.array_equal(Orientation(1, False).apply(plane), np.rot90(plane))
    assert np.array_equal(Orientation(1, True).apply(plane), np.fliplr(np.rot90(plane)))
    assert np.array_equal(Orientation(0, True).apply(plane), plane[:, ::-1])


def test_the_edit_an_orientation_restores_is_read_from_a_report_and_said_in_words() -> None:
    assert Orientation.of_watermark({}) == UPRIGHT and UPRIGHT.edit_description() == ""
    restored = Orientation.of_watermark({"right_angle_turns": 1, "mirrored": True})
    assert restored == Orientation(1, True)
    assert restored.edit_description() == "mirrored, then turned 90° clockwise"
    assert Orientation(3, False).edit_description() == "turned 270° clockwise"
    # the words match the pixels: a picture mirrored and then turned 90° clockwise is restored by it
    picture = np.arange(12).reshape(3, 4)
    edited = np.rot90(picture[:, ::-1], -1)
    assert np.array_equal(restored.apply(edited), picture)
