"""Video size guards (``Limits.max_video_*``): the header first, then every decoded frame.

A video's cost is frames x pixels, and both can be declared by a tiny file (skipped frames cost bytes
only): a few KB can claim hours of 8K. Labeling would then re-encode for hours and verify would decode
for as long — a hang, for a service. The header is checked before anything is decoded or encoded, and
each decoded frame is counted against the same limits, since a header can lie.
"""

from __future__ import annotations

import av

from labeler.errors import MediaTooLarge
from labeler.settings import Limits


def check_video_header(container: av.container.InputContainer, stream: av.VideoStream, limits: Limits) -> None:
    """Refuse a stream whose declared frame size or duration is over ``limits``."""
    width, height = stream.codec_context.width, stream.codec_context.height
    _check_pixels(width, height, limits)
    seconds = float(container.duration / av.time_base) if container.duration else 0.0
    if seconds > limits.max_video_seconds:
        raise MediaTooLarge(f"the video lasts {seconds:.0f} s, over the limit of {limits.max_video_seconds:.0f} s")
    if stream.frames and stream.frames > limits.max_video_frames:
        raise MediaTooLarge(f"the video has {stream.frames} frames, over the limit of {limits.max_video_frames}")


class FrameBudget:
    """Counts decoded frames against ``limits``: size, time and number (headers can lie)."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.frames = 0

    def admit(self, frame: av.VideoFrame) -> None:
        self.frames += 1
        if self.frames > self.limits.max_video_frames:
            raise MediaTooLarge(f"the video has more than {self.limits.max_video_frames} frames")
        _check_pixels(frame.width, frame.height, self.limits)
        if frame.time is not None and frame.time > self.limits.max_video_seconds:
            raise MediaTooLarge(f"the video runs past {self.limits.max_video_seconds:.0f} s, the limit")


def _check_pixels(width: int, height: int, limits: Limits) -> None:
    if width * height > limits.max_video_pixels:
        raise MediaTooLarge(f"video frames are {width}x{height} = {width * height} pixels, over the limit of "
                            f"{limits.max_video_pixels}")
