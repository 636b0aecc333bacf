"""The watermark strength heat map: hot where the mark is, cold where it is not."""

from __future__ import annotations

import numpy as np

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


def test_a_flipped_picture_is_mapped_in_its_mirror_image_and_shown_as_it_is() -> None:
    base = natural_image(512, 768, seed=4)
    marked = embed_image(base, 0xDEADBEEF, KEY)
    half = base.copy()
    half[:, 384:] = marked[:, 384:]
    flipped = np.ascontiguousarray(half[:, ::-1])  # the mark now sits in the left half, mirrored
    unmirrored = strength_map(flipped, KEY)
    mirrored = strength_map(flipped, KEY, mirrored=True)
    assert float(np.abs(unmirrored).mean()) < 1.2  # the mark is invisible to the unmirrored pattern
    assert float(mirrored[:, :3].mean()) > float(mirrored[:, 3:].mean()) + 1.5  # hot where it is shown
