"""The eight right-angle turns and flips of a picture (the symmetries of a square), as NumPy sees pixels.

One transform serves three places: the watermark detector restores a turned or flipped picture's folded
tile (``labeler.watermark.sync``), a video's display matrix says how coded frames are shown
(``labeler.video.orientation``), and the video label is drawn as shown and turned back into coded
pixels (``labeler.explicit.video_overlay``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np


class Orientation(NamedTuple):
    """:meth:`apply` turns a plane counter-clockwise by ``turns`` quarter turns, then mirrors it left to
    right when ``mirrored`` (``fliplr(rot90(plane, turns))``); :meth:`undo` is its inverse.

    In the watermark detector it is the transform that restores a picture that had been mirrored (when
    ``mirrored``) and then turned clockwise by ``turns`` quarter turns: a flip edit, a rotate edit, or a
    transcode that applied a video's display matrix to the pixels. In a display matrix it takes coded
    pixels to the picture as shown."""

    turns: int = 0
    mirrored: bool = False

    def apply(self, plane: np.ndarray) -> np.ndarray:
        turned = np.rot90(plane, self.turns) if self.turns % 4 else plane
        return np.ascontiguousarray(turned[:, ::-1] if self.mirrored else turned)

    def undo(self, plane: np.ndarray) -> np.ndarray:
        unmirrored = plane[:, ::-1] if self.mirrored else plane
        return np.ascontiguousarray(np.rot90(unmirrored, -self.turns) if self.turns % 4 else unmirrored)

    @classmethod
    def of_watermark(cls, watermark: Mapping[str, Any]) -> Orientation:
        """The orientation a verify report's watermark section (``right_angle_turns``, ``mirrored``) gives."""
        return cls(int(watermark.get("right_angle_turns") or 0), bool(watermark.get("mirrored")))

    def edit_description(self) -> str:
        """The edit this orientation restores, in words ("mirrored, then turned 90° clockwise"; "" upright)."""
        done = ["mirrored"] if self.mirrored else []
        if self.turns % 4:
            done.append(f"turned {90 * (self.turns % 4)}° clockwise")
        return ", then ".join(done)


UPRIGHT = Orientation()
#: Upright first, then the seven others.
ORIENTATIONS = (UPRIGHT, *(Orientation(turns, mirrored) for mirrored in (False, True) for turns in range(4)
                          if turns or mirrored))
