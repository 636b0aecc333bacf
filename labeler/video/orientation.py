"""How a decoded frame is shown: its display matrix as quarter turns and a mirror.

FFmpeg's display matrix (``AV_FRAME_DATA_DISPLAYMATRIX``; the MP4 ``tkhd`` matrix, phones' portrait and
selfie video) is ``[a b u; c d v; x y w]`` with a, b, c, d in 16.16 fixed point. For the eight right-angle
orientations the upper 2x2 is a signed permutation: ``av_display_rotation_set`` gives the rotation and
``av_display_matrix_flip(hflip)`` negates a and c, i.e. mirrors the picture after turning it. As NumPy
sees the pixels, that is ``displayed = fliplr(rot90(coded, turns))`` (``rot90`` counter-clockwise), which
is also what ffmpeg's autorotation shows (its transpose/hflip/vflip choice for each matrix, run through
FFmpeg's own filters on the matrices PyAV writes in ``tests/video/test_orientation.py``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from labeler.orientation import Orientation as Dihedral

#: (a, b, c, d) signs of the display matrix → (counter-clockwise quarter turns, mirrored).
_RIGHT_ANGLES: dict[tuple[int, int, int, int], tuple[int, bool]] = {
    (1, 0, 0, 1): (0, False), (0, -1, 1, 0): (1, False), (-1, 0, 0, -1): (2, False), (0, 1, -1, 0): (3, False),
    (-1, 0, 0, 1): (0, True), (0, -1, -1, 0): (1, True), (1, 0, 0, -1): (2, True), (0, 1, 1, 0): (3, True),
}


@dataclass(frozen=True)
class Orientation:
    """``displayed = fliplr(rot90(coded, turns))`` when ``mirrored``, else ``rot90(coded, turns)``;
    ``matrix`` is the display matrix to copy to an output (None: none was set)."""

    turns: int = 0
    mirrored: bool = False
    matrix: tuple[int, ...] | None = None

    def to_displayed(self, plane: np.ndarray) -> np.ndarray:
        return Dihedral(self.turns, self.mirrored).apply(plane)


def orientation_of_matrix(matrix: tuple[int, ...]) -> Orientation:
    """The orientation of a 9-integer display matrix; a non-right angle snaps to the nearest quarter turn
    (as ``av_display_rotation_get`` measures it), unmirrored."""
    a, b, c, d = matrix[0], matrix[1], matrix[3], matrix[4]
    signs = tuple(int(np.sign(v)) if abs(v) > (1 << 16) // 2 else 0 for v in (a, b, c, d))
    found = _RIGHT_ANGLES.get(signs)  # type: ignore[arg-type]
    if found is not None:
        return Orientation(found[0], found[1], matrix)
    # av_display_rotation_get: the counter-clockwise angle is -atan2(b, a) (scaled columns)
    angle = -np.degrees(np.arctan2(b / max(1.0, float(np.hypot(b, d))), a / max(1.0, float(np.hypot(a, c)))))
    return Orientation(round(float(angle) / 90) % 4, False, matrix)


def frame_orientation(frame: object) -> Orientation:
    """The orientation of a decoded PyAV video frame (its display-matrix side data)."""
    try:
        for side in frame.side_data:  # type: ignore[attr-defined]
            if "DISPLAYMATRIX" in str(side.type):
                raw = bytes(side)
                if len(raw) == 36:  # nine native int32, as FFmpeg stores them
                    return orientation_of_matrix(struct.unpack("=9i", raw))
    except (AttributeError, TypeError, ValueError):
        pass
    return Orientation()
