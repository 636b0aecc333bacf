"""Load benchmark of the gRPC service over loopback.

1. 1 MP JPEG `Label`: latency p50/p99 at concurrency 4 through the service (the client in its own
   process), and throughput against calling the Python API directly from as many threads as the server
   has workers (same cores).
2. A large video: RSS growth while the service receives and verifies a 500 MB MP4 (and labels a 50 MB
   one, streaming the result back). Video is spooled to disk and decoded from there, never held whole.
3. A soak of N mixed calls (valid labels and verifies, corrupt, truncated, empty and unsupported uploads):
   only the expected status codes, and no growth of open files, temp files or RSS.

Run with ``python -m benchmarks.service_load [--calls 200] [--soak 10000] [--big-mb 500]`` (`make bench`
runs a shorter configuration). Prints Markdown tables, writes out/bench/service.json.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import multiprocessing
import os
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import av
import cv2
import grpc
import numpy as np
from PIL import Image

from benchmarks.corpus import load_corpus
from benchmarks.image import table
from labeler.client import LabelerClient
from labeler.errors import LabelerError
from labeler.pipeline import Labeler
from labeler.service.server import RunningServer, start_server
from labeler.service.settings import ServiceSettings
from labeler.settings import LabelOptions, Limits
from labeler.store.registry import Registry
from labeler.v1 import labeler_pb2 as pb
from labeler.v1 import labeler_pb2_grpc as pb_grpc
from labeler.verification import Verifier
from labeler.watermark import WatermarkKey

KEY = WatermarkKey(b"labeler-benchmark-key-0123456789")


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


class Server:
    def __init__(self, settings: ServiceSettings, labeler: Labeler, verifier: Verifier) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.running: RunningServer = asyncio.run_coroutine_threadsafe(
            start_server(settings, labeler, verifier), self.loop
        ).result(60)
        self.target = f"127.0.0.1:{self.running.port}"

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.running.stop(), self.loop).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def one_mp_jpeg(data_dir: Path) -> bytes:
    photos = load_corpus(data_dir)
    source = max(photos, key=lambda p: p.rgb.shape[0] * p.rgb.shape[1]).rgb
    buffer = io.BytesIO()
    Image.fromarray(cv2.resize(source, (1155, 866), interpolation=cv2.INTER_AREA)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def client_latencies(target: str, jpeg: bytes, calls: int, concurrency: int) -> tuple[list[float], float]:
    """``calls`` Label calls from ``concurrency`` threads: each call's latency (s) and the elapsed time."""
    config = pb.LabelConfig(content_producer="bench")
    latencies: list[float] = []
    with LabelerClient(target) as client:
        client.label(jpeg, config)  # warm-up

        def timed(_: int) -> None:
            began = time.perf_counter()
            client.label(jpeg, config)
            latencies.append(time.perf_counter() - began)

        start = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(timed, range(calls)))
        return latencies, time.perf_counter() - start


def latency_section(server: Server, labeler: Labeler, jpeg: bytes, calls: int, workers: int) -> tuple[str, Any]:
    """Direct API and service runs in the order direct, service, service, direct (so drift in the shared
    machine's speed falls on both alike); rates are the means of the two runs of each."""
    options = LabelOptions(producer="bench")
    seconds: dict[str, list[float]] = {"direct": [], "service": []}
    latencies: list[float] = []
    # The client runs in its own process, as a generation backend would: in the server's process its
    # threads would contend for the server's interpreter lock and overstate the service's cost.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as client_process:
        client_process.submit(client_latencies, server.target, jpeg, 4, 1).result()  # warm the client
        for kind in ("direct", "service", "service", "direct"):
            if kind == "direct":
                # As many threads as the server has workers; the service records every labeling in its
                # registry, so does the direct run.
                start = time.perf_counter()
                with ThreadPoolExecutor(workers) as pool:
                    list(pool.map(lambda _: labeler.label_bytes(jpeg, options, record=True), range(calls)))
                seconds["direct"].append(time.perf_counter() - start)
            else:
                run, elapsed = client_process.submit(client_latencies, server.target, jpeg, calls, 4).result()
                latencies.extend(run)
                seconds["service"].append(elapsed)
    direct_rate = calls / (sum(seconds["direct"]) / 2)
    service_rate = calls / (sum(seconds["service"]) / 2)
    raw = {"calls": calls, "runs_each": 2, "concurrency": 4, "workers": workers,
           "p50_ms": percentile(latencies, 50) * 1e3, "p99_ms": percentile(latencies, 99) * 1e3,
           "service_calls_per_s": service_rate, "direct_calls_per_s": direct_rate,
           "ratio": service_rate / direct_rate, "jpeg_bytes": len(jpeg),
           "runs_s": {k: [round(x, 2) for x in v] for k, v in seconds.items()}}
    text = table(
        ["calls (x2 runs)", "p50 ms", "p99 ms", "service calls/s", "direct API calls/s", "service / direct"],
        [[calls, f"{raw['p50_ms']:.0f}", f"{raw['p99_ms']:.0f}", f"{service_rate:.1f}", f"{direct_rate:.1f}",
          f"{raw['ratio'] * 100:.0f}%"]],
    )
    return text, raw


def make_big_video(path: Path, megabytes: int) -> Path:
    """An H.264 MP4 of about ``megabytes``: 1280x720 noise, lossless (qp 0), so every frame is ~1.4 MB."""
    rng = np.random.default_rng(11)
    with av.open(str(path), "w", format="mp4") as sink:
        stream = sink.add_stream("libx264", rate=25, options={"qp": "0", "preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        frame_index = written = 0
        while written < megabytes * 1_000_000:
            planes = rng.integers(16, 236, (720 * 3 // 2, 1280), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
            frame.pts = frame_index
            frame_index += 1
            packets = stream.encode(frame)
            written += sum(packet.size for packet in packets)
            sink.mux(packets)
        sink.mux(stream.encode(None))
    return path


def _streamed_call(server: Server, method: str, requests: Iterator[Any]) -> tuple[str, Any, float, float, float]:
    """Run one streaming call while sampling this process's RSS (the server runs in it): status, reply,
    RSS before, peak RSS, seconds."""
    peak = [rss_mb()]
    before = peak[0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss_mb())
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    code, reply = "OK", None
    with grpc.insecure_channel(server.target, options=[("grpc.max_send_message_length", 8 << 20)]) as channel:
        stub = pb_grpc.LabelerServiceStub(channel)
        try:
            if method == "Verify":
                reply = stub.Verify(requests, timeout=1800)
            else:
                reply = sum(len(r.chunk) for r in stub.Label(requests, timeout=1800))  # bytes streamed back
        except grpc.RpcError as error:
            code = error.code().name
    elapsed = time.perf_counter() - start
    stop.set()
    sampler.join()
    return code, reply, before, peak[0], elapsed


def _file_chunks(path: Path, size: int = 1 << 20) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while block := handle.read(size):
            yield block


def big_upload_section(server: Server, megabytes: int, label_megabytes: int, workdir: Path) -> tuple[str, Any]:
    """Verify a ``megabytes`` MP4 and Label a ``label_megabytes`` one through the service; watch the RSS."""
    made = time.perf_counter()
    big = make_big_video(workdir / "big.mp4", megabytes)
    small = make_big_video(workdir / "small.mp4", label_megabytes)
    made_s = time.perf_counter() - made
    rows, raw = [], {"video": "H.264 1280x720 25 fps, lossless noise", "prepare_s": made_s}

    def verify_requests() -> Iterator[pb.VerifyRequest]:
        yield pb.VerifyRequest(config=pb.VerifyConfig(filename="big.mp4"))
        for block in _file_chunks(big):
            yield pb.VerifyRequest(chunk=block)

    def label_requests() -> Iterator[pb.LabelRequest]:
        yield pb.LabelRequest(config=pb.LabelConfig(content_producer="bench"))
        for block in _file_chunks(small):
            yield pb.LabelRequest(chunk=block)

    for method, path, requests in (("Verify", big, verify_requests()), ("Label", small, label_requests())):
        code, reply, before, peak, elapsed = _streamed_call(server, method, requests)
        size_mb = path.stat().st_size / 1e6
        outcome = code if reply is None else (
            f"OK, {pb.Verdict.Name(reply.verdict)}" if method == "Verify" else f"OK, {reply / 1e6:.0f} MB back")
        rows.append([method, f"{size_mb:.0f}", outcome, f"{peak - before:.0f}", f"{elapsed:.1f}"])
        raw[method] = {"upload_mb": size_mb, "status": code, "rss_before_mb": before, "rss_peak_mb": peak,
                       "rss_growth_mb": peak - before, "seconds": elapsed}
    text = table(["call", "upload MB", "outcome", "RSS growth MB (client + server process)", "seconds"], rows)
    return text, raw


def soak_section(server: Server, jpeg: bytes, calls: int) -> tuple[str, Any]:
    small = io.BytesIO()
    Image.open(io.BytesIO(jpeg)).resize((400, 300)).save(small, "JPEG", quality=85)
    small_jpeg = small.getvalue()
    cases: list[tuple[str, str, bytes, set[str]]] = [
        ("label", "valid", small_jpeg, {"OK"}),
        ("verify", "valid", small_jpeg, {"OK"}),
        ("verify", "truncated", small_jpeg[: len(small_jpeg) // 3], {"CORRUPT_MEDIA"}),
        ("label", "unsupported", b"GIF89a" + bytes(200), {"UNSUPPORTED_FORMAT"}),
        ("verify", "garbage", os.urandom(5000), {"UNSUPPORTED_FORMAT"}),
        ("label", "empty", b"", {"EMPTY_MEDIA"}),
    ]
    outcomes: Counter[str] = Counter()
    unexpected: Counter[str] = Counter()
    # Spool files are unlinked at creation (tempfile.TemporaryFile), so a leaked one shows as an open fd.
    fds_before, rss_before = open_fds(), rss_mb()
    config = pb.LabelConfig(content_producer="soak")
    with LabelerClient(server.target) as client:

        def one(i: int) -> None:
            method, kind, data, expected = cases[i % len(cases)]
            try:
                if method == "label":
                    client.label(data, config)
                else:
                    client.verify(data)
                got = "OK"
            except LabelerError as error:
                got = error.code
            outcomes[f"{method}/{kind}: {got}"] += 1
            if got not in expected:
                unexpected[f"{method}/{kind}: {got}"] += 1

        start = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(one, range(calls)))
        elapsed = time.perf_counter() - start
    time.sleep(0.5)
    raw = {"calls": calls, "seconds": elapsed, "unexpected": dict(unexpected), "outcomes": dict(outcomes),
           "fd_growth": open_fds() - fds_before, "rss_growth_mb": rss_mb() - rss_before,
           "inflight_after": server.running.pool.admitted}
    text = table(["calls", "seconds", "unexpected outcomes", "open fd growth (incl. spool files)",
                  "calls in flight after",
                  "RSS growth MB"],
                 [[calls, f"{elapsed:.0f}", sum(unexpected.values()), raw["fd_growth"], raw["inflight_after"],
                   f"{raw['rss_growth_mb']:.0f}"]])
    return text, raw


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=400, help="Label calls per run for the latency table")
    parser.add_argument("--soak", type=int, default=10_000, help="mixed calls in the soak")
    parser.add_argument("--big-mb", type=int, default=500, help="size of the large video verified")
    parser.add_argument("--label-mb", type=int, default=50, help="size of the video labeled (re-encoded)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--data", type=Path, default=Path("bench-data"))
    parser.add_argument("--out", type=Path, default=Path("out/bench"))
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    jpeg = one_mp_jpeg(args.data)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        spool = Path(tmp) / "spool"
        spool.mkdir()
        registry = Registry.open(Path(tmp) / "registry.sqlite")
        limits = Limits(max_bytes=(max(args.big_mb, args.label_mb) + 16) * 1024 * 1024)
        labeler = Labeler(KEY, registry, limits)
        settings = ServiceSettings(address="127.0.0.1:0", workers=args.workers, queue_depth=16, limits=limits,
                                   spool_dir=spool)
        server = Server(settings, labeler, Verifier(KEY, registry, limits))
        print(f"# Service load benchmark\n\nloopback, {args.workers} workers, 1 MP JPEG {len(jpeg)} bytes\n")
        try:
            for title, run in (
                ("Label latency and throughput (concurrency 4)",
                 lambda: latency_section(server, labeler, jpeg, args.calls, args.workers)),
                (f"Large video upload ({args.big_mb} MB)",
                 lambda: big_upload_section(server, args.big_mb, args.label_mb, Path(tmp))),
                (f"Soak ({args.soak} mixed calls)", lambda: soak_section(server, jpeg, args.soak)),
            ):
                text, raw = run()
                results[title] = raw
                print(f"## {title}\n\n{text}\n", flush=True)
        finally:
            server.stop()
            registry.close()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "service.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
