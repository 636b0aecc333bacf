"""The committed stubs in labeler/v1/ are what `make proto` generates from protos/ today."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ("labeler_pb2.py", "labeler_pb2.pyi", "labeler_pb2_grpc.py")


def test_generated_stubs_are_fresh(tmp_path: Path) -> None:
    protoc = pytest.importorskip("grpc_tools.protoc")
    status = protoc.main([
        "grpc_tools.protoc", f"-I{ROOT / 'protos'}", f"--python_out={tmp_path}", f"--pyi_out={tmp_path}",
        f"--grpc_python_out={tmp_path}", str(ROOT / "protos/labeler/v1/labeler.proto"),
    ])
    assert status == 0
    for name in GENERATED:
        fresh = (tmp_path / "labeler/v1" / name).read_text()
        committed = (ROOT / "labeler/v1" / name).read_text()
        assert fresh == committed, f"labeler/v1/{name} is stale: run `make proto` and commit the result"


def test_proto_follows_buf_style() -> None:
    text = (ROOT / "protos/labeler/v1/labeler.proto").read_text()
    assert "package labeler.v1;" in text
    for enum in ("Corner", "Verdict"):
        assert f"{enum.upper()}_UNSPECIFIED = 0;" in text
