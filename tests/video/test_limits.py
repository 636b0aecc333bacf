"""Video size guards: refused from the header before any work, and frame by frame when the header lies."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import pytest

from labeler.errors import MediaTooLarge
from labeler.settings import Limits
from labeler.video.limits import FrameBudget
from labeler.video.transcode import detect_video_file, label_video_file
from labeler.video.verifying import verify_video_file
from tests.video.clips import make_clip
from tests.video.test_transcode import KEY, settings


@pytest.mark.parametrize(("limits", "what"), [
    (Limits(max_video_pixels=384 * 256 - 1), "pixels"),
    (Limits(max_video_seconds=1.0), "lasts"),
    (Limits(max_video_frames=49), "frames"),
])
def test_a_video_over_a_limit_is_refused_before_any_work(tmp_path: Path, limits: Limits, what: str) -> None:
    src = make_clip(tmp_path / "in.mp4", frames=50, audio=None)  # 384x256, 2 s, 50 frames
    before = src.read_bytes()
    dst = tmp_path / "out.mp4"
    with pytest.raises(MediaTooLarge, match=what):
        label_video_file(src, dst, settings(limits=limits))
    assert not dst.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]  # no partial output
    assert src.read_bytes() == before
    with pytest.raises(MediaTooLarge):
        detect_video_file(src, KEY, limits=limits)
    with pytest.raises(MediaTooLarge):
        verify_video_file(src, KEY, None, limits=limits)
    # at the limit itself, all is well
    exact = Limits(max_video_pixels=384 * 256, max_video_seconds=2.0, max_video_frames=50)
    label_video_file(src, dst, settings(limits=exact))
    assert detect_video_file(dst, KEY, limits=exact).detected


def _frame(width: int, height: int, seconds: float) -> av.VideoFrame:
    frame = av.VideoFrame(width, height, "yuv420p")
    frame.pts, frame.time_base = round(seconds * 100), Fraction(1, 100)
    return frame


def test_frames_beyond_what_the_header_said_are_refused_as_they_come() -> None:
    limits = Limits(max_video_pixels=64 * 64, max_video_seconds=10.0, max_video_frames=3)
    budget = FrameBudget(limits)
    for index in range(3):
        budget.admit(_frame(64, 64, index))
    with pytest.raises(MediaTooLarge, match="more than 3 frames"):
        budget.admit(_frame(64, 64, 3))
    with pytest.raises(MediaTooLarge, match="pixels"):
        FrameBudget(limits).admit(_frame(128, 64, 0))  # a resolution change mid-stream
    with pytest.raises(MediaTooLarge, match="runs past"):
        FrameBudget(limits).admit(_frame(64, 64, 10.5))  # timestamps far beyond the declared duration


def test_the_default_limits_take_8k_and_four_hours() -> None:
    limits = Limits()
    assert limits.max_video_pixels == 8192 * 4320 >= 7680 * 4320
    assert limits.max_video_seconds == 4 * 3600 and limits.max_video_frames == 4 * 3600 * 60
