"""Batch label/verify over a file listing, on a local process pool or on Ray Data.

Both engines call the same per-file functions (:func:`label_one`, the auditor's worker for verify), so
results do not depend on the engine. Ray is an optional extra (``pip install 'labeler[ray]'``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from labeler.errors import InvalidOption, LabelerError
from labeler.report.audit import AuditConfig, _Worker, worker_context
from labeler.settings import LabelOptions
from labeler.video.labeling import is_video_file
from labeler.watermark.keys import WatermarkKey

__all__ = ["LabelJob", "label_one", "run_label", "run_verify"]


@dataclass(frozen=True)
class LabelJob:
    """What a labeling worker needs (picklable): key, registry, options, where outputs go."""

    key: WatermarkKey | None
    registry_location: str | None
    options: LabelOptions
    source_root: Path
    output_root: Path
    force: bool = False


class _Labeler:
    def __init__(self, job: LabelJob) -> None:
        from labeler.pipeline import Labeler
        from labeler.store.registry import Registry

        self.job = job
        registry = Registry.open(job.registry_location) if job.registry_location else None
        self.labeler = Labeler(job.key, registry)

    def run(self, source: Path) -> dict[str, Any]:
        rel = source.relative_to(self.job.source_root) if source.is_relative_to(self.job.source_root) else source.name
        target = self.job.output_root / rel
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            options = replace(self.job.options, produce_id=None)  # a new ProduceID per file
            if is_video_file(source):
                return self._label_video(source, target, options)
            result = self.labeler.label_file(source, target, options, force=self.job.force)
        except LabelerError as exc:
            return {"source": str(source), "error": {"code": exc.code, "message": exc.message}}
        return {"source": str(source), "output": str(target), "produce_id": result.produce_id,
                "watermark_id": None if result.watermark_id is None else f"{result.watermark_id:016x}"}


    def _label_video(self, source: Path, target: Path, options: LabelOptions) -> dict[str, Any]:
        """Videos are labeled file to file, streamed (as `labeler label clip.mp4` does), then recorded."""
        from labeler.video.labeling import label_video_path, video_record

        info = label_video_path(source, target, self.job.key, options, force=self.job.force)
        if self.labeler.registry is not None:
            self.labeler.registry.record(video_record(info, source, target, self.job.key))
        return {"source": str(source), "output": str(target), "produce_id": info["produce_id"],
                "watermark_id": info["watermark_id"]}


def label_one(job: LabelJob, source: Path) -> dict[str, Any]:
    """Label one file (a fresh labeler; the engines keep one per worker instead)."""
    return _Labeler(job).run(source)


_STATE: list[Any] = []  # the per-process worker, set by the pool initializer


def _init_label(job: LabelJob) -> None:
    _STATE[:] = [_Labeler(job)]


def _init_verify(config: AuditConfig) -> None:
    _STATE[:] = [_Worker(config)]


def _call(path: str) -> dict[str, Any]:
    result: dict[str, Any] = _STATE[0].run(Path(path))
    return result


def _local(files: Sequence[Path], init: Any, arg: Any, workers: int) -> Iterator[dict[str, Any]]:
    with ProcessPoolExecutor(max_workers=workers, mp_context=worker_context(), initializer=init,
                             initargs=(arg,)) as pool:
        chunk = max(1, min(16, len(files) // (workers * 8)))
        yield from pool.map(_call, [str(p) for p in files], chunksize=chunk)


class _RayCallable:
    """Ray Data actor: builds the worker once per actor, then maps batches of paths."""

    def __init__(self, kind: str, arg: Any) -> None:
        self.worker: Any = _Labeler(arg) if kind == "label" else _Worker(arg)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import json

        rows = [json.dumps(self.worker.run(Path(str(p))), ensure_ascii=False) for p in batch["path"]]
        return {"entry": rows}


def _ray(files: Sequence[Path], kind: str, arg: Any, workers: int, address: str | None) -> Iterator[dict[str, Any]]:
    try:
        import ray
    except ImportError as exc:
        raise InvalidOption("--engine ray needs the optional extra: pip install 'labeler[ray]'") from exc
    import json

    started_here = not ray.is_initialized()
    if started_here:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    try:
        listing = ray.data.from_items([{"path": str(p)} for p in files])
        # Small batches keep the tail short (a batch of 1 MP verifies is ~1 s of work per actor).
        ds = listing.map_batches(_RayCallable, fn_constructor_args=(kind, arg), batch_size=16,
                                 compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=1,
                                 batch_format="numpy")
        order = {str(p): i for i, p in enumerate(files)}
        entries = [json.loads(row["entry"]) for row in ds.iter_rows()]
        entries.sort(key=lambda e: order.get(e["source"], 0))
        yield from entries
    finally:
        if started_here:
            ray.shutdown()


def _engine(files: Sequence[Path], kind: str, arg: Any, engine: str, workers: int,
            address: str | None) -> list[dict[str, Any]]:
    if workers < 1:
        raise InvalidOption(f"--workers must be at least 1, got {workers}")
    if engine == "local":
        return list(_local(files, _init_label if kind == "label" else _init_verify, arg, workers))
    if engine == "ray":
        return list(_ray(files, kind, arg, workers, address))
    raise InvalidOption(f"unknown engine {engine!r} (local, ray)")


def run_label(files: Sequence[Path], job: LabelJob, engine: str = "local", workers: int | None = None,
              address: str | None = None) -> list[dict[str, Any]]:
    """Label every file into ``job.output_root`` (mirroring paths under ``job.source_root``)."""
    return _engine(files, "label", job, engine, (os.cpu_count() or 1) if workers is None else workers, address)


def run_verify(files: Sequence[Path], config: AuditConfig, engine: str = "local", workers: int | None = None,
               address: str | None = None) -> list[dict[str, Any]]:
    """Verify every file; entries as the auditor's, in file order."""
    return _engine(files, "verify", config, engine, (os.cpu_count() or 1) if workers is None else workers, address)
