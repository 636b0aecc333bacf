"""The one-call Python API (labeler.label / verify / label_video / verify_video)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import labeler
from labeler.errors import UnsupportedFormat
from labeler.settings import LabelOptions
from labeler.watermark.keys import WatermarkKey
from tests.video.clips import make_clip


def test_images_round_trip_through_the_one_call_api(make_image: Callable[..., Path], key: WatermarkKey,
                                                    registry_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    result = labeler.label(make_image("png"), out, LabelOptions(producer="api"), key=key, registry=registry_path)
    report = labeler.verify(out, key=key, registry=registry_path)
    assert report.verdict.value == "confirmed" and report.records[0].produce_id == result.produce_id


def test_videos_have_their_own_streaming_helpers(key: WatermarkKey, registry_path: Path, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mp4", frames=50)
    with pytest.raises(UnsupportedFormat, match="label_video"):
        labeler.label(clip, tmp_path / "wrong.mp4", key=key, registry=registry_path)
    with pytest.raises(UnsupportedFormat, match="verify_video"):
        labeler.verify(clip, key=key, registry=registry_path)
    info = labeler.label_video(clip, tmp_path / "out.mp4", LabelOptions(producer="api"), key=key,
                               registry=registry_path)
    report = labeler.verify_video(tmp_path / "out.mp4", key=key, registry=registry_path)
    assert report["verdict"] == "confirmed" and report["registry"][0]["produce_id"] == info["produce_id"]
    assert report["watermark"]["watermark_id"] == info["watermark_id"]


def test_audio_files_are_labeled_streamed(key: WatermarkKey, registry_path: Path, tmp_path: Path) -> None:
    import hashlib

    from tests.audio.audio_helpers import encode, music_like

    source = tmp_path / "in.flac"
    source.write_bytes(encode(music_like(6.0, 44100), 44100, "flac", "flac"))
    out = tmp_path / "out.flac"
    result = labeler.label(source, out, LabelOptions(producer="api"), key=key, registry=registry_path)
    assert result.data == b"" and result.audio is not None  # streamed path to path: the output is on disk
    assert result.output_sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    report = labeler.verify(out, key=key, registry=registry_path)
    assert report.verdict.value == "confirmed" and report.records[0].produce_id == result.produce_id
