"""A video's soundtrack: prompt laid over its opening, audio watermark, both found by verify, and the
audio mark alone enough for a confirmed verdict when the picture lost its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import av
import numpy as np
import pytest

from labeler.explicit.audio_prompt import PromptOptions, detect_prompt
from labeler.settings import LabelOptions
from labeler.store.registry import Registry
from labeler.video.labeling import label_video_path, video_record
from labeler.video.soundtrack import LabeledSoundtrack, _RawPcm, decode_soundtrack, prepare_soundtrack
from labeler.video.verifying import verify_video_file
from labeler.watermark.audio import detect_audio
from labeler.watermark.keys import WatermarkKey
from tests.video.clips import make_clip

KEY = WatermarkKey(b"video-test-key-0123456789abcdef")


class Labeled(NamedTuple):
    source: Path
    output: Path
    info: dict[str, Any]


@pytest.fixture(scope="module")
def labeled(tmp_path_factory: pytest.TempPathFactory) -> Labeled:
    folder = tmp_path_factory.mktemp("soundtrack")
    source = make_clip(folder / "in.mp4", frames=250, music=True)
    output = folder / "out.mp4"
    options = LabelOptions(producer="test", produce_id="soundtrack-1")  # fixed: the same ID every run
    return Labeled(source, output, label_video_path(source, output, KEY, options, force=True))


def test_the_soundtrack_is_labeled_and_stays_in_sync(labeled: Labeled) -> None:
    info = labeled.info
    assert info["audio"] == "reencoded" and info["soundtrack"]["prompt"] and info["soundtrack"]["watermarked"]
    before = decode_soundtrack(labeled.source)
    after = decode_soundtrack(labeled.output)
    assert before is not None and after is not None
    # same rate and (within one AAC priming frame) the same length: the prompt was laid over, not inserted
    assert before[1] == after[1] == 48000
    assert abs(before[0].shape[0] - after[0].shape[0]) <= 2048


def test_verify_finds_the_soundtrack_marks_and_none_on_the_original(labeled: Labeled) -> None:
    report = verify_video_file(labeled.output, KEY, None)
    sound = report["soundtrack"]
    info = labeled.info
    assert sound["prompt"]["at_start"] and sound["watermark"]["detected"]
    assert sound["watermark"]["watermark_id"] == info["watermark_id"] == report["watermark"]["watermark_id"]
    assert sound["watermark"]["false_positive_probability"] <= 1e-6
    assert any("audio watermark" in line for line in report["evidence"])
    original = verify_video_file(labeled.source, KEY, None)
    assert original["verdict"] == "none"
    assert not original["soundtrack"]["prompt"]["present"] and not original["soundtrack"]["watermark"]["detected"]


def _remux(picture: Path, sound: Path, target: Path) -> Path:
    """``picture``'s video stream with ``sound``'s audio stream, no container tags (stream copies)."""
    with av.open(str(picture)) as vin, av.open(str(sound)) as ain, av.open(str(target), "w") as out:
        video = out.add_stream_from_template(vin.streams.video[0])
        audio = out.add_stream_from_template(ain.streams.audio[0])
        for packet in vin.demux(vin.streams.video[0]):
            if packet.dts is not None:
                packet.stream = video
                out.mux(packet)
        for packet in ain.demux(ain.streams.audio[0]):
            if packet.dts is not None:
                packet.stream = audio
                out.mux(packet)
    return target


def test_the_audio_mark_alone_confirms_through_the_registry(labeled: Labeled, tmp_path: Path) -> None:
    # the unmarked picture of the original with the labeled soundtrack, tags gone
    mixed = _remux(labeled.source, labeled.output, tmp_path / "mixed.mp4")
    info = labeled.info
    with Registry.open(tmp_path / "registry.sqlite3") as registry:
        unrecorded = verify_video_file(mixed, KEY, registry)
        assert not unrecorded["watermark"]["detected"] and not unrecorded["metadata"]["present"]
        assert unrecorded["verdict"] == "suspected"
        registry.record(video_record(info, labeled.source, labeled.output, KEY))
        recorded = verify_video_file(mixed, KEY, registry)
    assert recorded["verdict"] == "confirmed" and recorded["registry"][0]["produce_id"] == info["produce_id"]


def test_a_chunk_from_another_stream_passes_through_untouched(tmp_path: Path) -> None:
    raw = _RawPcm(2, tmp_path)
    raw.append(np.ones((100, 2), np.float32))
    with LabeledSoundtrack(raw, 48000, prompt=True, watermark_id=1) as labeled:
        chunk = np.zeros((60, 2), np.float32)
        first = labeled(chunk, 48000)
        assert first is not chunk and np.all(first == 1.0)
        assert labeled(chunk, 48000) is chunk  # 60 + 60 > 100: past the end
        assert labeled(chunk, 44100) is chunk  # another rate: not the stream that was labeled
    assert raw.file.closed and list(tmp_path.iterdir()) == []  # the work file is unnamed and gone


def test_a_long_soundtrack_is_labeled_window_by_window_from_disk(tmp_path: Path) -> None:
    # 75 s: three 4-period windows (the last one absorbing the short tail), all on disk
    source = make_clip(tmp_path / "long.mp4", frames=75 * 25, width=256, height=256, music=True)
    soundtrack = prepare_soundtrack(source, 0xFEED, KEY, PromptOptions(), folder=tmp_path)
    assert soundtrack is not None
    with soundtrack:
        assert soundtrack.frames >= 74 * 48000 and soundtrack.prompt and soundtrack.watermark_id == 0xFEED
        labeled = soundtrack.raw.read(0, soundtrack.frames)
    original = decode_soundtrack(source)
    assert original is not None
    noise = labeled[: original[0].shape[0]] - original[0][: labeled.shape[0]]
    start = 3 * 48000  # after the prompt: the mark alone, 30 dB under the programme
    programme = np.sum(original[0][start:].astype(np.float64) ** 2)
    snr = 10 * np.log10(programme / np.sum(noise[start:].astype(np.float64) ** 2))
    assert snr >= 29.5
    found = detect_audio(labeled, 48000, KEY)
    assert found.watermark_id == 0xFEED and found.segments_detected >= 6
    assert detect_prompt(labeled, 48000).present_at_start


def test_soundtracks_too_long_to_label_are_left_alone(labeled: Labeled) -> None:
    assert prepare_soundtrack(labeled.source, 1, KEY, PromptOptions(), max_seconds=5.0) is None
    opening = decode_soundtrack(labeled.source, max_seconds=5.0)  # what verify reads
    assert opening is not None and 5.0 <= opening[0].shape[0] / opening[1] < 5.1
    decoded = decode_soundtrack(labeled.source)
    assert decoded is not None and decoded[0].dtype == np.float32 and decoded[0].shape[1] == 2


def test_a_soundtrack_that_cannot_be_written_back_is_copied(tmp_path: Path) -> None:
    # PCM in a MOV: no encoder to write a labeled soundtrack back with; the picture is still labeled
    source = make_clip(tmp_path / "in.mov", frames=50, audio="pcm_s16le", fmt="mov")
    output = tmp_path / "out.mov"
    info = label_video_path(source, output, KEY, LabelOptions(producer="test"), force=True)
    assert info["audio"] == "copy" and info["soundtrack"] is None
    with av.open(str(output)) as labeled:
        assert labeled.streams.audio[0].codec_context.name == "pcm_s16le"
    report = verify_video_file(output, KEY, None)
    assert report["watermark"]["detected"]
    assert report["soundtrack"] is not None and not report["soundtrack"]["watermark"]["detected"]  # still read
