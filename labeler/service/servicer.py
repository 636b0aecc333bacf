"""Thin servicers: receive the upload, run the same orchestrators the CLI uses in the worker pool, stream
the answer back. Errors become rich statuses (status.py); nothing here knows about media formats."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import grpc

from labeler.audio.codec import sniff_audio_file
from labeler.errors import InvalidOption, LabelerError
from labeler.pipeline import Labeler, LabelResult
from labeler.propagate import PropagateOptions, propagate_bytes
from labeler.service.metrics import ServiceMetrics
from labeler.service.pool import Overloaded, WorkerPool
from labeler.service.settings import ServiceSettings
from labeler.service.spool import Upload, chunks, file_chunks, receive
from labeler.service.status import rich_status, status_for
from labeler.settings import Corner, LabelOptions, VisibleLabelOptions
from labeler.sniffing import check_head, check_head_or_video, is_path_head, is_video_head
from labeler.v1 import labeler_pb2 as pb
from labeler.v1 import labeler_pb2_grpc as pb_grpc
from labeler.verification import Verdict, Verifier

T = TypeVar("T")
log = logging.getLogger("labeler.service")

_CORNERS: dict[int, Corner] = {
    pb.CORNER_TOP_LEFT: Corner.TOP_LEFT,
    pb.CORNER_TOP_RIGHT: Corner.TOP_RIGHT,
    pb.CORNER_BOTTOM_LEFT: Corner.BOTTOM_LEFT,
    pb.CORNER_BOTTOM_RIGHT: Corner.BOTTOM_RIGHT,
    pb.CORNER_UNSPECIFIED: Corner.BOTTOM_RIGHT,
}
_VERDICTS: dict[Verdict, pb.Verdict] = {
    Verdict.CONFIRMED: pb.VERDICT_CONFIRMED,
    Verdict.POSSIBLE: pb.VERDICT_POSSIBLE,
    Verdict.SUSPECTED: pb.VERDICT_SUSPECTED,
    Verdict.NONE: pb.VERDICT_NONE,
}


def _corner(value: int) -> Corner:
    if value not in _CORNERS:
        raise InvalidOption(f"unknown position enum value {value}")
    return _CORNERS[value]


def label_options(config: pb.LabelConfig) -> LabelOptions:
    visible = VisibleLabelOptions(text=config.label_text or "AI生成", position=_corner(config.position))
    if not config.content_producer.strip():
        raise InvalidOption("content_producer is required")
    return LabelOptions(
        producer=config.content_producer,
        produce_id=config.produce_id or None,
        visible=not config.no_visible,
        metadata=not config.no_metadata,
        watermark=not config.no_watermark,
        visible_label=visible,
        watermark_id=config.watermark_id if config.HasField("watermark_id") else None,
    )


def verify_response(report: dict[str, Any]) -> pb.VerifyResponse:
    """The reply for a report as ``labeler verify --json`` prints it (image, audio or video)."""
    wm = report["watermark"]
    metadata = report["metadata"]
    return pb.VerifyResponse(
        verdict=_VERDICTS[Verdict(report["verdict"])],
        reason=report["reason"],
        evidence=list(report["evidence"]),
        metadata_present=bool(metadata["present"]),
        aigc_json=json.dumps(metadata["fields"], ensure_ascii=False) if metadata.get("fields") else "",
        watermark=pb.WatermarkEvidence(
            checked=bool(wm["checked"]),
            detected=bool(wm.get("detected")),
            watermark_id=wm.get("watermark_id") or "",
            score=float(wm.get("score") or 0.0),
            false_positive_probability=float(wm.get("false_positive_probability", 1.0)),
            scale=float(wm.get("scale", 1.0)),
            rotation_degrees=float(wm.get("rotation_degrees", 0.0)),
            mirrored=bool(wm.get("mirrored")),
            right_angle_turns=int(wm.get("right_angle_turns") or 0),
        ),
        report_json=json.dumps(report, ensure_ascii=False, default=str),
    )


class _Call:
    """One admitted call: metrics, structured log line, and error → status mapping on the way out."""

    def __init__(self, service: LabelerServicer, method: str, context: grpc.aio.ServicerContext) -> None:
        self.service, self.method, self.context = service, method, context
        self.code = grpc.StatusCode.OK
        self.started = time.perf_counter()
        self.bytes_in = 0
        self.job: asyncio.Future[Any] | None = None
        self.cleanups: list[Callable[[], None]] = []

    async def work(self, function: Callable[..., T], *args: object) -> T:
        self.job = asyncio.ensure_future(self.service.pool.run(function, *args))
        return await asyncio.shield(self.job)

    async def fail(self, error: BaseException) -> None:
        if isinstance(error, LabelerError):
            status = status_for(error)
        elif isinstance(error, Overloaded):
            settings = self.service.settings
            status = rich_status(
                grpc.StatusCode.RESOURCE_EXHAUSTED, "OVERLOADED",
                f"all {settings.workers} workers busy and {settings.queue_depth} calls waiting; retry later",
                retry_after_seconds=settings.retry_after_seconds,
            )
        else:
            log.exception("internal error in %s", self.method)
            status = rich_status(grpc.StatusCode.INTERNAL, "INTERNAL", "internal error (see the server log)")
        self.code = status.code
        await self.context.abort(status.code, status.details, status.trailing_metadata)

    def finish(self, admitted: bool) -> None:
        metrics = self.service.metrics
        elapsed = time.perf_counter() - self.started
        if self.context.cancelled() and self.code is grpc.StatusCode.OK:
            self.code = grpc.StatusCode.CANCELLED
        metrics.requests.labels(self.method, self.code.name).inc()
        metrics.latency.labels(self.method).observe(elapsed)
        metrics.bytes_in.labels(self.method).inc(self.bytes_in)
        log.info(json.dumps({"event": "call", "method": self.method, "code": self.code.name,
                             "seconds": round(elapsed, 4), "bytes_in": self.bytes_in}))
        for cleanup in self.cleanups:
            # A worker still running a cancelled call may be using the file: clean up after it.
            if self.job is not None and not self.job.done():
                self.job.add_done_callback(lambda _, cleanup=cleanup: cleanup())  # type: ignore[misc]
            else:
                cleanup()
        if not admitted:
            return
        metrics.inflight.dec()
        if self.job is not None and not self.job.done():
            # Cancelled (deadline, disconnect) while a worker still runs it: the slot stays taken
            # until the worker is free, so admissions never exceed what the pool can do.
            self.job.add_done_callback(lambda _: self.service.pool.release())
        else:
            self.service.pool.release()

    async def admit(self) -> None:
        self.service.pool.admit()
        self.service.metrics.inflight.inc()


def _label_message(result: LabelResult, output_bytes: int, recorded: bool) -> pb.LabelResult:
    return pb.LabelResult(
        format=result.format, width=result.width, height=result.height,
        content_producer=result.content_producer, produce_id=result.produce_id,
        watermark_id=f"{result.watermark_id:016x}" if result.watermark_id is not None else "",
        output_sha256=result.output_sha256, output_bytes=output_bytes, recorded=recorded,
        result_json=json.dumps(result.to_dict(), ensure_ascii=False),
    )


class LabelerServicer(pb_grpc.LabelerServiceServicer):
    def __init__(
        self, settings: ServiceSettings, labeler: Labeler, verifier: Verifier, pool: WorkerPool,
        metrics: ServiceMetrics,
    ) -> None:
        self.settings, self.labeler, self.verifier, self.pool, self.metrics = settings, labeler, verifier, pool, metrics

    async def _receive(
        self, call: _Call, requests: AsyncIterator[Any], video: bool, audio_path: bool = False
    ) -> Upload:
        """The upload, spooled; with ``video`` a video container goes to a named file (decoded from its path),
        with ``audio_path`` an audio file too (Label streams it from its path, labeler/audio/streaming.py;
        Verify decodes it block by block from there)."""
        if not video:
            upload = await receive(requests, self.settings, check_head)
        else:
            upload = await receive(requests, self.settings, check_head_or_video,
                                   needs_path=is_path_head if audio_path else is_video_head)
        call.cleanups.append(upload.close)
        call.bytes_in = upload.size
        return upload

    async def _media_call(
        self, method: str, requests: AsyncIterator[Any], context: grpc.aio.ServicerContext,
        process: Callable[[_Call, Upload], Awaitable[tuple[Any, bytes | Path]]], response_type: Any,
    ) -> AsyncIterator[Any]:
        """The shape of Label and Propagate: admit, receive, process in the pool, stream result + media."""
        call = _Call(self, method, context)
        admitted = False
        try:
            await call.admit()
            admitted = True
            upload = await self._receive(call, requests, video=True, audio_path=method == "Label")
            result, media = await process(call, upload)
            yield response_type(result=result)
            size = self.settings.response_chunk_bytes
            pieces: Iterable[bytes] = chunks(media, size) if isinstance(media, bytes) else file_chunks(media, size)
            for chunk in pieces:
                yield response_type(chunk=chunk)
            self.metrics.bytes_out.labels(method).inc(result.output_bytes if isinstance(media, Path) else len(media))
        except (asyncio.CancelledError, GeneratorExit):
            raise
        except Exception as error:
            await call.fail(error)
        finally:
            call.finish(admitted)

    def _output_file(self, call: _Call) -> Path:
        """A temp file for a video call's output, named here in the event loop, not in the worker, so a
        cancelled call still removes it (after the worker ends)."""
        handle, name = tempfile.mkstemp(prefix="labeler-output-", dir=self.settings.spool_dir)
        os.close(handle)
        output = Path(name)
        call.cleanups.append(lambda: output.unlink(missing_ok=True))
        return output

    def _label_video(self, path: Path, output: Path, options: LabelOptions) -> dict[str, Any] | None:
        """Worker side of a video Label: None when the file holds no video after all (an MP4 of sound)."""
        from labeler.video.labeling import is_video_file, label_video_upload

        if not is_video_file(path):
            return None
        return label_video_upload(path, output, self.labeler.key, options, self.labeler.registry,
                                  self.labeler.label_signer, self.labeler.limits)

    def _label_path(self, path: Path, output: Path, options: LabelOptions) -> LabelResult | None:
        """Worker side of an audio Label spooled to a path: labeled file to file, streamed, and recorded
        (``Labeler.label_file``); None when the upload is not audio after all (left to ``label_bytes``)."""
        from labeler.audio.codec import sniff_audio_file

        if sniff_audio_file(path) is None:
            return None
        return self.labeler.label_file(path, output, options, force=True)

    async def _label(self, call: _Call, upload: Upload) -> tuple[pb.LabelResult, bytes | Path]:
        config: pb.LabelConfig = upload.config
        options = label_options(config)
        if upload.path is not None:
            output = self._output_file(call)
            info = await call.work(self._label_video, upload.path, output, options)
            if info is not None:
                return pb.LabelResult(
                    format=info["format"], width=info["width"], height=info["height"],
                    content_producer=info["content_producer"], produce_id=info["produce_id"],
                    watermark_id=info["watermark_id"] or "", output_sha256=info["output_sha256"],
                    output_bytes=info["output_bytes"], recorded=info["recorded"],
                    result_json=json.dumps(info, ensure_ascii=False),
                ), output
            streamed = await call.work(self._label_path, upload.path, output, options)
            if streamed is not None:
                return _label_message(streamed, output.stat().st_size, self.labeler.registry is not None), output
        data = upload.read()
        result = await call.work(self.labeler.label_bytes, data, options, self.labeler.registry is not None)
        return _label_message(result, len(result.data), self.labeler.registry is not None), result.data

    def _propagate_video(self, path: Path, output: Path, options: PropagateOptions) -> Any:
        """Worker side of a video Propagate: None when the file holds no video after all."""
        from labeler.video.labeling import is_video_file
        from labeler.video.propagating import propagate_video_file

        if not is_video_file(path):
            return None
        return propagate_video_file(path, output, self.verifier.key, self.verifier.registry, options,
                                    self.verifier.trust, force=True)

    async def _propagate(self, call: _Call, upload: Upload) -> tuple[pb.PropagateResult, bytes | Path]:
        config: pb.PropagateConfig = upload.config
        options = PropagateOptions(
            content_propagator=config.content_propagator,
            propagate_id=config.propagate_id or None,
            user_declared=config.user_declared,
            visible_label=VisibleLabelOptions(position=_corner(config.position)),
        )
        if upload.path is not None:
            output = self._output_file(call)
            video = await call.work(self._propagate_video, upload.path, output, options)
            if video is not None:
                self.metrics.verdicts.labels(video.verdict.value).inc()
                return pb.PropagateResult(
                    verdict=_VERDICTS[video.verdict], reason=video.report["reason"],
                    label_text=video.label_text or "", media_changed=video.media_changed,
                    aigc_json=video.aigc.to_json() if video.aigc else "",
                    report_json=json.dumps(video.report, ensure_ascii=False, default=str),
                    output_bytes=video.output_bytes, output_sha256=video.output_sha256,
                ), output
        data = upload.read()
        outcome = await call.work(propagate_bytes, data, self.verifier, options)
        self.metrics.verdicts.labels(outcome.verdict.value).inc()
        message = pb.PropagateResult(
            verdict=_VERDICTS[outcome.verdict], reason=outcome.report.reason,
            label_text=outcome.label_text or "", media_changed=outcome.media_changed,
            aigc_json=outcome.aigc.to_json() if outcome.aigc else "",
            report_json=json.dumps(outcome.report.to_dict(), ensure_ascii=False, default=str),
            output_bytes=len(outcome.data), output_sha256=outcome.output_sha256,
        )
        return message, outcome.data

    def _verify(self, upload: Upload) -> dict[str, Any]:
        """Worker side of Verify: a video or an audio file from its spooled path (streamed), anything else
        from bytes."""
        config: pb.VerifyConfig = upload.config
        source, declared = config.filename or "<upload>", bool(config.user_declared)
        if upload.path is not None:
            from labeler.video.labeling import is_video_file
            from labeler.video.verifying import verify_video_file

            if is_video_file(upload.path):
                report = verify_video_file(upload.path, self.verifier.key, self.verifier.registry, declared,
                                           self.verifier.trust, self.verifier.limits)
                report["source"] = source
                return report
            if sniff_audio_file(upload.path) is not None:
                return self.verifier.verify_file(upload.path, declared, source).to_dict()
        return self.verifier.verify_bytes(upload.read(), source, declared).to_dict()

    async def Label(  # gRPC method name
        self, request_iterator: AsyncIterator[pb.LabelRequest], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.LabelResponse]:
        async for message in self._media_call("Label", request_iterator, context, self._label, pb.LabelResponse):
            yield message

    async def Verify(
        self, request_iterator: AsyncIterator[pb.VerifyRequest], context: grpc.aio.ServicerContext
    ) -> pb.VerifyResponse:
        call = _Call(self, "Verify", context)
        admitted = False
        try:
            await call.admit()
            admitted = True
            upload = await self._receive(call, request_iterator, video=True, audio_path=True)
            report = await call.work(self._verify, upload)
            self.metrics.verdicts.labels(report["verdict"]).inc()
            if report["watermark"].get("detected"):
                self.metrics.watermarks.inc()
            return verify_response(report)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            await call.fail(error)
            raise AssertionError("unreachable: abort raises") from None
        finally:
            call.finish(admitted)

    async def Propagate(  # gRPC method name
        self, request_iterator: AsyncIterator[pb.PropagateRequest], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.PropagateResponse]:
        async for message in self._media_call(
            "Propagate", request_iterator, context, self._propagate, pb.PropagateResponse
        ):
            yield message
