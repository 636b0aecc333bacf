from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labeler.errors import InvalidOption
from labeler.explicit.audio_prompt import (
    DUCK_GAIN,
    GAP_SECONDS,
    LEAD_SECONDS,
    SEARCH_SECONDS,
    UNIT_SECONDS,
    PromptEnds,
    PromptOptions,
    add_prompt,
    detect_prompt,
    morse_envelope,
    morse_prompt,
    overlay_prompt,
    programme_rms,
)
from tests.audio.audio_helpers import codec_roundtrip, music_like

SR = 44100


def test_morse_ai_timing() -> None:
    envelope = morse_envelope(1000)
    unit = round(UNIT_SECONDS * 1000)
    runs = []
    value, length = envelope[0], 0
    for sample in envelope:
        if sample == value:
            length += 1
        else:
            runs.append((bool(value), length // unit))
            value, length = sample, 1
    runs.append((bool(value), length // unit))
    # A = dot dash, letter gap of 3 units, I = dot dot.
    assert runs == [(True, 1), (False, 1), (True, 3), (False, 3), (True, 1), (False, 1), (True, 1)]
    total = morse_prompt(SR, 0.1).shape[0] / SR
    assert math.isclose(total, LEAD_SECONDS + 11 * UNIT_SECONDS + GAP_SECONDS, abs_tol=1e-3)


def test_prompt_level_matches_the_programme() -> None:
    programme = music_like(5.0, SR)
    prompted = add_prompt(programme, SR, PromptOptions())
    prompt = prompted[: prompted.shape[0] - programme.shape[0]]
    tone = prompt[np.abs(prompt[:, 0]) > 0][:, :1]
    tone_rms = math.sqrt(float(np.mean(np.square(tone[int(0.01 * SR) : -int(0.01 * SR)]))))
    assert abs(20 * math.log10(tone_rms / programme_rms(programme, SR))) < 2.0
    assert np.array_equal(prompted[-programme.shape[0] :], programme)  # inserted, never covering


def test_prompt_is_detected_at_start_and_end_even_after_mp3() -> None:
    programme = music_like(8.0, SR)
    prompted = add_prompt(programme, SR, PromptOptions(at_end=True))
    found = detect_prompt(codec_roundtrip(prompted, SR, "mp3", "libmp3lame", 64_000), SR)
    assert found.present_at_start and found.present_at_end
    assert found.start_seconds is not None and abs(found.start_seconds - LEAD_SECONDS) < 0.05


@pytest.mark.parametrize(
    "signal",
    [
        pytest.param(lambda: music_like(8.0, SR), id="music-like"),
        pytest.param(lambda: np.zeros((SR * 4, 2), dtype=np.float32), id="silence"),
        pytest.param(
            lambda: (0.3 * np.sin(2 * np.pi * 1000 * np.arange(4 * SR) / SR))[:, None].astype(np.float32),
            id="steady-1kHz-tone",
        ),
    ],
)
def test_no_prompt_is_reported_on_programme_without_one(signal) -> None:  # type: ignore[no-untyped-def]
    assert not detect_prompt(signal(), SR).present


def test_voice_prompt_is_level_matched_and_inserted() -> None:
    programme = music_like(3.0, SR)
    voice = music_like(1.0, SR, channels=1, seed=4) * np.float32(0.1)
    out = add_prompt(programme, SR, PromptOptions.parse("voice:x"), voice)
    assert out.shape[0] > programme.shape[0] + SR
    assert np.array_equal(out[-programme.shape[0] :], programme)


def test_prompt_options() -> None:
    assert PromptOptions.parse("none").kind == "none"
    assert PromptOptions.parse("voice:/tmp/v.wav").voice_path is not None
    with pytest.raises(InvalidOption):
        PromptOptions.parse("beep")
    with pytest.raises(InvalidOption):
        PromptOptions("voice")
    programme = music_like(1.0, SR)
    assert add_prompt(programme, SR, PromptOptions("none")) is programme


def test_overlay_keeps_the_length_ducks_the_programme_and_is_detected() -> None:
    music = music_like(8.0, SR)
    laid = overlay_prompt(music, SR, PromptOptions("morse", at_end=True))
    assert laid.shape == music.shape and laid.dtype == np.float32
    assert not detect_prompt(music, SR).present
    found = detect_prompt(laid, SR)
    assert found.present_at_start and found.present_at_end
    span = morse_prompt(SR, 0.1).shape[0]
    # the programme is untouched between the two prompts, ducked under them
    np.testing.assert_array_equal(laid[span : -span], music[span : -span])
    lead = int(LEAD_SECONDS * SR)
    np.testing.assert_allclose(laid[: lead // 2], music[: lead // 2] * DUCK_GAIN, atol=1e-6)
    assert music is not laid and not np.shares_memory(music, laid)


def test_overlay_leaves_a_programme_too_short_for_the_prompt_alone() -> None:
    short = music_like(0.5, SR)
    np.testing.assert_array_equal(overlay_prompt(short, SR, PromptOptions()), short)
    np.testing.assert_array_equal(overlay_prompt(short, SR, PromptOptions("none")), short)


def test_overlay_in_place_writes_the_same_samples_into_the_programme() -> None:
    music = music_like(4.0, SR)
    expected = overlay_prompt(music, SR, PromptOptions())
    target = music.copy()
    assert overlay_prompt(target, SR, PromptOptions(), in_place=True) is target
    np.testing.assert_array_equal(target, expected)


@settings(max_examples=60, deadline=None)
@given(
    frames=st.integers(1, 9 * 1000),
    blocks=st.lists(st.integers(1, 4000), min_size=1, max_size=8),
)
def test_prompt_ends_keep_exactly_what_detect_prompt_reads(frames: int, blocks: list[int]) -> None:
    rate = 1000  # SEARCH_SECONDS spans are 3000 frames: files under, between and over two spans
    pcm = np.arange(frames * 2, dtype=np.float32).reshape(frames, 2)
    ends = PromptEnds(rate)
    start, index = 0, 0
    while start < frames:
        size = blocks[index % len(blocks)]
        ends.feed(pcm[start : start + size])
        start, index = start + size, index + 1
    kept = ends.pcm()
    span = int(SEARCH_SECONDS * rate)
    if frames <= 2 * span:
        np.testing.assert_array_equal(kept, pcm)
    else:
        np.testing.assert_array_equal(kept, np.concatenate([pcm[:span], pcm[-span:]]))


def test_prompt_ends_give_detect_prompt_the_same_answer() -> None:
    programme = music_like(20.0, SR, seed=8)
    prompted = add_prompt(programme, SR, PromptOptions(at_end=True))
    ends = PromptEnds(SR)
    for start in range(0, prompted.shape[0], 12345):
        ends.feed(prompted[start : start + 12345])
    assert detect_prompt(ends.pcm(), SR) == detect_prompt(prompted, SR)
    assert detect_prompt(ends.pcm(), SR).present_at_end
