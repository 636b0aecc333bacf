"""Propagate for audio (images: tests/service; video: tests/video/test_propagating.py): the verdict's Label
value, the platform's fields beside the producer's, the rhythm prompt added once, nothing for "none"."""

from __future__ import annotations

import pytest

from labeler.audio.codec import decode_audio, sniff_audio
from labeler.audio.pipeline import read_audio_aigc
from labeler.demo_media import encode_audio, music_sample
from labeler.explicit.audio_prompt import detect_prompt
from labeler.pipeline import Labeler
from labeler.propagate import PropagateOptions, propagate_bytes
from labeler.settings import LabelOptions, Limits
from labeler.verification import Verifier
from labeler.watermark.keys import WatermarkKey

KEY = WatermarkKey(b"propagate-test-key-0123456789abc")


@pytest.fixture(scope="module")
def music() -> bytes:
    return encode_audio(music_sample(6.0), "wav", "pcm_s16le")


def _seconds(data: bytes) -> float:
    container = sniff_audio(data)
    assert container is not None
    return decode_audio(data, Limits(), container).duration


def _tag(data: bytes) -> dict[str, str]:
    container = sniff_audio(data)
    assert container is not None
    reading = read_audio_aigc(data, container)
    assert reading is not None and reading.parsed.label is not None
    return reading.parsed.label.to_dict()


def test_labeled_audio_keeps_its_prompt_and_gains_the_platform_fields(music: bytes) -> None:
    labeled = Labeler(KEY, None).label_bytes(music, LabelOptions(producer="maker", produce_id="job-3"), record=False)
    outcome = propagate_bytes(labeled.data, Verifier(KEY, None), PropagateOptions("PLATFORM-A", "up-3"))
    assert outcome.verdict.value == "confirmed" and outcome.media_changed and outcome.label_text == "AI生成"
    tag = _tag(outcome.data)
    assert (tag["ContentProducer"], tag["ProduceID"], tag["Label"]) == ("maker", "job-3", "1")
    assert (tag["ContentPropagator"], tag["PropagateID"]) == ("PLATFORM-A", "up-3")
    # the producer's prompt is already there: not inserted twice
    assert abs(_seconds(outcome.data) - _seconds(labeled.data)) < 0.05


def test_declared_audio_gets_label_2_and_the_prompt(music: bytes) -> None:
    outcome = propagate_bytes(music, Verifier(KEY, None), PropagateOptions("P", user_declared=True))
    assert outcome.verdict.value == "possible" and outcome.label_text == "可能为AI生成"
    tag = _tag(outcome.data)
    assert tag["Label"] == "2" and tag["ContentProducer"] == "" and tag["ContentPropagator"] == "P"
    assert _seconds(outcome.data) > _seconds(music) + 1.0
    container = sniff_audio(outcome.data)
    assert container is not None
    decoded = decode_audio(outcome.data, Limits(), container)
    assert detect_prompt(decoded.pcm, decoded.sample_rate).present_at_start


def test_audio_with_nothing_to_label_comes_back_unchanged(music: bytes) -> None:
    outcome = propagate_bytes(music, Verifier(KEY, None), PropagateOptions("P"))
    assert outcome.verdict.value == "none" and not outcome.media_changed and outcome.data == music
