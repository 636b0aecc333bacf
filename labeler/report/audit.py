"""The auditor's runner: verify many files with a process pool, journal every result (so an interrupted
run resumes where it stopped), show progress, and hand the entries to the report writers.

Each entry is the verifier's report dict (or ``{"source", "error"}``) plus, for images, an inline
thumbnail and the watermark strength map, so the HTML report needs nothing but the entries.
"""

from __future__ import annotations

import base64
import io
import json
import multiprocessing
import multiprocessing.context
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from PIL import Image

from labeler.errors import InvalidOption, LabelerError
from labeler.orientation import Orientation
from labeler.settings import TrustSettings
from labeler.watermark.keys import WatermarkKey

__all__ = ["AuditConfig", "Progress", "audit_entry", "load_journal", "run_audit"]

THUMB_PX = 160


@dataclass(frozen=True)
class AuditConfig:
    """Everything a worker process needs to verify a file (picklable)."""

    key: WatermarkKey | None
    registry_location: str | None
    trust: TrustSettings
    user_declared: bool = False
    thumbnails: bool = True
    heatmap: bool = True


def _data_uri_jpeg(img: Image.Image) -> str:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _visuals(data: bytes, report: dict[str, Any], config: AuditConfig) -> dict[str, Any]:
    """Thumbnail, visible-label crop (when the report carries a box) and strength map of an image."""
    extra: dict[str, Any] = {}
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            rgb = img.convert("RGB")
    except Exception:  # not an image Pillow reads (audio/video later): no visuals, the verdict stands
        return extra
    if config.thumbnails:
        extra.update(_picture_visuals(rgb, (report.get("visible_label") or {}).get("box")))
    if config.heatmap and config.key is not None:
        from labeler.report.heatmap import strength_map

        orientation = Orientation.of_watermark(report.get("watermark") or {})
        extra["strength_map"] = np.round(strength_map(np.asarray(rgb), config.key, orientation), 2).tolist()
    return extra


def _picture_visuals(rgb: Image.Image, box: Any) -> dict[str, Any]:
    """Thumbnail of a picture and, when a visible label was found in it, the label's region."""
    extra: dict[str, Any] = {}
    thumb = rgb.copy()
    thumb.thumbnail((THUMB_PX, THUMB_PX))
    extra["thumbnail"] = _data_uri_jpeg(thumb)
    if box and len(box) == 4:
        x, y, w, h = (int(v) for v in box)
        if w > 0 and h > 0:
            extra["visible_label_crop"] = _data_uri_jpeg(rgb.crop((x, y, x + w, y + h)))
    return extra


def _video_visuals(path: Path, report: dict[str, Any], config: AuditConfig) -> dict[str, Any]:
    """Thumbnail of a video's first frame (where its visible label is) and the label's region; the
    per-second plots come from the report's segments."""
    if not config.thumbnails:
        return {}
    import av

    try:
        with av.open(str(path), "r") as container:
            rgb = next(container.decode(video=0)).to_image()  # type: ignore[no-untyped-call]
    except (av.FFmpegError, StopIteration, OSError):
        return {}
    visible = report.get("explicit_label") or {}
    return _picture_visuals(rgb, visible.get("box") if visible.get("detected") else None)


class _Worker:
    """A verifier (and registry connection) per process, built once."""

    def __init__(self, config: AuditConfig) -> None:
        from labeler.store.registry import Registry
        from labeler.verification import Verifier

        self.config = config
        self.registry = Registry.open(config.registry_location) if config.registry_location else None
        self.verifier = Verifier(config.key, self.registry, trust=config.trust)

    def run(self, path: Path) -> dict[str, Any]:
        from labeler.fileio import read_input
        from labeler.video.labeling import is_video_file
        from labeler.video.verifying import verify_video_file

        try:
            if is_video_file(path):  # streamed from the path, never read whole
                report = verify_video_file(path, self.config.key, self.registry, self.config.user_declared,
                                           self.config.trust)
                report.update(_video_visuals(path, report, self.config))
                return report
            data = read_input(path, self.verifier.limits)
            report = self.verifier.verify_bytes(data, str(path), user_declared=self.config.user_declared).to_dict()
        except LabelerError as exc:
            return {"source": str(path), "error": {"code": exc.code, "message": exc.message}}
        report.update(_visuals(data, report, self.config))
        return report


_PROCESS_WORKER: list[_Worker] = []  # one per worker process, set by the pool initializer


def _init_process(config: AuditConfig) -> None:
    _PROCESS_WORKER[:] = [_Worker(config)]


def _run_in_process(path: str) -> dict[str, Any]:
    return _PROCESS_WORKER[0].run(Path(path))


def audit_entry(path: Path, config: AuditConfig) -> dict[str, Any]:
    """One file's entry, in this process (tests, the Ray engine)."""
    return _Worker(config).run(path)


def load_journal(journal: Path) -> list[dict[str, Any]]:
    """Entries already in ``journal`` (a torn last line from an interrupted run is ignored)."""
    if not journal.exists():
        return []
    entries = []
    for line in journal.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict) and "source" in entry:
            entries.append(entry)
    return entries


class Progress:
    """A one-line progress bar on ``stream`` (redrawn at most 10 times a second)."""

    def __init__(self, total: int, stream: TextIO | None, done: int = 0) -> None:
        self.total, self.stream, self.done = total, stream, done
        self.start = time.monotonic()
        self._started_at_done = done
        self._last = 0.0

    def step(self) -> None:
        self.done += 1
        now = time.monotonic()
        if self.stream is None or (now - self._last < 0.1 and self.done < self.total):
            return
        self._last = now
        rate = (self.done - self._started_at_done) / max(now - self.start, 1e-9)
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        filled = int(30 * self.done / max(self.total, 1))
        self.stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} "
                          f"{rate:.1f} files/s, {left:.0f} s left ")
        if self.done >= self.total:
            self.stream.write("\n")
        self.stream.flush()


def run_audit(
    files: Sequence[Path],
    config: AuditConfig,
    workers: int = 1,
    journal: Path | None = None,
    progress: TextIO | None = None,
    on_entry: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Verify ``files`` (skipping those already in ``journal``); every entry, journal's first, in file order."""
    if workers < 1:
        raise InvalidOption(f"--workers must be at least 1, got {workers}")
    previous = {e["source"]: e for e in load_journal(journal)} if journal else {}
    todo = [p for p in files if str(p) not in previous]
    bar = Progress(len(files), progress, done=len(files) - len(todo))
    fresh: dict[str, dict[str, Any]] = {}
    sink = journal.open("a", encoding="utf-8") if journal else None
    if sink is not None and journal is not None and journal.stat().st_size > 0:
        with journal.open("rb") as fh:
            fh.seek(-1, 2)
            if fh.read(1) != b"\n":  # a torn last line: start ours on a fresh line so both stay readable
                sink.write("\n")
    try:
        for entry in _entries(todo, config, workers):
            fresh[entry["source"]] = entry
            if sink is not None:
                sink.write(json.dumps(entry, ensure_ascii=False) + "\n")
                sink.flush()
            if on_entry is not None:
                on_entry(entry)
            bar.step()
    finally:
        if sink is not None:
            sink.close()
    return [previous.get(str(p)) or fresh[str(p)] for p in files]


def worker_context() -> multiprocessing.context.BaseContext:
    """How worker processes start: from a fork server, never by forking the caller. A forked child
    inherits every lock another thread of the caller held at that moment (an import lock, a logging or
    library lock) and waits on it forever: a batch job started from a process with threads (the gRPC
    service, a test run after one) hung that way in PIL's JPEG reader. The fork server is a fresh,
    single-threaded process; workers are forked from it and import what they run (about a second each)."""
    return multiprocessing.get_context("forkserver")


def _entries(todo: Sequence[Path], config: AuditConfig, workers: int) -> Iterator[dict[str, Any]]:
    if not todo:
        return
    if workers == 1:
        worker = _Worker(config)
        for path in todo:
            yield worker.run(path)
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=worker_context(), initializer=_init_process,
                             initargs=(config,)) as pool:
        chunk = max(1, min(16, len(todo) // (workers * 8)))
        yield from pool.map(_run_in_process, [str(p) for p in todo], chunksize=chunk)


def verdict_counts(entries: Iterable[dict[str, Any]]) -> dict[str, int]:
    """How many entries per verdict (``error`` for files that could not be read)."""
    counts: dict[str, int] = {}
    for entry in entries:
        name = "error" if "error" in entry else str(entry.get("verdict"))
        counts[name] = counts.get(name, 0) + 1
    return counts
