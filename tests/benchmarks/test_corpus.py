"""The corpus table and loader, offline: nothing here downloads (fetching is exercised by make bench)."""

from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import benchmarks.corpus as corpus
from benchmarks.corpus import PHOTOS, CorpusError, PhotoSpec, Source, fetch_corpus, load_corpus


def test_table_is_sane() -> None:
    names = [p.name for p in PHOTOS]
    assert len(set(names)) == len(names)
    assert 10 <= len(PHOTOS) <= 16
    assert sum(p.megapixels >= 10 for p in PHOTOS) >= 2
    assert any(p.source.kind == "pypi" for p in PHOTOS)
    for p in PHOTOS:
        assert re.fullmatch(r"[0-9a-f]{64}", p.sha256), p.name
        assert p.name.endswith((".jpg", ".png")), p.name
        assert 0.25 <= p.megapixels <= 12.5, p.name
        assert p.licence and p.author and p.content and p.member
    assert len({p.sha256 for p in PHOTOS}) == len(PHOTOS)


def test_docs_list_every_photo() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "bench-data.md").read_text()
    for p in PHOTOS:
        assert f"| {p.name} |" in doc, p.name


def fake_spec(tmp_path: Path, kind: str = "pypi") -> tuple[PhotoSpec, bytes]:
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)).save(buffer, "PNG")
    data = buffer.getvalue()
    source = Source(kind, "fake-package", "1.0", "nowhere")  # type: ignore[arg-type]
    spec = PhotoSpec("fake.png", source, "fake/fake.png", hashlib.sha256(data).hexdigest(), 60, 40,
                     "CC0-1.0", "nobody", "noise")  # fmt: skip
    return spec, data


def test_present_files_are_loaded_lazily_without_fetching(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec, data = fake_spec(tmp_path)
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "fake.png").write_bytes(data)
    monkeypatch.setattr(corpus, "_download_wheel", lambda *a: pytest.fail("must not download"))
    (photo,) = load_corpus(tmp_path, specs=[spec])
    assert photo.name == "fake" and "rgb" not in photo.__dict__
    assert photo.rgb.shape == (40, 60, 3) and photo.rgb.dtype == np.uint8
    assert photo.rgb is photo.rgb  # decoded once


def test_fetch_skips_present_files_and_writes_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec, data = fake_spec(tmp_path)
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "fake.png").write_bytes(data)
    monkeypatch.setattr(corpus, "_download_wheel", lambda *a: pytest.fail("must not download"))
    assert fetch_corpus(tmp_path, [spec]) == [spec]
    manifest = json.loads((tmp_path / "photos" / "MANIFEST.json").read_text())
    assert manifest["complete"] is True
    (entry,) = manifest["photos"]
    assert entry["file"] == "fake.png" and entry["sha256"] == spec.sha256 and entry["licence"] == "CC0-1.0"
    assert entry["width"] == 60 and entry["height"] == 40


def test_hash_mismatch_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec, data = fake_spec(tmp_path)
    monkeypatch.setattr(corpus, "_download_wheel", lambda source, workdir: workdir / "x.whl")
    monkeypatch.setattr(corpus, "_wheel_members", lambda wheel, members: {spec.member: data + b"tampered"})
    with pytest.raises(CorpusError):
        load_corpus(tmp_path, specs=[spec])
    assert "SHA-256 mismatch" in capsys.readouterr().err
    assert not (tmp_path / "photos" / "fake.png").exists()


def test_extracts_from_downloaded_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec, data = fake_spec(tmp_path)
    monkeypatch.setattr(corpus, "_download_wheel", lambda source, workdir: workdir / "x.whl")
    monkeypatch.setattr(corpus, "_wheel_members", lambda wheel, members: {spec.member: data})
    (photo,) = load_corpus(tmp_path, specs=[spec])
    assert photo.path.read_bytes() == data


def test_without_apt_only_pypi_photos(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pypi, data = fake_spec(tmp_path)
    deb, _ = fake_spec(tmp_path, kind="deb")
    deb = PhotoSpec("other.png", deb.source, "x/other.png", "0" * 64, 60, 40, "GPL-2+", "x", "y")
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "fake.png").write_bytes(data)
    monkeypatch.setattr(corpus, "apt_available", lambda: False)
    monkeypatch.setattr(corpus, "_download_deb", lambda *a: pytest.fail("must not call apt"))
    photos = load_corpus(tmp_path, specs=[pypi, deb])
    assert [p.name for p in photos] == ["fake"]
    assert "PyPI subset only" in capsys.readouterr().err
    assert json.loads((tmp_path / "photos" / "MANIFEST.json").read_text())["complete"] is False


def test_empty_corpus_raises(tmp_path: Path) -> None:
    spec, _ = fake_spec(tmp_path)
    with pytest.raises(CorpusError):
        load_corpus(tmp_path, fetch=False, specs=[spec])
