"""Watermark strength per region of an image, for the auditor's heat map.

Reuses the detector's own steps read-only (working luma, whitening, folding, sync search): the keyed
sync pattern is located once on the whole folded picture, then each tile-sized region is scored by
its normalised correlation with the pattern at that offset, scaled by sqrt(n) so an unmarked region
scores about N(0, 1). Regions where cropping, heavy texture or edits destroyed the mark show up cold.
"""

from __future__ import annotations

import numpy as np

from labeler.orientation import UPRIGHT, Orientation
from labeler.watermark.image import (
    TILE_PX,
    WORK_CELL_PX,
    _tiled,
    tile_layout,
    working_luma,
)
from labeler.watermark.keys import WatermarkKey
from labeler.watermark.sync import find_offset, fold, whiten

__all__ = ["strength_map"]


def strength_map(pixels: np.ndarray, key: WatermarkKey, orientation: Orientation = UPRIGHT) -> np.ndarray:
    """Per-region sync scores (float32, rows x cols of TILE_PX regions of the working-size luma).

    The working luma has a fixed short side, so the map has 4 rows or columns along the short side.
    ``orientation``: the detector found the mark in the picture turned and/or mirrored (a rotate or flip
    edit); the regions are scored in the restored picture and the map turned back to the picture as shown.
    """
    whitened = orientation.apply(whiten(working_luma(pixels)))
    return orientation.undo(_strength_map_of_whitened(whitened, key))


def _strength_map_of_whitened(whitened: np.ndarray, key: WatermarkKey) -> np.ndarray:
    """:func:`strength_map` of an already whitened working-size luma plane."""
    pattern = tile_layout(key).sync_template
    sync = find_offset(fold(whitened, TILE_PX), pattern)
    template = _tiled(np.roll(pattern, (sync.dy, sync.dx), axis=(0, 1)), whitened.shape)
    rows, cols = whitened.shape[0] // TILE_PX, whitened.shape[1] // TILE_PX
    out = np.zeros((rows, cols), dtype=np.float32)
    for r in range(rows):
        for c in range(cols):
            w = whitened[r * TILE_PX:(r + 1) * TILE_PX, c * TILE_PX:(c + 1) * TILE_PX].astype(np.float64)
            t = template[r * TILE_PX:(r + 1) * TILE_PX, c * TILE_PX:(c + 1) * TILE_PX].astype(np.float64)
            denom = float(np.sqrt(np.sum(w * w) * np.sum(t * t)))
            out[r, c] = 0.0 if denom == 0 else float(np.sum(w * t)) / denom * np.sqrt(w.size / WORK_CELL_PX**2)
    return out
