"""Propagate for video: the verdict decides the explicit label and the Label value; the platform's
fields join the producer's; nothing to label means a byte-identical copy; the source is never touched."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from labeler.errors import InvalidOption
from labeler.propagate import PropagateOptions
from labeler.settings import LabelOptions
from labeler.video.labeling import label_video_path
from labeler.video.propagating import propagate_video_file
from labeler.video.transcode import read_aigc
from labeler.video.verifying import verify_video_file
from labeler.watermark.keys import WatermarkKey
from tests.video.clips import corner_changes, make_clip

KEY = WatermarkKey(b"video-test-key-0123456789abcdef")
PLATFORM = PropagateOptions("PLATFORM-V", "upload-7")


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("propagate")
    source = make_clip(folder / "in.mp4", frames=75)
    labeled = folder / "labeled.mp4"
    label_video_path(source, labeled, KEY, LabelOptions(producer="maker", produce_id="job-9"), force=True)
    return {"source": source, "labeled": labeled}


def test_a_labeled_video_gets_the_platform_fields_and_ai_label(clips: dict[str, Path], tmp_path: Path) -> None:
    before = hashlib.sha256(clips["labeled"].read_bytes()).hexdigest()
    out = tmp_path / "propagated.mp4"
    outcome = propagate_video_file(clips["labeled"], out, KEY, None, PLATFORM)
    assert outcome.verdict.value == "confirmed" and outcome.label_text == "AI生成" and outcome.media_changed
    tag = read_aigc(out)
    assert tag is not None
    assert (tag["ContentProducer"], tag["ProduceID"], tag["Label"]) == ("maker", "job-9", "1")
    assert (tag["ContentPropagator"], tag["PropagateID"]) == ("PLATFORM-V", "upload-7")
    assert hashlib.sha256(clips["labeled"].read_bytes()).hexdigest() == before
    assert outcome.output_sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    # the producer's watermark survives the platform's re-encode; the platform adds none of its own
    report = verify_video_file(out, KEY, None)
    assert report["watermark"]["watermark_id"] == outcome.report["watermark"]["watermark_id"]
    assert report["metadata"]["fields"]["ContentPropagator"] == "PLATFORM-V"


def test_a_declared_video_gets_the_possible_label(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "declared.mp4"
    outcome = propagate_video_file(clips["source"], out, KEY, None, PropagateOptions("P", user_declared=True))
    assert outcome.verdict.value == "possible" and outcome.label_text == "可能为AI生成"
    tag = read_aigc(out)
    assert tag is not None and tag["Label"] == "2" and tag["ContentProducer"] == "" and tag["ContentPropagator"] == "P"
    assert len(tag["PropagateID"]) == 32  # generated when the platform gives none
    # the label is drawn on the opening seconds only
    opening, later = corner_changes(clips["source"], out, [10, 65])
    assert opening > 3 * later + 5


def test_nothing_to_label_is_a_byte_identical_copy(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "copy.mp4"
    outcome = propagate_video_file(clips["source"], out, KEY, None, PLATFORM)
    assert outcome.verdict.value == "none" and outcome.label_text is None and not outcome.media_changed
    assert out.read_bytes() == clips["source"].read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["copy.mp4"]  # no temp file left behind


def test_the_source_cannot_be_the_output(clips: dict[str, Path]) -> None:
    with pytest.raises(InvalidOption):
        propagate_video_file(clips["source"], clips["source"], KEY, None, PLATFORM, force=True)
