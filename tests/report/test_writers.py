"""The auditor's HTML report, row by row."""

from __future__ import annotations

from pathlib import Path

import pytest

from labeler.report.writers import write_html


@pytest.mark.parametrize(("turns", "mirrored", "said"), [
    (0, False, None),
    (1, False, "the picture was turned 90° clockwise"),
    (2, True, "the picture was mirrored, then turned 180° clockwise"),
])
def test_a_files_row_says_how_a_marked_picture_had_been_turned_or_flipped(
    tmp_path: Path, turns: int, mirrored: bool, said: str | None,
) -> None:
    watermark = {"detected": True, "watermark_id": "0123456789abcdef", "false_positive_probability": 3e-14,
                 "right_angle_turns": turns, "mirrored": mirrored}
    write_html([{"source": "edited.jpg", "verdict": "confirmed", "reason": "watermark", "watermark": watermark}],
               tmp_path / "report.html")
    row = (tmp_path / "report.html").read_text(encoding="utf-8").split('<table id="files">')[1]
    assert "id 0123456789abcdef" in row
    assert ("the picture was" in row) == (said is not None)
    if said is not None:
        assert said in row
