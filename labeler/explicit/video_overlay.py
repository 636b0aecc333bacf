"""The visible label on video frames, blended straight into the Y, U and V planes.

The label is rendered once per resolution with the image renderer (:func:`draw_visible_label`) over a
black and over a white picture; the two renders give the sprite's colour and alpha exactly. The sprite
is converted to BT.601 limited-range YUV once, so each labelled frame costs an alpha blend of the
label box only: no RGB conversion of whole frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labeler.explicit.text_label import PlacedLabel, draw_visible_label
from labeler.orientation import Orientation
from labeler.settings import VisibleLabelOptions


@dataclass(frozen=True)
class YuvSprite:
    placed: PlacedLabel
    # Box origin/size in luma pixels, even so chroma (4:2:0) aligns.
    x: int
    y: int
    y_plane: np.ndarray  # float32 box luma
    y_alpha: np.ndarray  # float32 0..1
    u_plane: np.ndarray  # float32 half-size
    v_plane: np.ndarray
    uv_alpha: np.ndarray


def render_sprite(
    height: int, width: int, options: VisibleLabelOptions, rotation: int = 0, mirrored: bool = False,
) -> YuvSprite:
    """The label for ``height`` x ``width`` coded frames. ``rotation`` (degrees counter-clockwise, a
    multiple of 90) and ``mirrored`` are the stream's display matrix (``labeler.video.orientation``): the
    label is laid out for the picture as displayed and turned (and mirrored) back into coded orientation,
    so the viewer sees it upright and readable in the chosen corner."""
    turns = (rotation // 90) % 4
    shown = (height, width) if turns % 2 == 0 else (width, height)
    black, placed = draw_visible_label(np.zeros((*shown, 3), np.uint8), options)
    white, _ = draw_visible_label(np.full((*shown, 3), 255, np.uint8), options)
    if turns or mirrored:
        # displayed = Orientation(turns, mirrored).apply(coded), so coded = its undo(displayed)
        to_coded = Orientation(turns, mirrored).undo
        black, white = to_coded(black), to_coded(white)
        rows, cols = np.nonzero(np.any(black != white, axis=2))
        box_x, box_y = int(cols.min()), int(rows.min())
        box_w, box_h = int(cols.max()) - box_x + 1, int(rows.max()) - box_y + 1
    else:
        box_x, box_y, box_w, box_h = placed.x, placed.y, placed.width, placed.height
    x0, y0 = box_x & ~1, box_y & ~1
    x1 = min(width & ~1, (box_x + box_w + 1) & ~1)
    y1 = min(height & ~1, (box_y + box_h + 1) & ~1)
    b = black[y0:y1, x0:x1].astype(np.float32)
    w = white[y0:y1, x0:x1].astype(np.float32)
    alpha = np.clip(1.0 - (w - b).mean(axis=2) / 255.0, 0.0, 1.0)
    colour = b / np.maximum(alpha, 1e-3)[:, :, None]
    r, g, bl = colour[:, :, 0], colour[:, :, 1], colour[:, :, 2]
    luma = 16 + (65.481 * r + 128.553 * g + 24.966 * bl) / 255.0
    cb = 128 + (-37.797 * r - 74.203 * g + 112.0 * bl) / 255.0
    cr = 128 + (112.0 * r - 93.786 * g - 18.214 * bl) / 255.0

    def half(plane: np.ndarray) -> np.ndarray:
        h, w_ = plane.shape
        return plane.reshape(h // 2, 2, w_ // 2, 2).mean(axis=(1, 3)).astype(np.float32)

    # Chroma of a half-size pixel is the alpha-weighted mean of its four luma pixels' chroma.
    uv_alpha = half(alpha)
    safe = np.maximum(uv_alpha, 1e-3)
    return YuvSprite(
        placed=placed, x=x0, y=y0,
        y_plane=luma.astype(np.float32), y_alpha=alpha.astype(np.float32),
        u_plane=half(cb * alpha) / safe, v_plane=half(cr * alpha) / safe, uv_alpha=uv_alpha,
    )


def _blend(plane: np.ndarray, top: int, left: int, colour: np.ndarray, alpha: np.ndarray) -> None:
    h, w = colour.shape
    # The sprite is in 8-bit code values; a 10-bit plane (uint16) takes them times 4.
    scale, peak = (4.0, 1023) if plane.dtype == np.uint16 else (1.0, 255)
    region = plane[top : top + h, left : left + w].astype(np.float32)
    blended = region + alpha * (colour * scale - region) + 0.5
    plane[top : top + h, left : left + w] = np.clip(blended, 0, peak).astype(plane.dtype)


def blend_yuv420(y: np.ndarray, u: np.ndarray, v: np.ndarray, sprite: YuvSprite) -> None:
    """Blend the label into 4:2:0 planes in place, 8-bit (uint8) or 10-bit (uint16): only the label box
    is touched."""
    _blend(y, sprite.y, sprite.x, sprite.y_plane, sprite.y_alpha)
    _blend(u, sprite.y // 2, sprite.x // 2, sprite.u_plane, sprite.uv_alpha)
    _blend(v, sprite.y // 2, sprite.x // 2, sprite.v_plane, sprite.uv_alpha)
