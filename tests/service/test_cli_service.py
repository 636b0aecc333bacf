"""`labeler serve` as a real process, driven by `labeler label/verify/propagate --server`."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from labeler.service.settings import hash_token
from tests.test_cli import run

TOKEN = "cli-test-token"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(key_file: Path, tmp_path: Path) -> Iterator[str]:
    address = f"127.0.0.1:{_free_port()}"
    process = subprocess.Popen(
        [sys.executable, "-m", "labeler", "serve", "--address", address, "--key-file", str(key_file),
         "--registry", str(tmp_path / "server-registry.sqlite"), "--token-hash", hash_token(TOKEN),
         "--workers", "2", "--grace", "5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with grpc.insecure_channel(address) as channel:
                    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        break
            except grpc.RpcError:
                pass
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        yield address
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 0, stderr
        assert '"event": "draining"' in stderr  # graceful shutdown path taken


def test_label_and_verify_through_the_server(
    server: str, make_image: Callable[..., Path], tmp_path: Path
) -> None:
    src = make_image("png", 400, 500)
    out = tmp_path / "labeled.png"
    code, stdout, stderr = run("label", src, out, "--server", server, "--token", TOKEN, "--producer", "svc-test",
                               "--json")
    assert code == 0, stderr
    info = json.loads(stdout)
    assert info["server"] == server and info["recorded"] and out.exists()
    code, stdout, stderr = run("verify", out, src, "--server", server, "--token", TOKEN, "--json")
    assert code == 1, stderr  # the original is unlabelled
    results = json.loads(stdout)["results"]
    assert results[0]["verdict"] == "confirmed" and results[0]["registry"]
    assert results[1]["verdict"] == "none"
    code, stdout, _ = run("verify", out, "--server", server, "--token", TOKEN)
    assert code == 0 and "CONFIRMED" in stdout


def test_a_video_goes_through_the_server_streamed_from_and_to_disk(server: str, tmp_path: Path) -> None:
    from tests.video.clips import make_clip

    src = make_clip(tmp_path / "clip.mp4", frames=50)
    out = tmp_path / "labeled.mp4"
    auth = ["--server", server, "--token", TOKEN]
    code, stdout, stderr = run("label", src, out, *auth, "--json")
    assert code == 0, stderr
    assert json.loads(stdout)["format"] == "mp4" and out.read_bytes()[4:8] == b"ftyp"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []
    code, stdout, stderr = run("verify", out, *auth, "--json")
    assert code == 0, stderr
    assert json.loads(stdout)["results"][0]["verdict"] == "confirmed"
    shown = tmp_path / "shown.mp4"
    code, stdout, stderr = run("propagate", out, shown, "--propagator", "P", *auth, "--json")
    assert code == 0, stderr
    assert json.loads(stdout)["verdict"] == "confirmed" and shown.read_bytes()[4:8] == b"ftyp"
    code, _, stderr = run("label", tmp_path / "missing.mp4", tmp_path / "x.mp4", *auth)
    assert code == 2 and "INPUT_NOT_FOUND" in stderr


def test_server_errors_keep_their_codes(server: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 64)
    code, _, stderr = run("label", bad, tmp_path / "o.jpg", "--server", server, "--token", TOKEN)
    assert code == 2 and "CORRUPT_MEDIA" in stderr
    assert not (tmp_path / "o.jpg").exists()
    code, _, stderr = run("verify", bad, "--server", server, "--token", "wrong")
    assert code == 2 and "UNAUTHENTICATED" in stderr


def test_propagate_through_the_server(server: str, make_image: Callable[..., Path], tmp_path: Path) -> None:
    src = make_image("jpeg", 400, 500)
    out = tmp_path / "platform.jpg"
    code, stdout, stderr = run("propagate", src, out, "--propagator", "PLATFORM", "--declared", "--server", server,
                               "--token", TOKEN, "--json")
    assert code == 0, stderr
    info = json.loads(stdout)
    assert info["verdict"] == "possible" and info["label_text"] == "可能为AI生成"
    assert info["aigc"]["ContentPropagator"] == "PLATFORM" and info["aigc"]["Label"] == "2"


def test_local_propagate_of_a_video(key_file: Path, registry_path: Path, tmp_path: Path) -> None:
    from tests.video.clips import make_clip

    src = make_clip(tmp_path / "clip.mp4", frames=50)
    out = tmp_path / "propagated.mp4"
    opts = ["--key-file", str(key_file), "--registry", str(registry_path)]
    code, stdout, stderr = run("propagate", src, out, "--propagator", "P", "--declared", "--json", *opts)
    assert code == 0, stderr
    info = json.loads(stdout)
    assert info["verdict"] == "possible" and info["label_text"] == "可能为AI生成"
    assert info["aigc"]["ContentPropagator"] == "P" and out.read_bytes()[4:8] == b"ftyp"
    verified = json.loads(run("verify", out, *opts, "--json")[1])["results"][0]
    assert verified["metadata"]["fields"]["Label"] == "2"


def test_local_propagate_and_hash_token(
    make_image: Callable[..., Path], key_file: Path, registry_path: Path, tmp_path: Path
) -> None:
    src = make_image("png", 400, 500)
    labeled = tmp_path / "labeled.png"
    opts = ["--key-file", str(key_file), "--registry", str(registry_path)]
    assert run("label", src, labeled, *opts)[0] == 0
    out = tmp_path / "propagated.png"
    code, stdout, stderr = run("propagate", labeled, out, "--propagator", "P", "--propagate-id", "u1", *opts)
    assert code == 0, stderr
    assert "CONFIRMED" in stdout and "AI生成" in stdout
    verified = json.loads(run("verify", out, *opts, "--json")[1])["results"][0]
    assert verified["metadata"]["fields"]["ContentPropagator"] == "P"
    hashed = subprocess.run([sys.executable, "-m", "labeler", "keys", "hash-token"], input="abc\n",
                            capture_output=True, text=True, check=True)
    assert hashed.stdout.strip() == hash_token("abc")
