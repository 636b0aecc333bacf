from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from labeler.audio.codec import decode_audio
from labeler.cli import main
from labeler.errors import CorruptMedia, InvalidOption, MediaTooLarge
from labeler.pipeline import Labeler
from labeler.settings import LabelOptions, Limits
from labeler.store.registry import Registry
from labeler.verification import Verdict, Verifier
from labeler.watermark.keys import WatermarkKey
from tests.audio.audio_helpers import AUDIO_FORMATS, codec_roundtrip, encode, music_like

SR = 44100


@pytest.mark.parametrize(("name", "muxer", "codec", "bit_rate", "rate"), AUDIO_FORMATS)
def test_label_then_verify_every_container(
    name: str, muxer: str, codec: str, bit_rate: int | None, rate: int, key: WatermarkKey
) -> None:
    registry = Registry.open(":memory:")
    source = encode(music_like(12.0, rate, seed=7), rate, muxer, codec, bit_rate)
    result = Labeler(key, registry).label_bytes(source, LabelOptions(producer="acme", produce_id="a1"))
    assert result.format == name and result.audio is not None
    assert result.audio["prompt"] == {"kind": "morse", "at_end": False}
    report = Verifier(key, registry).verify_bytes(result.data)
    assert report.verdict is Verdict.CONFIRMED
    assert report.metadata.present and report.metadata.label_value == "1"
    assert report.metadata.fields is not None and report.metadata.fields["ProduceID"] == "a1"
    assert report.audio is not None and report.audio["prompt"]["present"]
    assert report.records and report.records[0].media_kind == "audio"
    as_dict = report.to_dict()
    assert as_dict["watermark"]["checked"] and as_dict["audio"]["sample_rate"] == rate
    if name != "ogg":
        # Known weakness: an Opus input decoded, marked and Opus-coded again loses too much of the mark on
        # this synthetic programme (docs/audio.md); the other containers must carry it.
        assert report.watermark.detected
        assert as_dict["watermark"]["watermark_id"] == f"{result.watermark_id:016x}"


def test_watermark_alone_survives_metadata_loss_and_mp3(key: WatermarkKey) -> None:
    registry = Registry.open(":memory:")
    source = encode(music_like(12.0, SR, seed=2), SR, "wav", "pcm_s16le")
    labeled = Labeler(key, registry).label_bytes(source, LabelOptions(produce_id="w1"))
    pcm = decode_audio(labeled.data, Limits()).pcm
    travelled = encode(codec_roundtrip(pcm, SR, "mp3", "libmp3lame", 128_000), SR, "mp3", "libmp3lame", 128_000)
    report = Verifier(key, registry).verify_bytes(travelled)
    assert not report.metadata.present
    assert report.watermark.detected and report.verdict is Verdict.CONFIRMED


def test_unlabelled_audio_gets_no_verdict(key: WatermarkKey) -> None:
    report = Verifier(key).verify_bytes(encode(music_like(11.0, SR), SR, "flac", "flac"))
    assert report.verdict is Verdict.NONE and not report.watermark.detected
    assert report.audio is not None and not report.audio["prompt"]["present"]


def test_options_switch_parts_off(key: WatermarkKey) -> None:
    source = encode(music_like(3.0, SR), SR, "wav", "pcm_s16le")
    result = Labeler(key).label_bytes(source, LabelOptions(visible=False, watermark=False))
    assert result.watermark_id is None and result.audio is not None and result.audio["prompt"] is None
    assert decode_audio(result.data, Limits()).pcm.shape[0] == decode_audio(source, Limits()).pcm.shape[0]
    with pytest.raises(InvalidOption):
        LabelOptions(audio_prompt="beep")


def test_corrupt_audio_is_a_labeler_error(key: WatermarkKey) -> None:
    with pytest.raises(CorruptMedia):
        Labeler(key).label_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(40))


def test_cli_label_and_verify_audio(tmp_path: Path, key_file: Path) -> None:
    source = tmp_path / "in.wav"
    source.write_bytes(encode(music_like(11.0, SR), SR, "wav", "pcm_s16le"))
    voice = tmp_path / "voice.wav"
    voice.write_bytes(encode(music_like(1.0, SR, channels=1, seed=3), SR, "wav", "pcm_s16le"))
    out = tmp_path / "out.wav"
    registry = tmp_path / "reg.sqlite3"
    common = ["--key-file", str(key_file), "--registry", str(registry)]
    assert main(["label", str(source), str(out), "--prompt", f"voice:{voice}", *common]) == 0
    assert main(["label", str(source), str(tmp_path / "o2.wav"), "--prompt-end", "--json", *common]) == 0

    import io

    buffer = io.StringIO()
    assert main(["verify", str(out), "--json", *common], out=buffer) == 0
    report = json.loads(buffer.getvalue())["results"][0]
    assert report["verdict"] == "confirmed" and report["watermark"]["detected"]
    assert report["metadata"]["location"] == "RIFF chunk AIGC"
    text = io.StringIO()
    assert main(["verify", str(tmp_path / "o2.wav"), *common], out=text) == 0
    assert "rhythm prompt present" in text.getvalue()
    assert np.isfinite(decode_audio(out.read_bytes(), Limits()).pcm).all()


def test_reads_another_providers_lowercase_nested_mp3_label() -> None:
    # Seen in the wild (MiniMax music): TXXX:aigc holding {"aigc": {...}}.
    import io

    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp3") as sink:
        sink.metadata["aigc"] = '{"aigc": {"Label": "1", "ContentProducer": "Other", "ProduceID": "06b9"}}'
        stream = sink.add_stream("libmp3lame", rate=SR, layout="stereo")
        assert isinstance(stream, av.AudioStream)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(music_like(1.0, SR).T), format="fltp", layout="stereo")
        frame.sample_rate = SR
        for packet in stream.encode(frame):
            sink.mux(packet)
        for packet in stream.encode(None):
            sink.mux(packet)
    report = Verifier(None).verify_bytes(buffer.getvalue())
    assert report.metadata.present and report.metadata.label_value == "1"
    assert report.metadata.location == "MP3 ID3v2 aigc" and report.verdict is Verdict.CONFIRMED
    assert not report.watermark.checked


@pytest.mark.parametrize(("name", "muxer", "codec", "bit_rate", "rate"), AUDIO_FORMATS)
def test_verify_file_reads_audio_from_the_path_with_the_same_report(
    name: str, muxer: str, codec: str, bit_rate: int | None, rate: int, key: WatermarkKey, tmp_path: Path
) -> None:
    # From the path, audio is decoded block by block and hashed in blocks, never read whole: max_bytes does
    # not apply (a file far over it is verified), and the report is the bytes route's, field for field.
    registry = Registry.open(":memory:")
    source = encode(music_like(12.0, rate, seed=8), rate, muxer, codec, bit_rate)
    labeled = Labeler(key, registry).label_bytes(source, LabelOptions(producer="acme", produce_id="p1")).data
    path = tmp_path / f"labeled.{name}"
    path.write_bytes(labeled)
    small = Limits(max_bytes=1024)
    from_path = Verifier(key, registry, small).verify_file(path).to_dict()
    from_bytes = Verifier(key, registry).verify_bytes(labeled, str(path)).to_dict()
    assert from_path == from_bytes
    assert from_path["metadata"]["present"] and from_path["verdict"] == "confirmed"
    with pytest.raises(MediaTooLarge):  # other media still go through the byte limit
        Verifier(key, registry, small).verify_file(_png(tmp_path))


def _png(folder: Path) -> Path:
    import cv2

    path = folder / "picture.png"
    cv2.imwrite(str(path), np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    return path
