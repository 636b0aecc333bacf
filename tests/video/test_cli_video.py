"""`labeler label clip.mp4`: the summary, and a progress bar only on a terminal."""

from __future__ import annotations

import io
from pathlib import Path

from labeler.video.cli_video import _progress_bar
from tests.test_cli import run
from tests.video.clips import make_clip


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal() -> None:
    for stream, expected in ((_Terminal(), True), (io.StringIO(), False)):
        update, finish = _progress_bar(stream)
        update(2.5, 10.0)  # type: ignore[operator]
        update(10.0, 10.0)  # type: ignore[operator]
        finish()  # type: ignore[operator]
        text = stream.getvalue()
        assert ("100%" in text and text.endswith("\n")) is expected and (text == "") is not expected


def test_label_summary_names_the_soundtrack_labels(tmp_path: Path, key_file: Path) -> None:
    clip = make_clip(tmp_path / "clip.mp4", frames=50, music=True)
    code, stdout, stderr = run("label", clip, tmp_path / "out.mp4", "--key-file", key_file, "--no-registry")
    assert code == 0, stderr
    assert "\r[" not in stderr  # not a terminal: no bar in logs
    assert "soundtrack" in stdout and "rhythm prompt" in stdout and "audio watermark" in stdout
