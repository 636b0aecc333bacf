from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from labeler.cli import main
from tests.conftest import png_claiming_size


def run(*argv: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main([str(a) for a in argv], out, err)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture
def opts(key_file: Path, registry_path: Path) -> list[str]:
    return ["--key-file", str(key_file), "--registry", str(registry_path)]


def test_label_then_verify(make_image: Callable[..., Path], opts: list[str], tmp_path: Path) -> None:
    source = make_image("jpeg")
    target = tmp_path / "labeled.jpg"
    status, out, err = run("label", source, target, "--producer", "acme", "--produce-id", "cli-1", *opts)
    assert status == 0, err
    assert "visible label" in out and "id " in out and target.exists()

    status, out, err = run("verify", target, *opts)
    assert status == 0, err
    assert "CONFIRMED" in out and "ProduceID cli-1" in out and "ContentProducer=acme" in out

    status, out, _ = run("verify", target, "--json", *opts)
    report = json.loads(out)
    assert status == 0 and report["summary"] == {"files": 1, "errors": 0, "unlabelled": 0, "exit_status": 0}
    (entry,) = report["results"]
    assert entry["verdict"] == "confirmed" and entry["registry"][0]["produce_id"] == "cli-1"


def test_verify_says_how_an_edited_picture_was_turned_and_flipped(
    make_image: Callable[..., Path], opts: list[str], tmp_path: Path,
) -> None:
    from PIL import Image

    target = tmp_path / "labeled.png"
    assert run("label", make_image("png"), target, *opts)[0] == 0
    status, out, _ = run("verify", target, *opts)
    assert status == 0 and "the picture was" not in out
    edited = tmp_path / "edited.png"
    Image.open(target).transpose(Image.Transpose.TRANSVERSE).save(edited)  # mirror, then turn 90° clockwise
    status, out, err = run("verify", edited, *opts)
    assert status == 0, err
    assert "the picture was mirrored, then turned 90° clockwise" in out
    (entry,) = json.loads(run("verify", edited, "--json", *opts)[1])["results"]
    assert (entry["watermark"]["mirrored"], entry["watermark"]["right_angle_turns"]) == (True, 1)


def test_label_json_output(make_image: Callable[..., Path], opts: list[str], tmp_path: Path) -> None:
    status, out, _ = run("label", make_image("png"), tmp_path / "o.png", "--json", "--watermark-id", "00ff00ff00ff00ff",
                         "--label-text", "人工智能生成", "--position", "top-left", "--label-height", "0.08", *opts)
    info = json.loads(out)
    assert status == 0
    assert info["watermark_id"] == "00ff00ff00ff00ff"
    assert info["visible_label"]["text"] == "人工智能生成" and info["visible_label"]["corner"] == "top-left"
    assert info["visible_label"]["text_height_ratio"] >= 0.08
    assert info["aigc"]["Label"] == "1" and info["recorded"] is True


def test_verify_exit_codes(make_image: Callable[..., Path], opts: list[str], tmp_path: Path) -> None:
    labeled = tmp_path / "l.webp"
    assert run("label", make_image("webp", seed=1), labeled, *opts)[0] == 0
    plain = make_image("png", seed=2)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff" + b"\0" * 50)

    assert run("verify", labeled, *opts)[0] == 0
    status, out, _ = run("verify", labeled, plain, *opts)
    assert status == 1 and "NONE" in out
    status, _, err = run("verify", labeled, broken, *opts)
    assert status == 2 and "CORRUPT_MEDIA" in err
    status, out, _ = run("verify", tmp_path, "--json", *opts)  # a folder: its images
    assert status == 2 and json.loads(out)["summary"]["files"] == 4


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "EMPTY_MEDIA"),
        (b"plain text pretending to be a JPEG", "UNSUPPORTED_FORMAT"),
        (png_claiming_size(40000, 40000), "MEDIA_TOO_LARGE"),
    ],
)
def test_bad_inputs_exit_2_with_a_code_and_no_output(
    content: bytes, code: str, opts: list[str], tmp_path: Path
) -> None:
    source = tmp_path / "in.jpg"
    source.write_bytes(content)
    status, _, err = run("label", source, tmp_path / "out.jpg", *opts)
    assert status == 2 and f"{code}:" in err and err.count("\n") == 1
    assert not (tmp_path / "out.jpg").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_refusals(make_image: Callable[..., Path], opts: list[str], tmp_path: Path) -> None:
    source = make_image("jpeg")
    original = source.read_bytes()
    target = tmp_path / "t.jpg"
    target.write_bytes(b"keep me")
    status, _, err = run("label", source, target, *opts)
    assert status == 2 and "OUTPUT_EXISTS" in err and target.read_bytes() == b"keep me"
    assert run("label", source, target, "--force", *opts)[0] == 0 and target.read_bytes() != b"keep me"

    status, _, err = run("label", source, source, "--force", *opts)
    assert status == 2 and "INVALID_OPTION" in err and source.read_bytes() == original
    status, _, err = run("label", tmp_path / "nope.jpg", tmp_path / "x.jpg", *opts)
    assert status == 2 and "INPUT_NOT_FOUND" in err
    status, _, err = run("label", source, tmp_path / "no" / "x.jpg", *opts)
    assert status == 2 and "OUTPUT_NOT_WRITABLE" in err


@pytest.mark.parametrize(
    "bad",
    [["--label-height", "0.01"], ["--position", "middle"], ["--watermark-id", "xyz"], ["--strength", "9"],
     ["--label-text", "  "], ["--producer", ""]],
)
def test_invalid_options(bad: list[str], make_image: Callable[..., Path], opts: list[str], tmp_path: Path) -> None:
    status, _, err = run("label", make_image("png"), tmp_path / "o.png", *bad, *opts)
    assert status == 2 and "INVALID_OPTION" in err
    assert not (tmp_path / "o.png").exists()


def test_missing_key(make_image: Callable[..., Path], registry_path: Path, tmp_path: Path) -> None:
    missing = ["--key-file", str(tmp_path / "none.key"), "--registry", str(registry_path)]
    status, _, err = run("label", make_image("png"), tmp_path / "o.png", *missing)
    assert status == 2 and "KEY_MISSING" in err and "keys init" in err
    assert run("label", make_image("png"), tmp_path / "o.png", "--no-watermark", *missing)[0] == 0
    status, out, err = run("verify", tmp_path / "o.png", *missing)
    assert status == 0 and "not checked" in out and "metadata only" in err


def test_keys_init(tmp_path: Path) -> None:
    path = tmp_path / "k" / "watermark.key"
    status, out, _ = run("keys", "init", "--path", path)
    assert status == 0 and path.exists()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    status, _, err = run("keys", "init", "--path", path)
    assert status == 2 and "OUTPUT_EXISTS" in err
    status, out, _ = run("keys", "show", "--key-file", path)
    assert status == 0 and len(out.strip()) == 16


def test_entry_point_runs_as_a_process(make_image: Callable[..., Path], opts: list[str], tmp_path: Path) -> None:
    target = tmp_path / "p.jpg"
    proc = subprocess.run([sys.executable, "-m", "labeler.cli", "label", str(make_image("jpeg")), str(target), *opts],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([sys.executable, "-m", "labeler.cli", "verify", str(target), *opts, "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and json.loads(proc.stdout)["results"][0]["verdict"] == "confirmed"
