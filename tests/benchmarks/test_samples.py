"""The committed demo samples: real photos in three formats, small, and each one accounted for."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from benchmarks.corpus import PHOTOS
from benchmarks.samples import MAX_BYTES, SAMPLES

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "labeler" / "samples"
REDISTRIBUTABLE = ("public domain", "CC0-1.0", "CC-BY-4.0", "CC-BY-SA-4.0")


def test_samples_exist_small_and_as_specified() -> None:
    formats = set()
    for spec in SAMPLES:
        path = SAMPLE_DIR / spec.name
        assert path.is_file(), spec.name
        assert path.stat().st_size <= MAX_BYTES
        with Image.open(path) as im:
            assert im.format == spec.pil_format
            assert im.size == spec.final_size
            assert im.mode == "RGB"
            formats.add(im.format)
    assert formats == {"JPEG", "PNG", "WEBP"}


def test_samples_come_from_redistributable_corpus_photos() -> None:
    by_stem = {Path(p.name).stem: p for p in PHOTOS}
    provenance = (SAMPLE_DIR / "PROVENANCE.md").read_text()
    for spec in SAMPLES:
        photo = by_stem[spec.photo]
        assert photo.licence.startswith(REDISTRIBUTABLE), photo.licence
        assert f"`{spec.name}`" in provenance
        assert Path(photo.member).name in provenance


def test_no_unlisted_samples() -> None:
    shipped = {p.name for p in SAMPLE_DIR.iterdir() if p.suffix in (".jpg", ".png", ".webp")}
    assert shipped == {s.name for s in SAMPLES}
