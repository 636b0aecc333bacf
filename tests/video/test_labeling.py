"""Routing between the video and audio paths: MP4 and Matroska also carry sound-only files."""

from __future__ import annotations

import io
import json
from pathlib import Path

from labeler.cli import main
from labeler.video.labeling import is_video_file
from tests.audio.audio_helpers import encode, music_like
from tests.video.clips import make_clip


def test_is_video_file_looks_at_the_streams(tmp_path: Path) -> None:
    pcm = music_like(1.0, 44100, 2)
    m4a = tmp_path / "a.m4a"
    m4a.write_bytes(encode(pcm, 44100, "ipod", "aac"))  # brand "M4A "
    isom = tmp_path / "a.mp4"
    isom.write_bytes(encode(pcm, 44100, "mp4", "aac"))  # brand "isom", sound only
    assert isom.read_bytes()[8:12] != b"M4A "
    webm_audio = tmp_path / "a.webm"
    webm_audio.write_bytes(encode(pcm, 44100, "webm", "libopus"))
    assert not is_video_file(m4a) and not is_video_file(isom) and not is_video_file(webm_audio)
    assert is_video_file(make_clip(tmp_path / "v.mp4", frames=5))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(make_clip(tmp_path / "w.mp4", frames=5).read_bytes()[:64] + bytes(1000))
    assert is_video_file(broken)  # unreadable: the video path reports it as corrupt
    assert not is_video_file(tmp_path / "missing.mp4")


def test_label_cli_takes_m4a_through_the_audio_path(tmp_path: Path, key_file: Path) -> None:
    source = tmp_path / "speech.m4a"
    source.write_bytes(encode(music_like(2.0, 44100, 1), 44100, "ipod", "aac"))
    output = tmp_path / "labeled.m4a"
    out, err = io.StringIO(), io.StringIO()
    status = main(["label", str(source), str(output), "--producer", "p", "--key-file", str(key_file),
                   "--no-registry", "--json"], out, err)
    assert status == 0, err.getvalue()
    info = json.loads(out.getvalue())
    assert info["format"] == "m4a" and info["audio"] is not None
    assert output.read_bytes()[4:8] == b"ftyp"
