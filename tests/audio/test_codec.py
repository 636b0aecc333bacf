from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labeler.audio.codec import (
    decode_audio,
    encode_audio,
    read_audio_tags,
    riff_text_chunks,
    sniff_audio,
)
from labeler.errors import CorruptMedia, EmptyMedia, MediaTooLarge, UnsupportedFormat
from labeler.settings import Limits
from tests.audio.audio_helpers import encode, music_like

AIGC = json.dumps({"Label": "1", "ContentProducer": "acme", "ProduceID": "p1"}, separators=(",", ":"))

# (container name, muxer, codec, bit rate, sample rate, channels)
CASES = [
    ("wav", "wav", "pcm_s16le", None, 44100, 2),
    ("wav", "wav", "pcm_s24le", None, 96000, 1),
    ("wav", "wav", "pcm_f32le", None, 8000, 2),
    ("flac", "flac", "flac", None, 48000, 2),
    ("flac", "flac", "flac", None, 22050, 1),
    ("mp3", "mp3", "libmp3lame", 128_000, 44100, 2),
    ("mp3", "mp3", "libmp3lame", 64_000, 16000, 1),
    ("m4a", "ipod", "aac", 128_000, 44100, 2),
    ("ogg", "ogg", "libopus", 64_000, 48000, 2),
]


@pytest.mark.parametrize(("name", "muxer", "codec", "bit_rate", "rate", "channels"), CASES)
def test_round_trip_keeps_the_container_and_carries_the_aigc_label(
    name: str, muxer: str, codec: str, bit_rate: int | None, rate: int, channels: int
) -> None:
    source = encode(music_like(2.0, rate, channels), rate, muxer, codec, bit_rate)
    decoded = decode_audio(source, Limits())
    assert decoded.container.name == name and decoded.channels == channels
    assert decoded.pcm.dtype == np.float32 and abs(decoded.duration - 2.0) < 0.1
    output = encode_audio(decoded, decoded.pcm, AIGC)
    again = decode_audio(output, Limits())
    assert sniff_audio(output) is decoded.container
    assert again.sample_rate == decoded.sample_rate and again.channels == channels
    assert again.codec == decoded.codec and again.sample_format == decoded.sample_format
    assert abs(again.duration - decoded.duration) < 0.1
    tags = read_audio_tags(output, again.container)
    assert AIGC in tags.values(), tags
    if bit_rate is not None and name != "ogg":
        assert (again.bit_rate or 0) >= bit_rate * 0.95


def test_wav_label_is_a_dedicated_riff_chunk() -> None:
    decoded = decode_audio(encode(music_like(1.0), 44100, "wav", "pcm_s16le"), Limits())
    output = encode_audio(decoded, decoded.pcm, AIGC)
    assert riff_text_chunks(output)["RIFF chunk AIGC"] == AIGC
    assert int.from_bytes(output[4:8], "little") == len(output) - 8


def test_existing_tags_are_kept_and_an_old_aigc_replaced() -> None:
    decoded = decode_audio(encode(music_like(1.0), 44100, "flac", "flac"), Limits())
    decoded.tags.update({"title": "Song", "AIGC": '{"Label":"3"}'})
    tags = read_audio_tags(encode_audio(decoded, decoded.pcm, AIGC), decoded.container)
    assert tags["FLAC Vorbis comment title"] == "Song"
    assert tags["FLAC Vorbis comment AIGC"] == AIGC


def test_empty_and_garbage_input() -> None:
    with pytest.raises(EmptyMedia):
        decode_audio(b"", Limits())
    with pytest.raises(UnsupportedFormat):
        decode_audio(b"hello world, not audio at all" * 10, Limits())
    with pytest.raises(CorruptMedia):
        decode_audio(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(40), Limits())


@pytest.mark.parametrize(("muxer", "codec"), [("wav", "pcm_s16le"), ("flac", "flac"), ("mp3", "libmp3lame")])
def test_truncated_files_fail_cleanly_or_decode_what_is_there(muxer: str, codec: str) -> None:
    data = encode(music_like(1.0), 44100, muxer, codec, 128_000 if codec == "libmp3lame" else None)
    for cut in (12, 60, len(data) // 2):
        try:
            decoded = decode_audio(data[:cut], Limits())
        except (CorruptMedia, EmptyMedia, UnsupportedFormat):
            continue
        assert decoded.pcm.shape[0] > 0 and np.isfinite(decoded.pcm).all()


def test_duration_limit() -> None:
    data = encode(music_like(3.0), 44100, "flac", "flac")
    with pytest.raises(MediaTooLarge):
        decode_audio(data, Limits(max_audio_seconds=1.0))


def test_sample_rates_outside_the_supported_range() -> None:
    data = encode(music_like(1.0, 4000, 1), 4000, "wav", "pcm_s16le")
    with pytest.raises(UnsupportedFormat):
        decode_audio(data, Limits())


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=400))
def test_metadata_readers_never_raise_on_junk(blob: bytes) -> None:
    for prefix in (b"", b"RIFF\x00\x00\x00\x00WAVE", b"ID3\x04\x00\x00\x00\x00\x00\x10", b"fLaC", b"OggS"):
        data = prefix + blob
        container = sniff_audio(data)
        if container is not None:
            read_audio_tags(data, container)
        riff_text_chunks(data)
