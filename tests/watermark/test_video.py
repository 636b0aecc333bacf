"""The video watermark detector: key frames, every frame, the lattice search and the union bound."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from labeler.video.transcode import VideoLabelSettings, detect_video_file, label_video_file
from labeler.watermark.keys import WatermarkKey
from labeler.watermark.video import FrameSample, detect_frames
from tests.video.clips import make_clip

KEY = WatermarkKey(b"video-test-key-0123456789abcdef")
WID = 0x0123456789ABCDEF


def _reencode(source: Path, target: Path, crf: int, keep_area: float = 1.0, gop: int | None = None) -> Path:
    """x264 at ``crf`` (default key-frame interval), optionally cropped off-centre to ``keep_area``."""
    with av.open(str(source)) as inp, av.open(str(target), "w") as out:
        vin = inp.streams.video[0]
        height, width = vin.codec_context.height, vin.codec_context.width
        crop_h = int(height * keep_area**0.5) // 2 * 2
        crop_w = int(width * keep_area**0.5) // 2 * 2
        top, left = (height - crop_h) // 2, (width - crop_w) // 3
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = crop_w, crop_h, "yuv420p"
        stream.options = {"crf": str(crf)} | ({"g": str(gop)} if gop else {})
        for index, frame in enumerate(inp.decode(vin)):
            rgb = frame.to_ndarray(format="rgb24")[top : top + crop_h, left : left + crop_w]
            picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            picture.pts = index
            out.mux(stream.encode(picture))
        out.mux(stream.encode(None))
    return target


def _samples(path: Path, flag_key_frames: bool = True) -> list[FrameSample]:
    with av.open(str(path)) as inp:
        return [FrameSample(float(f.time or 0.0), f.to_ndarray(format="gray"), flag_key_frames and bool(f.key_frame))
                for f in inp.decode(video=0)]


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("video-wm")
    source = make_clip(folder / "in.mp4", frames=75, audio=None)
    marked = folder / "marked.mp4"
    label_video_file(source, marked, VideoLabelSettings(WID, KEY, None, label=None))
    return {"source": source, "marked": marked, "crf32": _reencode(marked, folder / "crf32.mp4", 32),
            "crop90": _reencode(marked, folder / "crop90.mp4", 23, keep_area=0.9)}


def test_key_frames_keep_the_mark_that_predicted_frames_of_a_pan_lose(clips: dict[str, Path]) -> None:
    # A panning clip re-encoded at CRF 32: the average of every frame is not enough on its own...
    every_frame = detect_frames(_samples(clips["crf32"], flag_key_frames=False), KEY)
    assert not every_frame.detected
    # ...the key frame's plane is.
    found = detect_frames(_samples(clips["crf32"]), KEY)
    assert found.detected and found.watermark_id == WID
    assert found.key_frames_sampled >= 1 and found.frames_sampled == 75
    assert found.false_positive_probability <= 1e-6


def test_a_cropped_video_is_found_by_the_lattice_search(clips: dict[str, Path]) -> None:
    samples = _samples(clips["crop90"])
    assert not detect_frames(samples, KEY, geometry_search=False).detected
    found = detect_frames(samples, KEY)
    assert found.detected and found.watermark_id == WID
    assert found.hypotheses > 1  # the unchanged geometry failed first, and the bound counts it
    assert any(s.detected for s in found.segments)


def test_unmarked_video_is_not_claimed_and_every_hypothesis_is_counted(clips: dict[str, Path]) -> None:
    found = detect_frames(_samples(clips["source"]), KEY, prior_hypotheses=3)
    assert not found.detected and found.watermark_id is None and found.false_positive_probability == 1.0
    # identity for the key-frame and every-frame planes, then their lattice candidates, plus the prior
    assert found.hypotheses >= 3 + 2 + 2
    assert not any(s.detected for s in found.segments)


def test_a_wrong_key_finds_nothing(clips: dict[str, Path]) -> None:
    assert not detect_frames(_samples(clips["marked"]), WatermarkKey(b"another-key-0123456789abcdefghij")).detected


def test_long_videos_are_verified_from_key_frames_first(clips: dict[str, Path]) -> None:
    full = detect_video_file(clips["crf32"], KEY, key_frame_first_seconds=60.0)
    quick = detect_video_file(clips["crf32"], KEY, key_frame_first_seconds=0.0)
    assert full.watermark_id == quick.watermark_id == WID
    assert quick.frames_sampled == quick.key_frames_sampled < full.frames_sampled
    # nothing in the key frames: the full pass runs and its bound includes the key-frame pass
    miss = detect_video_file(clips["source"], KEY, key_frame_first_seconds=0.0)
    alone = detect_video_file(clips["source"], KEY, key_frame_first_seconds=60.0)
    assert not miss.detected and miss.frames_sampled == alone.frames_sampled
    assert miss.hypotheses > alone.hypotheses


def test_an_all_intra_video_is_sampled_not_read_whole(clips: dict[str, Path], tmp_path: Path) -> None:
    intra = _reencode(clips["marked"], tmp_path / "intra.mp4", 23, gop=1)  # every frame a key frame
    found = detect_video_file(intra, KEY, max_frames=10)
    assert found.watermark_id == WID
    # at most max_frames spread by index plus max_frames key frames spread by time, of 75 frames
    assert found.frames_sampled <= 2 * 10 + 2


def test_the_marker_reusing_its_scratch_planes_marks_exactly_as_embed_luma_plane() -> None:
    # The marker keeps its temporaries between frames (no per-frame heap churn); every frame must still
    # get exactly the mark embed_luma_plane gives it alone, across content and resolution changes.
    from labeler.watermark.image import embed_luma_plane, working_pattern
    from labeler.watermark.video import FrameMarker

    key = WatermarkKey(bytes(range(32)))
    marker = FrameMarker(7, key)
    rng = np.random.default_rng(3)
    for height, width in [(720, 1280), (720, 1280), (1080, 1920), (720, 1280), (540, 960)]:
        luma = cv2.GaussianBlur(rng.integers(0, 256, (height, width), dtype=np.uint8), (0, 0), 2.0)
        expected = embed_luma_plane(luma, working_pattern(7, key, height, width))
        np.testing.assert_array_equal(marker.mark(luma), expected)
