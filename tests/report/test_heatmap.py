"""The watermark strength heat map: hot where the mark is, cold where it is not."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from labeler.orientation import Orientation
from labeler.report.heatmap import strength_map
from labeler.watermark import WatermarkKey
from labeler.watermark.image import embed_image
from tests.helpers import natural_image

KEY = WatermarkKey(b"heatmap-test-key-0123456789abcdef")


def test_marked_regions_are_hot_and_unmarked_cold() -> None:
    base = natural_image(512, 768, seed=4)
    marked = embed_image(base, 0xDEADBEEF, KEY)
    half = base.copy()
    half[:, 384:] = marked[:, 384:]  # only the right half carries the mark
    plain = strength_map(base, KEY)
    full = strength_map(marked, KEY)
    mixed = strength_map(half, KEY)
    assert full.shape == plain.shape == (4, 6)
    assert float(full.mean()) > 1.8 and float(full.min()) > 1.0
    assert float(np.abs(plain).mean()) < 1.2
    assert float(mixed[:, 3:].mean()) > float(mixed[:, :3].mean()) + 1.5


@pytest.mark.parametrize(
    "orientation",
    [Orientation(0, True), Orientation(1, False), Orientation(3, True)],
    ids=["flipped", "turned-90-clockwise", "flipped-then-turned-270"],
)
def test_a_turned_or_flipped_picture_is_mapped_restored_and_shown_as_it_is(orientation: Orientation) -> None:
    base = natural_image(512, 768, seed=4)
    marked = embed_image(base, 0xDEADBEEF, KEY)
    half = base.copy()
    half[:, 384:] = marked[:, 384:]
    marked_part = np.zeros(half.shape[:2], dtype=np.float32)
    marked_part[:, 384:] = 1.0
    # The edit the detector found (``orientation`` is the transform that restores it).
    shown, shown_part = orientation.undo(half), orientation.undo(marked_part)
    upright = strength_map(shown, KEY)
    restored = strength_map(shown, KEY, orientation)
    assert restored.shape == upright.shape  # the map is laid out like the picture as shown
    assert float(np.abs(upright).mean()) < 1.2  # the mark is invisible to the upright pattern
    share = cv2.resize(shown_part, restored.shape[::-1], interpolation=cv2.INTER_AREA)
    assert float(restored[share > 0.9].mean()) > float(restored[share < 0.1].mean()) + 1.5  # hot where shown
