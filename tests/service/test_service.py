"""The gRPC service over a real loopback socket: every RPC, error paths, auth, TLS, limits, deadlines,
back-pressure, disconnects, concurrency, shutdown, health, reflection and metrics."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from PIL import Image

from labeler import errors
from labeler.client import LabelerClient, TlsClientSettings
from labeler.pipeline import Labeler
from labeler.service.settings import ServiceSettings, TlsSettings, hash_token
from labeler.service.status import error_reason, retry_delay_seconds
from labeler.settings import Limits
from labeler.store.registry import Registry
from labeler.v1 import labeler_pb2 as pb
from labeler.v1 import labeler_pb2_grpc as pb_grpc
from labeler.verification import Verifier
from labeler.watermark import WatermarkKey
from tests.conftest import image_bytes
from tests.service.conftest import ServerThread

CONFIG = pb.LabelConfig(content_producer="001191320000000000AIGCTEST", produce_id="job-1")


def _raw_label(target: str, requests: list[Any], **kwargs: Any) -> list[Any]:
    with grpc.insecure_channel(target) as channel:
        return list(pb_grpc.LabelerServiceStub(channel).Label(iter(requests), timeout=30, **kwargs))


def test_label_then_verify_round_trip(start: Callable[..., ServerThread]) -> None:
    server = start()
    original = image_bytes("jpeg", 600, 800)
    with LabelerClient(server.target, chunk_bytes=16 * 1024) as client:  # many chunks each way
        reply = client.label(original, CONFIG)
        assert reply.result.format == "jpeg" and reply.result.recorded
        assert len(reply.data) == reply.result.output_bytes
        assert len(reply.result.watermark_id) == 16
        assert Image.open(io.BytesIO(reply.data)).size == (800, 600)
        assert json.loads(reply.result.result_json)["produce_id"] == "job-1"
        verdict = client.verify(reply.data, filename="out.jpg")
        assert verdict.verdict == pb.VERDICT_CONFIRMED
        assert verdict.watermark.detected and verdict.watermark.watermark_id == reply.result.watermark_id
        assert verdict.watermark.false_positive_probability <= 1e-6
        assert json.loads(verdict.aigc_json)["ContentProducer"] == CONFIG.content_producer
        assert json.loads(verdict.report_json)["registry"], "the server's registry holds the labeling"
        unmarked = client.verify(original)
        assert unmarked.verdict == pb.VERDICT_NONE and not unmarked.watermark.detected
        assert unmarked.reason  # never a silent "no"
        assert not verdict.watermark.mirrored and verdict.watermark.right_angle_turns == 0
        edits = ((Image.Transpose.FLIP_LEFT_RIGHT, True, 0), (Image.Transpose.ROTATE_270, False, 1))  # 270° ccw
        for edit, mirrored, turns in edits:
            edited = io.BytesIO()
            Image.open(io.BytesIO(reply.data)).transpose(edit).save(edited, "JPEG", quality=90)
            found = client.verify(edited.getvalue())
            assert found.watermark.detected and found.watermark.watermark_id == reply.result.watermark_id
            assert (found.watermark.mirrored, found.watermark.right_angle_turns) == (mirrored, turns)


def test_label_options_reach_the_pipeline(start: Callable[..., ServerThread]) -> None:
    server = start()
    config = pb.LabelConfig(content_producer="p", no_visible=True, watermark_id=0xABCDEF, position=pb.CORNER_TOP_LEFT)
    with LabelerClient(server.target) as client:
        reply = client.label(image_bytes("png", 400, 500), config)
    result = json.loads(reply.result.result_json)
    assert result["visible_label"] is None
    assert reply.result.watermark_id == f"{0xABCDEF:016x}"


def test_propagate_follows_the_verdict(start: Callable[..., ServerThread]) -> None:
    server = start()
    plain = image_bytes("png", 400, 600, seed=3)
    with LabelerClient(server.target) as client:
        labeled = client.label(plain, CONFIG).data
        confirmed = client.propagate(labeled, pb.PropagateConfig(content_propagator="PLATFORM-X", propagate_id="up-1"))
        declared = client.propagate(plain, pb.PropagateConfig(content_propagator="PLATFORM-X", user_declared=True))
        nothing = client.propagate(plain, pb.PropagateConfig(content_propagator="PLATFORM-X"))
        relabeled = client.verify(confirmed.data)
    assert confirmed.result.verdict == pb.VERDICT_CONFIRMED and confirmed.result.label_text == "AI生成"
    aigc = json.loads(confirmed.result.aigc_json)
    assert aigc["ContentProducer"] == CONFIG.content_producer and aigc["ProduceID"] == "job-1"
    assert aigc["ContentPropagator"] == "PLATFORM-X" and aigc["PropagateID"] == "up-1"
    assert json.loads(relabeled.aigc_json)["ContentPropagator"] == "PLATFORM-X"
    assert declared.result.verdict == pb.VERDICT_POSSIBLE and declared.result.label_text == "可能为AI生成"
    assert json.loads(declared.result.aigc_json)["Label"] == "2"
    assert nothing.result.verdict == pb.VERDICT_NONE and not nothing.result.media_changed
    assert nothing.data == plain


@pytest.mark.parametrize(
    ("requests", "code", "reason"),
    [
        ([pb.LabelRequest(config=CONFIG), pb.LabelRequest(chunk=image_bytes("jpeg")[:700])],
         grpc.StatusCode.INVALID_ARGUMENT, "CORRUPT_MEDIA"),
        ([pb.LabelRequest(config=CONFIG), pb.LabelRequest(chunk=b"GIF89a" + b"\0" * 100)],
         grpc.StatusCode.INVALID_ARGUMENT, "UNSUPPORTED_FORMAT"),
        ([pb.LabelRequest(chunk=b"x"), pb.LabelRequest(config=CONFIG)], grpc.StatusCode.INVALID_ARGUMENT,
         "INVALID_OPTION"),
        ([pb.LabelRequest(config=CONFIG)], grpc.StatusCode.INVALID_ARGUMENT, "EMPTY_MEDIA"),
        ([pb.LabelRequest(config=pb.LabelConfig()), pb.LabelRequest(chunk=image_bytes("png"))],
         grpc.StatusCode.INVALID_ARGUMENT, "INVALID_OPTION"),
        ([pb.LabelRequest(config=pb.LabelConfig(content_producer="p", position=99)),
          pb.LabelRequest(chunk=image_bytes("png"))], grpc.StatusCode.INVALID_ARGUMENT, "INVALID_OPTION"),
    ],
    ids=["truncated", "unsupported", "chunk-first", "no-media", "no-producer", "bad-enum"],
)
def test_bad_uploads_get_invalid_argument_with_a_reason(
    start: Callable[..., ServerThread], requests: list[Any], code: grpc.StatusCode, reason: str
) -> None:
    server = start()
    with pytest.raises(grpc.RpcError) as caught:
        _raw_label(server.target, requests)
    assert caught.value.code() == code
    assert error_reason(caught.value) == reason


def test_limits_are_enforced(start: Callable[..., ServerThread]) -> None:
    server = start(limits=Limits(max_bytes=300_000, max_pixels=200_000))
    too_big = image_bytes("png", 600, 800, seed=9)
    too_many_pixels = image_bytes("jpeg", 600, 800)
    assert len(too_big) > 300_000 and len(too_many_pixels) < 300_000
    with LabelerClient(server.target) as client:
        with pytest.raises(errors.MediaTooLarge, match="bytes"):
            client.label(too_big, CONFIG)
        with pytest.raises(errors.MediaTooLarge):
            client.verify(too_many_pixels)  # 480,000 px > 200,000
        assert client.verify(image_bytes("jpeg", 300, 400)).verdict == pb.VERDICT_NONE


def test_bearer_tokens(start: Callable[..., ServerThread]) -> None:
    server = start(token_hashes=(hash_token("s3cret-token"),))
    data = image_bytes("jpeg", 300, 400)
    for token in (None, "wrong"):
        with LabelerClient(server.target, token=token) as client, pytest.raises(errors.ServiceError, match="UNAUTH"):
            client.verify(data)
    with LabelerClient(server.target, token="s3cret-token") as client:
        assert client.verify(data).verdict == pb.VERDICT_NONE
    with grpc.insecure_channel(server.target) as channel:  # health stays open for load balancers
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


def _cert(subject: str, issuer_key: Any, issuer: x509.Name | None, key: Any, ca: bool, sans: list[Any]) -> Any:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder().subject_name(name).issuer_name(issuer or name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Path]:
    """A throwaway CA, a server certificate for localhost/127.0.0.1 and a client certificate."""
    import ipaddress

    files: dict[str, Path] = {}

    def write(name: str, data: bytes) -> None:
        files[name] = tmp_path / name
        files[name].write_bytes(data)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("test CA", ca_key, None, ca_key, True, [])
    write("ca.pem", ca.public_bytes(serialization.Encoding.PEM))
    for role, sans in (("server", [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       ("client", [])):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _cert(role, ca_key, ca.subject, key, False, sans)
        write(f"{role}.pem", cert.public_bytes(serialization.Encoding.PEM))
        write(f"{role}.key", key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    return files


def test_tls_and_mutual_tls(start: Callable[..., ServerThread], pki: dict[str, Path]) -> None:
    data = image_bytes("jpeg", 300, 400)
    tls = start(tls=TlsSettings(pki["server.pem"], pki["server.key"]))
    with LabelerClient(tls.target, tls=TlsClientSettings(root_certificates=pki["ca.pem"])) as client:
        assert client.verify(data).verdict == pb.VERDICT_NONE
    with LabelerClient(tls.target, timeout=5) as plaintext, pytest.raises(errors.ServiceError):
        plaintext.verify(data)

    mtls = start(tls=TlsSettings(pki["server.pem"], pki["server.key"], client_ca=pki["ca.pem"]))
    anonymous = LabelerClient(mtls.target, tls=TlsClientSettings(root_certificates=pki["ca.pem"]), timeout=5)
    with anonymous, pytest.raises(errors.ServiceError):
        anonymous.verify(data)
    with_cert = TlsClientSettings(pki["ca.pem"], cert_chain=pki["client.pem"], private_key=pki["client.key"])
    with LabelerClient(mtls.target, tls=with_cert) as client:
        assert client.verify(data).verdict == pb.VERDICT_NONE


class GatedLabeler(Labeler):
    """A Labeler whose calls wait for a gate, so tests can hold workers busy deterministically."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate = threading.Event()
        self.entered = threading.Semaphore(0)

    def label_bytes(self, *args: Any, **kwargs: Any) -> Any:
        self.entered.release()
        self.gate.wait(30)
        return super().label_bytes(*args, **kwargs)


@pytest.fixture
def gated(key: WatermarkKey, tmp_path: Path) -> Iterator[Callable[..., tuple[ServerThread, GatedLabeler]]]:
    servers: list[ServerThread] = []
    labelers: list[GatedLabeler] = []

    def make(**overrides: Any) -> tuple[ServerThread, GatedLabeler]:
        labeler = GatedLabeler(key, Registry.open(tmp_path / f"gated-{len(servers)}.sqlite"))
        settings = ServiceSettings(address="127.0.0.1:0", **overrides)
        server = ServerThread(settings, labeler, Verifier(key))
        servers.append(server)
        labelers.append(labeler)
        return server, labeler

    yield make
    for labeler in labelers:
        labeler.gate.set()
    for server in servers:
        server.stop()


def test_back_pressure_refuses_with_retry_info(gated: Callable[..., tuple[ServerThread, GatedLabeler]]) -> None:
    server, labeler = gated(workers=1, queue_depth=0, retry_after_seconds=0.25)
    data = image_bytes("jpeg", 300, 400)
    with ThreadPoolExecutor(1) as pool, LabelerClient(server.target) as client:
        first = pool.submit(client.label, data, CONFIG)
        assert labeler.entered.acquire(timeout=20)
        with pytest.raises(grpc.RpcError) as caught:
            _raw_label(server.target, [pb.LabelRequest(config=CONFIG), pb.LabelRequest(chunk=data)])
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert error_reason(caught.value) == "OVERLOADED"
        assert retry_delay_seconds(caught.value) == pytest.approx(0.25)
        labeler.gate.set()
        assert first.result(30).result.format == "jpeg"
        assert client.label(data, CONFIG).result.format == "jpeg"  # capacity is back


def test_deadline_is_honoured(gated: Callable[..., tuple[ServerThread, GatedLabeler]]) -> None:
    server, labeler = gated(workers=1, queue_depth=0)
    with LabelerClient(server.target, timeout=0.5) as client, pytest.raises(errors.ServiceError, match="DEADLINE"):
        client.label(image_bytes("jpeg", 300, 400), CONFIG)
    labeler.gate.set()
    # The slot is released once the worker finishes, then new calls are admitted again.
    deadline = time.monotonic() + 20
    while server.running.pool.admitted and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.running.pool.admitted == 0
    with LabelerClient(server.target) as client:
        assert client.label(image_bytes("jpeg", 300, 400), CONFIG).result.format == "jpeg"


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_client_disconnecting_mid_upload_leaks_nothing(start: Callable[..., ServerThread]) -> None:
    server = start(spool_memory_bytes=64 * 1024)  # force the spool to disk
    data = image_bytes("png", 600, 800, seed=5)
    sent = threading.Event()

    def requests() -> Iterator[pb.LabelRequest]:
        yield pb.LabelRequest(config=CONFIG)
        for start_at in range(0, 200_000, 20_000):
            yield pb.LabelRequest(chunk=data[start_at : start_at + 20_000] or b"x" * 20_000)
        sent.set()
        time.sleep(30)  # never finish the upload: the client goes away instead

    before = _open_fds()
    for _ in range(3):
        sent.clear()
        with grpc.insecure_channel(server.target) as channel:
            call = pb_grpc.LabelerServiceStub(channel).Label(requests(), timeout=60)
            assert sent.wait(20)
            call.cancel()
    deadline = time.monotonic() + 20
    while (server.running.pool.admitted or _open_fds() > before + 2) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.running.pool.admitted == 0
    assert _open_fds() <= before + 2  # spool files closed (the channel's own sockets may linger briefly)
    assert server.running.metrics.inflight._value.get() == 0


def test_concurrent_calls(start: Callable[..., ServerThread]) -> None:
    server = start(workers=2, queue_depth=6)
    inputs = [image_bytes("jpeg", 320, 480, seed=i) for i in range(8)]
    with LabelerClient(server.target) as client, ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda d: client.label(d, pb.LabelConfig(content_producer="p")), inputs))
    ids = {r.result.watermark_id for r in replies}
    assert len(ids) == 8  # every call got its own ProduceID and hence its own watermark ID


def test_graceful_shutdown_drains_in_flight_calls(gated: Callable[..., tuple[ServerThread, GatedLabeler]]) -> None:
    server, labeler = gated(workers=1, queue_depth=0, shutdown_grace_seconds=20)
    with ThreadPoolExecutor(2) as pool, LabelerClient(server.target) as client:
        in_flight = pool.submit(client.label, image_bytes("jpeg", 300, 400), CONFIG)
        assert labeler.entered.acquire(timeout=20)
        stopping = pool.submit(server.call, server.running.stop())
        time.sleep(0.3)
        labeler.gate.set()
        assert in_flight.result(30).result.format == "jpeg"
        stopping.result(30)
    server.running = _Stopped()  # type: ignore[assignment]


class _Stopped:
    async def stop(self) -> None:
        return None


def test_health_and_reflection(start: Callable[..., ServerThread]) -> None:
    server = start()
    with grpc.insecure_channel(server.target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "labeler.v1.LabelerService"):
            reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        responses = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        names = {s.name for r in responses for s in r.list_services_response.service}
    assert {"labeler.v1.LabelerService", "grpc.health.v1.Health"} <= names


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_prometheus_metrics(start: Callable[..., ServerThread]) -> None:
    port = _free_port()
    server = start(metrics_port=port)
    with LabelerClient(server.target) as client:
        client.label(image_bytes("jpeg", 300, 400), CONFIG)
        with pytest.raises(errors.CorruptMedia):
            client.verify(image_bytes("jpeg")[:500])
    # the server counts a call after its status reached the client: poll briefly for the last one
    failed_verify = 'labeler_requests_total{code="INVALID_ARGUMENT",method="Verify"} 1.0'
    deadline = time.monotonic() + 10
    while True:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
        if failed_verify in text or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert 'labeler_requests_total{code="OK",method="Label"} 1.0' in text
    assert failed_verify in text
    assert "labeler_request_seconds_bucket" in text


def test_unsupported_upload_is_refused_after_its_first_chunk(start: Callable[..., ServerThread]) -> None:
    server = start(limits=Limits(max_bytes=2**31))
    sent = [0]

    def requests() -> Iterator[pb.VerifyRequest]:
        yield pb.VerifyRequest(config=pb.VerifyConfig(filename="archive.zip"))
        chunk = b"PK\x03\x04" + bytes(1024 * 1024 - 4)  # a ZIP header: no handler for it
        for _ in range(400):
            sent[0] += 1
            yield pb.VerifyRequest(chunk=chunk)

    with grpc.insecure_channel(server.target) as channel, pytest.raises(grpc.RpcError) as caught:
        pb_grpc.LabelerServiceStub(channel).Verify(requests(), timeout=60)
    assert error_reason(caught.value) == "UNSUPPORTED_FORMAT"
    assert sent[0] < 100  # refused on the first chunk, not after 400 MB


def test_head_check_matches_the_full_sniff() -> None:
    from labeler.sniffing import check_head, check_head_or_video, is_video_head

    for fmt in ("jpeg", "png", "webp"):
        check_head(image_bytes(fmt, 64, 64)[:64])
    check_head(b"RIFF\x00\x00\x00\x00WAVEfmt ")
    check_head(b"ID3\x04\x00\x00\x00\x00\x00\x00")
    for junk in (b"\x1a\x45\xdf\xa3", b"GIF89a", b"PK\x03\x04", b"x"):
        with pytest.raises(errors.UnsupportedFormat):
            check_head(junk)
    # Label and Verify also take video (spooled to a named file); an M4A brand stays audio.
    webm, mp4, m4a = b"\x1a\x45\xdf\xa3" + bytes(60), b"\x00\x00\x00\x20ftypisom", b"\x00\x00\x00\x1cftypM4A "
    assert is_video_head(webm) and is_video_head(mp4) and not is_video_head(m4a)
    for head in (webm, mp4, m4a):
        check_head_or_video(head)
    for junk in (b"GIF89a", b"PK\x03\x04", b"x"):
        with pytest.raises(errors.UnsupportedFormat):
            check_head_or_video(junk)


def test_video_is_labeled_and_verified_from_disk(start: Callable[..., ServerThread], tmp_path: Path) -> None:
    from tests.video.clips import make_clip

    spool = tmp_path / "spool"
    spool.mkdir()
    server = start(spool_dir=spool, spool_memory_bytes=1 << 30)  # a video is spooled to a named file anyway
    clip = make_clip(tmp_path / "clip.mp4", frames=50).read_bytes()
    with LabelerClient(server.target, chunk_bytes=64 * 1024) as client:
        reply = client.label(clip, CONFIG)
        assert reply.result.format == "mp4" and (reply.result.width, reply.result.height) == (384, 256)
        assert reply.result.recorded and len(reply.result.watermark_id) == 16
        assert len(reply.data) == reply.result.output_bytes and reply.data[4:8] == b"ftyp"
        verdict = client.verify(reply.data, filename="labeled.mp4")
        assert verdict.verdict == pb.VERDICT_CONFIRMED
        assert verdict.watermark.detected and verdict.watermark.watermark_id == reply.result.watermark_id
        assert verdict.watermark.false_positive_probability <= 1e-6
        assert json.loads(verdict.aigc_json)["ContentProducer"] == CONFIG.content_producer
        report = json.loads(verdict.report_json)
        assert report["source"] == "labeled.mp4" and report["registry"]
        unmarked = client.verify(clip, filename="clip.mp4")
        assert unmarked.verdict == pb.VERDICT_NONE and not unmarked.watermark.detected
        with pytest.raises(errors.LabelerError) as caught:
            client.verify(clip[:64] + bytes(len(clip)), filename="broken.mp4")
        assert caught.value.code == "CORRUPT_MEDIA"
    # Uploads and labeled outputs are removed when each call ends (an aborted call's status reaches the
    # client just before the server's clean-up runs, hence the short wait).
    deadline = time.monotonic() + 10
    while list(spool.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(spool.iterdir()) == []


def test_audio_is_labeled_and_verified_from_disk_streamed(
    start: Callable[..., ServerThread], tmp_path: Path, key: WatermarkKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labeler.service.servicer import label_options
    from tests.audio.audio_helpers import encode, music_like

    spool = tmp_path / "spool"
    spool.mkdir()
    server = start(spool_dir=spool, spool_memory_bytes=1 << 30)  # audio goes to a named file for Label and Verify
    wav = encode(music_like(6.0, 44100), 44100, "wav", "pcm_s16le")
    mp3 = encode(music_like(6.0, 44100), 44100, "mp3", "libmp3lame", 128_000)
    expected_outputs = {fmt: Labeler(key).label_bytes(data, label_options(CONFIG), record=False)
                        for data, fmt in ((wav, "wav"), (mp3, "mp3"))}

    def not_in_memory(*args: object, **kwargs: object) -> None:
        raise AssertionError("audio uploads are labeled and verified from their spooled path, not in memory")

    monkeypatch.setattr(Labeler, "label_bytes", not_in_memory)
    monkeypatch.setattr(Verifier, "verify_bytes", not_in_memory)
    with LabelerClient(server.target, chunk_bytes=64 * 1024) as client:
        for data, fmt in ((wav, "wav"), (mp3, "mp3")):
            reply = client.label(data, CONFIG)
            expected = expected_outputs[fmt]
            assert reply.result.format == fmt and reply.result.recorded
            assert reply.data == expected.data and reply.result.output_bytes == len(expected.data)
            assert reply.result.output_sha256 == expected.output_sha256
            assert json.loads(reply.result.result_json)["audio"] == expected.audio
            verdict = client.verify(reply.data, filename=f"labeled.{fmt}")
            assert verdict.verdict == pb.VERDICT_CONFIRMED
            assert verdict.watermark.watermark_id == reply.result.watermark_id
        with pytest.raises(errors.LabelerError) as caught:
            client.label(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(100), CONFIG)  # streamed: still CORRUPT_MEDIA
        assert caught.value.code == "CORRUPT_MEDIA"
    deadline = time.monotonic() + 10
    while list(spool.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(spool.iterdir()) == []


def test_a_video_is_propagated_from_disk(start: Callable[..., ServerThread], tmp_path: Path) -> None:
    from tests.video.clips import make_clip

    spool = tmp_path / "spool"
    spool.mkdir()
    server = start(spool_dir=spool)
    clip = make_clip(tmp_path / "clip.mp4", frames=50).read_bytes()
    platform = pb.PropagateConfig(content_propagator="PLATFORM-V", propagate_id="up-9")
    with LabelerClient(server.target, chunk_bytes=64 * 1024) as client:
        labeled = client.label(clip, CONFIG).data
        confirmed = client.propagate(labeled, platform)
        nothing = client.propagate(clip, platform)
        again = client.verify(confirmed.data, filename="propagated.mp4")
    assert confirmed.result.verdict == pb.VERDICT_CONFIRMED and confirmed.result.label_text == "AI生成"
    assert confirmed.result.media_changed and confirmed.data[4:8] == b"ftyp"
    assert len(confirmed.data) == confirmed.result.output_bytes
    assert hashlib.sha256(confirmed.data).hexdigest() == confirmed.result.output_sha256
    aigc = json.loads(confirmed.result.aigc_json)
    assert aigc["ContentProducer"] == CONFIG.content_producer and aigc["ContentPropagator"] == "PLATFORM-V"
    assert json.loads(again.aigc_json)["PropagateID"] == "up-9" and again.verdict == pb.VERDICT_CONFIRMED
    assert nothing.result.verdict == pb.VERDICT_NONE and not nothing.result.media_changed and nothing.data == clip
    deadline = time.monotonic() + 10
    while list(spool.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(spool.iterdir()) == []


def test_a_video_upload_is_spooled_to_a_named_file(tmp_path: Path) -> None:
    import asyncio

    from labeler.service.spool import receive
    from labeler.sniffing import check_head_or_video, is_video_head

    settings = ServiceSettings(spool_dir=tmp_path, spool_memory_bytes=1 << 20)
    head = b"\x00\x00\x00\x20ftypisom" + bytes(100)

    async def upload(data: bytes) -> Any:
        async def requests() -> Any:
            yield pb.VerifyRequest(config=pb.VerifyConfig())
            for i in range(0, len(data), 50):
                yield pb.VerifyRequest(chunk=data[i : i + 50])

        return await receive(requests(), settings, check_head_or_video, needs_path=is_video_head)

    video = asyncio.run(upload(head + b"rest"))
    assert video.path is not None and video.path.parent == tmp_path and video.path.read_bytes() == head + b"rest"
    video.close()
    assert not video.path.exists()
    image = asyncio.run(upload(image_bytes("png", 64, 64)))
    assert image.path is None and image.read() == image_bytes("png", 64, 64)  # small: kept in memory
    image.close()
    assert list(tmp_path.iterdir()) == []


def test_video_label_is_signed_and_its_signature_checked_by_the_service(tmp_path: Path, key: WatermarkKey) -> None:
    from labeler.provenance.devca import init_dev_credentials
    from labeler.provenance.securitydata import LabelSigner
    from labeler.settings import TrustSettings
    from tests.video.clips import make_clip

    dev = init_dev_credentials(tmp_path / "config")
    settings = ServiceSettings(address="127.0.0.1:0", workers=2, queue_depth=2)
    labeler = Labeler(key, None, settings.limits, label_signer=LabelSigner.from_file(dev.label_key))
    verifier = Verifier(key, None, settings.limits, trust=TrustSettings(label_keys=(dev.label_key,)))
    server = ServerThread(settings, labeler, verifier)
    try:
        with LabelerClient(server.target) as client:
            reply = client.label(make_clip(tmp_path / "clip.mp4", frames=30).read_bytes(), CONFIG)
            assert json.loads(reply.result.result_json)["label_key_id"]
            report = json.loads(client.verify(reply.data, filename="signed.mp4").report_json)
        assert report["security_data"]["status"] == "authentic" and report["security_data"]["trusted"]
    finally:
        server.stop()
