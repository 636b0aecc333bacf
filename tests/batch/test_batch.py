"""``labeler batch label|verify`` on the local process pool and on a local Ray instance."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from labeler.store import Registry
from labeler.watermark.keys import WatermarkKey
from tests.test_cli import run

HAVE_RAY = importlib.util.find_spec("ray") is not None and importlib.util.find_spec("pyarrow") is not None


@pytest.fixture
def source(make_image: Callable[..., Path], tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "a").mkdir(parents=True)
    for i in range(4):
        make_image("jpeg", seed=30 + i, name=f"img-{i}.jpg").rename(src / ("a" if i % 2 else ".") / f"img-{i}.jpg")
    return src


def _label_then_verify(engine: str, source: Path, key_file: Path, registry_path: Path, tmp_path: Path) -> None:
    opts = ["--key-file", str(key_file), "--db", str(registry_path), "--engine", engine, "--workers", "2"]
    out_dir = tmp_path / f"out-{engine}"
    status, out, err = run("batch", "label", source, "--out", out_dir, "--json", *opts)
    assert status == 0, out + err
    summary = json.loads(out)["summary"]
    assert summary == {"files": 4, "labelled": 4, "errors": 0, "engine": engine, "exit_status": 0}
    assert sorted(p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*.jpg")) == [
        "a/img-1.jpg", "a/img-3.jpg", "img-0.jpg", "img-2.jpg"]
    with Registry.open(registry_path) as reg:
        assert reg.count() == 4
    (out_dir / "junk.jpg").write_bytes(b"not a jpeg")
    report = tmp_path / f"{engine}.jsonl"
    status, out, err = run("batch", "verify", out_dir, "--report-jsonl", report, "--json", *opts)
    assert status == 2, err  # the junk file
    assert json.loads(out)["summary"]["by_verdict"] == {"confirmed": 4, "error": 1}
    assert len(report.read_text().splitlines()) == 5


def test_local_engine(source: Path, key_file: Path, registry_path: Path, tmp_path: Path) -> None:
    _label_then_verify("local", source, key_file, registry_path, tmp_path)


@pytest.mark.skipif(not HAVE_RAY, reason="Ray is not installed (optional extra: pip install 'labeler[ray]')")
def test_ray_engine_local_instance(source: Path, key_file: Path, registry_path: Path, tmp_path: Path) -> None:
    _label_then_verify("ray", source, key_file, registry_path, tmp_path)


def test_bad_engine_and_workers(source: Path, key_file: Path) -> None:
    status, _, err = run("batch", "verify", source, "--engine", "spark", "--key-file", key_file, "--no-registry")
    assert status == 2 and "INVALID_OPTION" in err
    status, _, err = run("batch", "verify", source, "--workers", "0", "--key-file", key_file, "--no-registry")
    assert status == 2 and "INVALID_OPTION" in err


def test_batch_labels_and_verifies_videos(key_file: Path, registry_path: Path, tmp_path: Path) -> None:
    from tests.video.clips import make_clip

    src = tmp_path / "videos"
    src.mkdir()
    make_clip(src / "one.mp4", frames=50)
    make_clip(src / "two.webm", codec="libvpx-vp9", frames=50, audio=None, fmt="webm")
    opts = ["--key-file", str(key_file), "--db", str(registry_path), "--engine", "local", "--workers", "2"]
    out_dir = tmp_path / "labeled"
    status, out, err = run("batch", "label", src, "--out", out_dir, "--json", *opts)
    assert status == 0, out + err
    assert json.loads(out)["summary"]["labelled"] == 2
    with Registry.open(registry_path) as reg:
        assert reg.count() == 2
    status, out, err = run("batch", "verify", out_dir, "--json", *opts)
    assert status == 0, err
    assert json.loads(out)["summary"]["by_verdict"] == {"confirmed": 2}


def test_batch_label_job_streams_audio(key: WatermarkKey, registry_path: Path, tmp_path: Path) -> None:
    import hashlib

    from labeler.batch.jobs import LabelJob, label_one
    from labeler.settings import LabelOptions
    from tests.audio.audio_helpers import encode, music_like

    src = tmp_path / "audio"
    src.mkdir()
    (src / "song.mp3").write_bytes(encode(music_like(4.0, 44100), 44100, "mp3", "libmp3lame", 128_000))
    Registry.open(registry_path).close()
    job = LabelJob(key, str(registry_path), LabelOptions(), src, tmp_path / "out")
    entry = label_one(job, src / "song.mp3")
    output = tmp_path / "out" / "song.mp3"
    assert entry["output"] == str(output) and "error" not in entry
    with Registry.open(registry_path) as reg:
        record = reg.by_sha256(hashlib.sha256(output.read_bytes()).hexdigest())
    assert record and record[0].media_kind == "audio" and record[0].produce_id == entry["produce_id"]
    assert sorted(p.name for p in output.parent.iterdir()) == ["song.mp3"]
