"""Audit report writers: JSON lines, CSV and the self-contained HTML report."""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from labeler.errors import OutputNotWritable
from labeler.orientation import Orientation
from labeler.report.audit import verdict_counts

__all__ = ["CSV_COLUMNS", "heatmap_png", "write_csv", "write_html", "write_jsonl", "write_reports"]

CSV_COLUMNS = (
    "source", "verdict", "reason", "error_code", "error_message", "format", "width", "height", "sha256",
    "metadata_present", "watermark_detected", "watermark_id", "watermark_score", "c2pa_state", "produce_id",
    "content_producer",
)
_VISUAL_KEYS = ("thumbnail", "visible_label_crop", "strength_map")


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputNotWritable(f"cannot write report {path}: {exc}") from exc


def write_jsonl(entries: Sequence[dict[str, Any]], path: Path) -> None:
    """One JSON object per file (without the inline images, which only the HTML report needs)."""
    lines = [json.dumps({k: v for k, v in e.items() if k not in _VISUAL_KEYS}, ensure_ascii=False) for e in entries]
    _atomic_write(path, "".join(line + "\n" for line in lines))


def _csv_row(e: dict[str, Any]) -> dict[str, Any]:
    err = e.get("error") or {}
    wm = e.get("watermark") or {}
    reg = (e.get("registry") or [{}])[0]
    return {
        "source": e.get("source"), "verdict": "error" if err else e.get("verdict"), "reason": e.get("reason", ""),
        "error_code": err.get("code", ""), "error_message": err.get("message", ""), "format": e.get("format", ""),
        "width": e.get("width", ""), "height": e.get("height", ""), "sha256": e.get("sha256", ""),
        "metadata_present": (e.get("metadata") or {}).get("present", ""),
        "watermark_detected": wm.get("detected", ""), "watermark_id": wm.get("watermark_id") or "",
        "watermark_score": wm.get("score", ""), "c2pa_state": (e.get("c2pa") or {}).get("state", ""),
        "produce_id": reg.get("produce_id", ""), "content_producer": reg.get("content_producer", ""),
    }


def write_csv(entries: Sequence[dict[str, Any]], path: Path) -> None:
    """One row per file with the columns of :data:`CSV_COLUMNS`."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for e in entries:
        writer.writerow({k: "" if v is None else v for k, v in _csv_row(e).items()})
    _atomic_write(path, buf.getvalue())


def heatmap_png(strength: Sequence[Sequence[float]], cell_px: int = 24) -> str:
    """A data-URI PNG of the strength map: blue (no mark, z ≤ 0) through yellow to red (z ≥ 3)."""
    grid = np.asarray(strength, dtype=np.float32)
    if grid.size == 0:
        return ""
    t = np.clip(grid / 3.0, 0.0, 1.0)
    rgb = np.stack([255 * t, 255 * (1 - np.abs(t - 0.5) * 2) * 0.9 + 20, 255 * (1 - t)], axis=-1)
    img = Image.fromarray(rgb.astype(np.uint8)).resize(
        (grid.shape[1] * cell_px, grid.shape[0] * cell_px), Image.Resampling.NEAREST
    )
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _segments_svg(segments: Sequence[dict[str, Any]], title: str) -> str:
    """Per-second detection plot of one watermark (score over time; detected segments marked red) as
    inline SVG. Segments are the reports' dicts: ``start_s``/``end_s`` and ``score`` (video picture) or
    ``sync_z`` (audio)."""
    if not segments:
        return ""
    w, h = 480, 90

    def start(s: dict[str, Any]) -> float:
        return float(s.get("start_s", s.get("t", 0.0)))

    def score(s: dict[str, Any]) -> float:
        return max(float(s.get("score", s.get("sync_z", 0.0)) or 0.0), 0.0)

    end = max(float(s.get("end_s", start(s) + 1.0)) for s in segments) or 1.0
    top = max(max(score(s) for s in segments), 1.0)
    points, marks = [], []
    for s in segments:
        x = 30 + (w - 40) * start(s) / end
        y = h - 15 - (h - 32) * score(s) / top  # the top 17 px hold the title
        points.append(f"{x:.1f},{y:.1f}")
        if s.get("detected"):
            marks.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="#c00"/>')
    found = sum(bool(s.get("detected")) for s in segments)
    return (f'<svg class="segments" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" '
            f'aria-label="{html.escape(title)}: mark found in {found} of {len(segments)} segments">'
            f'<text x="30" y="10" font-size="10">{html.escape(title)} ({found}/{len(segments)})</text>'
            f'<line x1="30" y1="{h - 15}" x2="{w - 10}" y2="{h - 15}" '
            f'stroke="#999"/><text x="30" y="{h - 2}" font-size="10">0 s</text><text x="{w - 40}" y="{h - 2}" '
            f'font-size="10">{end:.1f} s</text><polyline fill="none" stroke="#036" points="{" ".join(points)}"/>'
            + "".join(marks) + "</svg>")


def _segment_plots(entry: dict[str, Any]) -> str:
    """The per-second plots an entry has: its watermark's (audio, video picture) and a video's soundtrack's."""
    picture = (entry.get("watermark") or {}).get("segments") or []
    sound = ((entry.get("soundtrack") or {}).get("watermark") or {}).get("segments") or []
    title = "picture watermark per second" if "soundtrack" in entry else "watermark per segment"
    return _segments_svg(picture, title) + _segments_svg(sound, "soundtrack watermark per segment")


_CSS = """body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
.v-confirmed{background:#e6f4ea}.v-possible{background:#fff8e1}.v-suspected{background:#fdecea}
.v-none{background:#f3f3f3}.v-error{background:#f8d7da}img{display:block;max-width:180px}"""


def write_html(entries: Sequence[dict[str, Any]], path: Path, title: str = "labeler audit report") -> None:
    """A single self-contained HTML file: summary by verdict, then one row per file with its visuals."""
    esc = html.escape
    counts = verdict_counts(entries)
    summary = "".join(f'<tr class="v-{esc(k)}"><td>{esc(k)}</td><td>{n}</td></tr>' for k, n in sorted(counts.items()))
    rows = []
    for e in entries:
        err = e.get("error")
        verdict = "error" if err else str(e.get("verdict"))
        reason = f"{err['code']}: {err['message']}" if err else str(e.get("reason", ""))
        wm = e.get("watermark") or {}
        edit = Orientation.of_watermark(wm).edit_description()
        wm_text = (f"id {wm['watermark_id']} (false-positive probability {wm['false_positive_probability']:.0e}"
                   + (f"; the picture was {edit}" if edit else "") + ")" if wm.get("detected") else "—")
        visuals = []
        if e.get("thumbnail"):
            visuals.append(f'<img class="thumb" alt="thumbnail" src="{e["thumbnail"]}">')
        if e.get("visible_label_crop"):
            visuals.append(f'<img class="label-crop" alt="visible label region" src="{e["visible_label_crop"]}">')
        heat = heatmap_png(e["strength_map"]) if e.get("strength_map") else ""
        if heat:
            visuals.append(f'<img class="heatmap" alt="watermark strength heat map" src="{heat}">')
        plot = _segment_plots(e)
        rows.append(
            f'<tr class="v-{esc(verdict)}"><td>{esc(str(e.get("source")))}</td><td>{esc(verdict)}</td>'
            f"<td>{esc(reason)}</td><td>{esc(wm_text)}</td><td>{''.join(visuals)}{plot}</td></tr>"
        )
    generated = datetime.now(UTC).isoformat(timespec="seconds")
    text = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
        f"<style>{_CSS}</style></head><body><h1>{esc(title)}</h1><p>{len(entries)} file(s), generated {generated}."
        " Heat map: watermark sync strength per region (red strong, blue absent).</p>"
        f'<h2>Summary by verdict</h2><table id="summary"><tr><th>verdict</th><th>files</th></tr>{summary}</table>'
        '<h2>Files</h2><table id="files"><tr><th>file</th><th>verdict</th><th>reason</th><th>watermark</th>'
        f"<th>visuals</th></tr>{''.join(rows)}</table></body></html>\n"
    )
    _atomic_write(path, text)


def write_reports(entries: Sequence[dict[str, Any]], jsonl: Path | None, csv_path: Path | None,
                  html_path: Path | None) -> None:
    """Write whichever reports were asked for."""
    if jsonl:
        write_jsonl(entries, jsonl)
    if csv_path:
        write_csv(entries, csv_path)
    if html_path:
        write_html(entries, html_path)
