from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest

from labeler.errors import CorruptMedia, InvalidOption, UnsupportedFormat
from labeler.settings import VisibleLabelOptions
from labeler.video.containers import MOV, MP4, WEBM, sniff_video
from labeler.video.transcode import (
    VideoLabelSettings,
    detect_video_file,
    label_video_file,
    read_aigc,
)
from labeler.watermark.keys import WatermarkKey
from tests.video.clips import corner_changes, make_clip, oriented_clip

KEY = WatermarkKey(b"video-test-key-0123456789abcdef")
WID = 0x0123456789ABCDEF


def settings(**kw: object) -> VideoLabelSettings:
    aigc = json.dumps({"Label": "1", "ProduceID": "t"})
    base: dict[str, object] = {"watermark_id": WID, "key": KEY, "aigc_json": aigc}
    base.update(kw)
    return VideoLabelSettings(**base)  # type: ignore[arg-type]


def test_sniff() -> None:
    assert sniff_video(b"\0\0\0\x20ftypisom" + b"\0" * 52) is MP4
    assert sniff_video(b"\0\0\0\x14ftypqt  " + b"\0" * 52) is MOV
    assert sniff_video(b"\0\0\0\x1cftypavif" + b"\0" * 52) is None
    assert sniff_video(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01B\x82\x84webm" + b"\0" * 40) is WEBM
    assert sniff_video(b"RIFF....WAVEfmt ") is None


def test_mp4_label_roundtrip(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "in.mp4", frames=75)
    dst = tmp_path / "out.mp4"
    result = label_video_file(src, dst, settings())
    assert (result.container, result.encoder, result.frames, result.audio) == ("mp4", "libx264", 75, "copy")
    assert read_aigc(dst) == {"Label": "1", "ProduceID": "t"}
    assert read_aigc(src) is None
    found = detect_video_file(dst, KEY)
    assert found.detected and found.watermark_id == WID
    assert [s.detected for s in found.segments] == [True, True, True]
    assert not detect_video_file(src, KEY).detected
    with av.open(str(dst)) as out, av.open(str(src)) as inp:
        assert out.streams.video[0].average_rate == inp.streams.video[0].average_rate
        assert (out.streams.video[0].width, out.streams.video[0].height) == (384, 256)
        assert out.streams.audio[0].codec_context.name == "aac"


def test_label_only_on_opening_seconds(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "in.mp4", frames=100, audio=None)
    dst = tmp_path / "out.mp4"
    label_video_file(src, dst, settings(label=VisibleLabelOptions(), crf=10))
    with av.open(str(src)) as a, av.open(str(dst)) as b:
        assert a.streams.video[0].frames == b.streams.video[0].frames == 100  # every frame kept
    labeled, later = corner_changes(src, dst, [10, 60])
    assert labeled > 3 * later + 5  # label drawn (bottom-right box)
    assert later < 5  # gone after 2 s (only the faint watermark remains)


def test_webm_vp9_with_soundtrack_processor(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "in.webm", codec="libvpx-vp9", frames=50, audio="libopus")
    dst = tmp_path / "out.webm"
    calls: list[int] = []

    def halve(pcm: np.ndarray, rate: int) -> np.ndarray:
        assert pcm.dtype == np.float32 and pcm.ndim == 2 and pcm.shape[1] == 2
        calls.append(rate)
        return pcm * 0.5

    result = label_video_file(src, dst, settings(), soundtrack=halve)
    assert result.audio == "reencoded" and calls and set(calls) == {48000}
    assert read_aigc(dst) is not None
    assert detect_video_file(dst, KEY).watermark_id == WID


def test_interrupt_leaves_no_partial_output(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "in.mp4", frames=50, audio=None)
    dst = tmp_path / "out.mp4"

    def interrupt(done: float, total: float) -> None:
        if done > 0.5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        label_video_file(src, dst, settings(), progress=interrupt)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_bad_inputs(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 10)
    with pytest.raises(UnsupportedFormat):
        label_video_file(junk, tmp_path / "o.mp4", settings())
    src = make_clip(tmp_path / "in.mp4", frames=25, audio=None)
    truncated = tmp_path / "trunc.mp4"
    truncated.write_bytes(src.read_bytes()[:300])
    with pytest.raises((CorruptMedia, UnsupportedFormat)):
        label_video_file(truncated, tmp_path / "o2.mp4", settings())
    assert not (tmp_path / "o2.mp4").exists()
    with pytest.raises(InvalidOption):
        settings(label_seconds=1.0)
    with pytest.raises(InvalidOption):
        settings(crf=99)


def test_cli_labels_video(tmp_path: Path) -> None:
    import io

    from labeler.cli import main

    src = make_clip(tmp_path / "in.mp4", frames=50, audio=None)
    dst = tmp_path / "out.mp4"
    out, err = io.StringIO(), io.StringIO()
    code = main(["label", str(src), str(dst), "--no-registry", "--no-watermark", "--json", "--crf", "30"], out, err)
    info = json.loads(out.getvalue())
    assert code == 0 and info["format"] == "mp4" and info["frames"] == 50 and info["watermark_id"] is None
    aigc = read_aigc(dst)
    assert aigc is not None and aigc["Label"] == "1"


def test_cli_verifies_video_with_registry_and_per_second_results(tmp_path: Path, key_file: Path) -> None:
    import io

    from labeler.cli import main

    def run(*argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        return main(list(argv), out, err), out.getvalue(), err.getvalue()

    src = make_clip(tmp_path / "in.mp4", frames=75, audio=None)
    dst = tmp_path / "out.mp4"
    registry = str(tmp_path / "registry.sqlite")
    code, _, err = run("label", str(src), str(dst), "--key-file", str(key_file), "--registry", registry,
                       "--crf", "23")
    assert code == 0, err
    code, out, err = run("verify", str(dst), str(src), "--key-file", str(key_file), "--registry", registry, "--json")
    assert code == 1, err  # the source carries no label
    labelled, plain = json.loads(out)["results"]
    assert labelled["verdict"] == "confirmed" and labelled["metadata"]["fields"]["Label"] == "1"
    assert labelled["watermark"]["detected"] and labelled["watermark"]["segments_detected"] >= 2
    assert plain["verdict"] == "none" and not plain["watermark"]["detected"]
    # Metadata stripped (a remux without tags): the watermark alone, found in the registry, confirms it.
    stripped = tmp_path / "stripped.mp4"
    with av.open(str(dst)) as inp, av.open(str(stripped), "w") as out_c:
        stream = out_c.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out_c.mux(packet)
    code, out, _ = run("verify", str(stripped), "--key-file", str(key_file), "--registry", registry, "--json")
    report = json.loads(out)["results"][0]
    assert not report["metadata"]["present"]
    assert report["verdict"] == "confirmed" and report["registry"], report["reason"]


def test_display_rotation_is_kept_and_the_label_is_upright(tmp_path: Path) -> None:
    src = oriented_clip(tmp_path / "portrait.mp4", 90)  # a phone's portrait clip: coded 384x256, displayed turned 90°
    dst = tmp_path / "out.mp4"
    label_video_file(src, dst, settings(label=VisibleLabelOptions(), crf=10))
    with av.open(str(src)) as a, av.open(str(dst)) as b:
        before, after = next(a.decode(video=0)), next(b.decode(video=0))
    assert after.rotation == before.rotation == 90
    # as displayed (turned 90° counter-clockwise), the label sits in the bottom-right corner
    shown = np.rot90(after.to_ndarray(format="gray").astype(float) - before.to_ndarray(format="gray"), 1)
    corner, other = np.abs(shown[-60:, -120:]).mean(), np.abs(shown[:60, :120]).mean()
    assert corner > 3 * other + 5
    from labeler.video.verifying import verify_video_file

    report = verify_video_file(dst, KEY, None)
    assert report["explicit_label"]["detected"] and report["explicit_label"]["corner"] == "bottom-right"


def _transformed(src: Path, dst: Path, transform: Callable[[np.ndarray], np.ndarray]) -> Path:
    """``src`` re-encoded with every picture passed through ``transform`` (no display matrix)."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        for index, frame in enumerate(inp.decode(video=0)):
            picture = np.ascontiguousarray(transform(frame.to_ndarray(format="rgb24")))
            if index == 0:
                stream.height, stream.width = picture.shape[:2]
                stream.pix_fmt = "yuv420p"
            changed = av.VideoFrame.from_ndarray(picture, format="rgb24")
            changed.pts = index
            out.mux(stream.encode(changed))
        out.mux(stream.encode(None))
    return dst


@pytest.mark.parametrize(("transform", "turns", "mirrored"), [
    pytest.param(lambda rgb: np.rot90(rgb, -1), 1, False, id="turn"),  # an autorotating transcode
    pytest.param(lambda rgb: rgb[:, ::-1], 0, True, id="flip"),
    pytest.param(lambda rgb: np.rot90(rgb[:, ::-1]), 3, True, id="flip+turn"),
    pytest.param(lambda rgb: rgb[:, ::-1][12:-12, 18:-18], 0, True, id="flip+crop"),  # the lattice search
    pytest.param(lambda rgb: np.rot90(rgb, -1)[18:-18, 12:-12], 1, False, id="turn+crop"),
])
def test_a_turned_or_mirrored_mark_is_found(tmp_path: Path, transform: Callable[[np.ndarray], np.ndarray],
                                            turns: int, mirrored: bool) -> None:
    """A transcode that applied a phone's display matrix (turned; mirrored for a front camera) to the
    pixels, a rotate or flip edit, and either of them cropped."""
    src = make_clip(tmp_path / "in.mp4", frames=50, audio=None)
    marked = tmp_path / "marked.mp4"
    label_video_file(src, marked, settings(label=None))
    found = detect_video_file(_transformed(marked, tmp_path / "edited.mp4", transform), KEY)
    assert found.detected and found.watermark_id == WID
    assert (found.right_angle_turns, found.mirrored) == (turns, mirrored)  # restored: turned back, then mirrored
    # the same edit of unmarked video claims nothing, and the bound counts every orientation tried
    plain = detect_video_file(_transformed(src, tmp_path / "plain.mp4", transform), KEY)
    assert not plain.detected and plain.hypotheses >= found.hypotheses


@pytest.mark.parametrize(("name", "codec", "fmt", "audio"), [
    ("hevc.mov", "libx265", "mov", "aac"),
    ("av1.mp4", "libsvtav1", "mp4", "libopus"),
    ("av1.webm", "libsvtav1", "webm", "libopus"),
    ("h264-mp3.mp4", "libx264", "mp4", "libmp3lame"),
])
def test_each_codec_is_kept_and_labeled(tmp_path: Path, name: str, codec: str, fmt: str, audio: str) -> None:
    if codec not in av.codecs_available:
        pytest.skip(f"{codec} is not in this FFmpeg build")
    src = make_clip(tmp_path / name, codec=codec, frames=50, audio=audio, fmt=fmt, music=True)
    dst = tmp_path / f"out-{name}"
    result = label_video_file(src, dst, settings(label=None))
    with av.open(str(src)) as a, av.open(str(dst)) as b:
        assert b.streams.video[0].codec_context.name == a.streams.video[0].codec_context.name
        assert b.streams.audio[0].codec_context.name == a.streams.audio[0].codec_context.name
    assert result.container == sniff_video(dst.read_bytes()[:64]).name  # type: ignore[union-attr]
    assert read_aigc(dst) == {"Label": "1", "ProduceID": "t"}
    assert detect_video_file(dst, KEY).watermark_id == WID


def test_label_on_the_closing_seconds_too(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "in.mp4", frames=150, audio=None)  # 6 s
    dst = tmp_path / "out.mp4"
    label_video_file(src, dst, settings(label=VisibleLabelOptions(), crf=10, label_end=True))
    with av.open(str(src)) as a, av.open(str(dst)) as b:
        assert a.streams.video[0].frames == b.streams.video[0].frames == 150
    opening, middle, closing = corner_changes(src, dst, [10, 75, 140])
    assert opening > 3 * middle + 5 and closing > 3 * middle + 5


@pytest.mark.parametrize(("codec", "fmt", "ten_bit_out"), [
    ("libx265", "mp4", True),
    ("libsvtav1", "mp4", True),
    ("libx264", "mp4", True),
])
def test_10_bit_input_stays_10_bit_and_is_labeled(tmp_path: Path, codec: str, fmt: str, ten_bit_out: bool) -> None:
    if codec not in av.codecs_available:
        pytest.skip(f"{codec} is not in this FFmpeg build")
    src = make_clip(tmp_path / "in.mp4", codec=codec, frames=75, audio=None, fmt=fmt, pix_fmt="yuv420p10le")
    dst = tmp_path / "out.mp4"
    label_video_file(src, dst, settings(label=VisibleLabelOptions(), crf=12))
    with av.open(str(dst)) as b:
        frame = next(b.decode(video=0))
        assert (frame.format.name == "yuv420p10le") is ten_bit_out
        samples = frame.to_ndarray()  # 10-bit code values, not 8-bit ones in 16-bit words
        assert samples.dtype == np.uint16 and samples.max() > 255
    labeled, later = corner_changes(src, dst, [10, 60])
    assert labeled > 3 * later + 5 and later < 5  # the visible label, in the opening 2 s only
    assert read_aigc(dst) == {"Label": "1", "ProduceID": "t"}
    assert detect_video_file(dst, KEY).watermark_id == WID


def test_10_bit_mark_is_the_8_bit_mark_times_four() -> None:
    from labeler.video.transcode import _mark_10bit
    from labeler.watermark.video import FrameMarker

    rng = np.random.default_rng(2)
    top = rng.integers(16, 236, (256, 384), dtype=np.uint8)
    deep = top.astype(np.uint16) * 4 + rng.integers(0, 2, top.shape, dtype=np.uint16)  # low bits below rounding
    marker = FrameMarker(WID, KEY)
    change8 = marker.mark(top).astype(np.int32) - top
    change10 = _mark_10bit(deep, marker).astype(np.int32) - deep
    np.testing.assert_array_equal(change10, change8 * 4)
