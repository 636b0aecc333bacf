"""The audio benchmark's real recordings, fetched from Debian packages and pinned by SHA-256.

* Speech: the eight voice recordings of ``alsa-utils`` (/usr/share/sounds/alsa/{Front,Rear,Side}_*.wav,
  a man saying "Front left", "Rear center", ...; 48 kHz mono 16-bit; GPL-2). Each is about 1.4 s, so the
  speech programme is the eight clips in three seeded orders, 34 s of real speech with its pauses.
* Music: Battle for Wesnoth's orchestral soundtrack, ``wesnoth-1.16-music`` (Ogg Vorbis, 44.1 kHz
  stereo; GPL-2+). Four tracks are the robustness/quality set; every track of the package is used for
  the false-positive sweep.

``apt-get download`` fetches the .deb (no installation); ``dpkg-deb -x`` extracts it into
``<dest>/audio/``. Nothing is committed (bench-data/ is git-ignored).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np

from labeler.audio.codec import decode_audio, resample_pcm
from labeler.settings import Limits

DEFAULT_DEST: Final = Path("bench-data")

SPEECH_PACKAGE: Final = "alsa-utils"
SPEECH_DIR: Final = "usr/share/sounds/alsa"
SPEECH_FILES: Final = {
    "Front_Center.wav": "0d61518bcd3f13b0c709a5298e939caf698b80d31d71d50475365ee0e5536cc9",
    "Front_Left.wav": "9f97e8458785da2f0aa0ec60bf9cc81520cbf80a4683e83eca9cb5f2958e9fef",
    "Front_Right.wav": "1fdea4d7003f1f7d3e48d3521aaab0a112c4ac570b02ddf1813abacac3070f6f",
    "Rear_Center.wav": "9343207e3298813fdc4d26b7948e15a38533c37a9f232c3eff809b565398b330",
    "Rear_Left.wav": "1679e0557701864d55b742a0abd3fe5f50d95b1bfcb55ffad4b597dcc7e3c7b8",
    "Rear_Right.wav": "12828d125f692faa75c7445d52125dcc2c36f82c4f7a3ef49b8ae6afd74ada9d",
    "Side_Left.wav": "03dc7c641d7825417d2a261831715e945e95d87343fb037db910e7ce4f87a2a1",
    "Side_Right.wav": "ecdd0329945f355960796a56f8126d5080ed93fdd2437c7eaddbbbd56137d7e9",
}
MUSIC_PACKAGE: Final = "wesnoth-1.16-music"
MUSIC_DIR: Final = "usr/share/games/wesnoth/1.16/data/core/music"
MUSIC_FILES: Final = {
    "knolls.ogg": "f717fbf4ce4e883c927d991f5626649ac7e1be52b8b02dc79241980b646df1cc",
    "battle.ogg": "2f944dc8c1caed80595e51c39733cac39d2ba6ddd28a19d689b79a50d55c77f7",
    "love_theme.ogg": "d0045ec07380869c1924f48b95b255fd209eabee9b64933848ad7a05eebd6fe5",
    "elvish-theme.ogg": "2242cc00fb6bbc08cee5f0adc9b3366a6e8fad478ff873ccda8bde3b48010639",
}


class AudioCorpusError(RuntimeError):
    pass


@dataclass(frozen=True)
class Programme:
    name: str
    kind: str  # "speech" or "music"
    pcm: np.ndarray  # float32 frames x channels
    sample_rate: int
    source: str


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fetch_package(package: str, dest: Path) -> Path:
    """Extract ``package`` into ``dest/<package>`` (once) and return that folder."""
    root = dest / "audio" / package
    if (root / ".complete").exists():
        return root
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise AudioCorpusError("apt-get and dpkg-deb are needed to fetch the audio corpus")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["apt-get", "download", package], cwd=tmp, check=True, capture_output=True)
        debs = list(Path(tmp).glob("*.deb"))
        if not debs:
            raise AudioCorpusError(f"apt-get download {package} produced no .deb")
        root.mkdir(parents=True, exist_ok=True)
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(root)], check=True)
    (root / ".complete").write_text("ok\n")
    return root


def _checked(folder: Path, files: dict[str, str]) -> list[Path]:
    paths = []
    for name, digest in files.items():
        path = folder / name
        if not path.exists() or _sha256(path) != digest:
            raise AudioCorpusError(f"{path} is missing or fails its SHA-256 pin")
        paths.append(path)
    return paths


def _decode(path: Path) -> tuple[np.ndarray, int]:
    decoded = decode_audio(path.read_bytes(), Limits())
    return decoded.pcm, decoded.sample_rate


def load_programmes(dest: Path = DEFAULT_DEST, music_seconds: float = 60.0) -> list[Programme]:
    """Speech (48 kHz mono, 34 s) and four music excerpts (44.1 kHz stereo, ``music_seconds`` from 0:20)."""
    speech_root = _fetch_package(SPEECH_PACKAGE, dest) / SPEECH_DIR
    clips = [_decode(p)[0] for p in _checked(speech_root, SPEECH_FILES)]
    rng = np.random.default_rng(2024)
    speech = np.concatenate([clips[i] for _ in range(3) for i in rng.permutation(len(clips))])
    out = [Programme("alsa-speech", "speech", speech, 48000, f"{SPEECH_PACKAGE}:{SPEECH_DIR}/*.wav")]
    music_root = _fetch_package(MUSIC_PACKAGE, dest) / MUSIC_DIR
    for path in _checked(music_root, MUSIC_FILES):
        pcm, rate = _decode(path)
        start = int(20 * rate)
        excerpt = pcm[start : start + int(music_seconds * rate)]
        out.append(Programme(path.stem, "music", excerpt, rate, f"{MUSIC_PACKAGE}:{path.name}"))
    return out


def unmarked_music(dest: Path = DEFAULT_DEST) -> list[tuple[str, np.ndarray, int]]:
    """Every track of the Wesnoth soundtrack (for the false-positive sweep), decoded."""
    music_root = _fetch_package(MUSIC_PACKAGE, dest) / MUSIC_DIR
    tracks = []
    for path in sorted(music_root.glob("*.ogg")):
        pcm, rate = _decode(path)
        tracks.append((path.name, pcm, rate))
    return tracks


def to_rate(pcm: np.ndarray, rate: int, target: int) -> np.ndarray:
    return resample_pcm(pcm, rate, target)
