"""`make demo` end to end: every sample (images, synthesised audio and video) labeled, verified, and
verified again after its trip, with the verdict it should get."""

from __future__ import annotations

from pathlib import Path

import pytest

from labeler import demo


def test_the_demo_gets_every_verdict_it_expects(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert demo.main(["--out", str(tmp_path)]) == 0
    table = capsys.readouterr().out
    assert "all verdicts as expected" in table
    for name in ("sunset.jpg", "music.wav", "music.mp3", "clip.mp4"):
        assert name in table
    # labeled, travelled and turned+travelled copies of 3 images; labeled and travelled audio and video
    assert table.count("confirmed") >= 13
    assert table.count("turned 90°, travelled") == 3
    assert (tmp_path / "travelled" / "clip.mp4").is_file() and (tmp_path / "travelled" / "music.mp3").is_file()
    assert (tmp_path / "travelled" / "sunset-turned.jpg").is_file()
