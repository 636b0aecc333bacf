"""Display matrices: read as quarter turns + mirror, copied to the output, the label upright as displayed."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from labeler.settings import VisibleLabelOptions
from labeler.video.orientation import Orientation, frame_orientation, orientation_of_matrix
from labeler.video.transcode import VideoLabelSettings, label_video_file
from labeler.video.verifying import verify_video_file
from labeler.watermark.keys import WatermarkKey
from tests.video.clips import oriented_clip

KEY = WatermarkKey(b"video-test-key-0123456789abcdef")

EIGHT = [(degrees, mirrored) for degrees in (0, 90, 180, 270) for mirrored in (False, True)]


def _first_frame(path: Path) -> av.VideoFrame:
    with av.open(str(path)) as container:
        return next(container.decode(video=0))


def _autorotate(frame: av.VideoFrame, matrix: tuple[int, ...]) -> np.ndarray:
    """What ffmpeg shows: its autorotation filters for the matrix (fftools/ffmpeg_filter.c,
    configure_input_video_filter), run by FFmpeg's own filters."""
    theta = -round(float(np.degrees(-np.arctan2(matrix[1], matrix[0])))) % 360  # get_rotation(): clockwise
    if theta == 90:
        chain = [("transpose", "cclock_flip" if matrix[3] > 0 else "clock")]
    elif theta == 180:
        chain = ([("hflip", "")] if matrix[0] < 0 else []) + ([("vflip", "")] if matrix[4] < 0 else [])
    elif theta == 270:
        chain = [("transpose", "clock_flip" if matrix[3] < 0 else "cclock")]
    else:
        chain = [("vflip", "")] if matrix[4] < 0 else []
    graph = av.filter.Graph()
    node = graph.add_buffer(width=frame.width, height=frame.height, format="gray", time_base=frame.time_base)
    source = node
    for name, argument in chain:
        step = graph.add(name, argument) if argument else graph.add(name)
        node.link_to(step)
        node = step
    sink = graph.add("buffersink")
    node.link_to(sink)
    graph.configure()
    grey = frame.reformat(format="gray")
    source.push(grey)
    return np.asarray(sink.pull().to_ndarray())


@pytest.mark.parametrize(("degrees", "mirrored"), EIGHT)
def test_the_eight_orientations_are_read_as_ffmpeg_shows_them(tmp_path: Path, degrees: int, mirrored: bool) -> None:
    frame = _first_frame(oriented_clip(tmp_path / "in.mp4", degrees, mirrored, frames=1))
    found = frame_orientation(frame)
    if degrees == 0 and not mirrored:  # nothing to record
        assert found == Orientation()
        return
    assert (found.turns, found.mirrored) == (degrees // 90, mirrored)
    assert found.matrix is not None
    coded = frame.to_ndarray(format="gray")
    coded[:40, :20] = 255  # an asymmetric mark, so every turn and mirror shows
    marked = av.VideoFrame.from_ndarray(coded, format="gray")
    marked.time_base = frame.time_base
    assert np.array_equal(found.to_displayed(coded), _autorotate(marked, found.matrix))


def test_an_odd_angle_snaps_to_the_nearest_quarter_turn() -> None:
    c, s = np.cos(np.radians(80)), np.sin(np.radians(80))  # 80° counter-clockwise, written as FFmpeg does
    matrix = (round(c * 65536), round(-s * 65536), 0, round(s * 65536), round(c * 65536), 0, 0, 0, 1 << 30)
    assert (orientation_of_matrix(matrix).turns, orientation_of_matrix(matrix).mirrored) == (1, False)


@pytest.mark.parametrize(("degrees", "mirrored"), [(0, True), (90, True), (270, False)])
def test_the_display_matrix_is_copied_and_the_label_reads_upright(
    tmp_path: Path, degrees: int, mirrored: bool,
) -> None:
    src = oriented_clip(tmp_path / "in.mp4", degrees, mirrored)
    dst = tmp_path / "out.mp4"
    label_video_file(src, dst, VideoLabelSettings(None, None, "{}", label=VisibleLabelOptions(), crf=10))
    before, after = _first_frame(src), _first_frame(dst)
    assert frame_orientation(after) == frame_orientation(before)
    shown = frame_orientation(after).to_displayed(
        after.to_ndarray(format="gray").astype(float) - before.to_ndarray(format="gray"))
    # as displayed, the label sits in the bottom-right corner...
    corner, other = np.abs(shown[-60:, -120:]).mean(), np.abs(shown[:60, :120]).mean()
    assert corner > 3 * other + 5
    # ...and reads the right way round: verify finds it there (the detector matches the text's shape)
    report = verify_video_file(dst, KEY, None)
    assert report["explicit_label"]["detected"] and report["explicit_label"]["corner"] == "bottom-right"
