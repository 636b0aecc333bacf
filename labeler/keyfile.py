"""Where the watermark key comes from: an explicit path, ``LABELER_KEY`` (hex), ``LABELER_KEY_FILE``,
or the default file in the user's config directory (created by ``labeler keys init``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import platformdirs

from labeler.errors import KeyInvalid, KeyMissing, OutputExists, OutputNotWritable
from labeler.watermark.keys import WatermarkKey

ENV_KEY = "LABELER_KEY"
ENV_KEY_FILE = "LABELER_KEY_FILE"


def default_key_path() -> Path:
    return platformdirs.user_config_path("labeler") / "watermark.key"


def read_key_file(path: Path) -> WatermarkKey:
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise KeyMissing(f"no watermark key at {path} (create one with `labeler keys init`)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyInvalid(f"cannot read the watermark key {path}: {exc}") from None
    return WatermarkKey.from_hex(text)


def resolve_key(path: Path | None = None, environ: Mapping[str, str] | None = None) -> WatermarkKey:
    """The key to use, by precedence: ``path``, $LABELER_KEY, $LABELER_KEY_FILE, the default file."""
    env = os.environ if environ is None else environ
    if path is not None:
        return read_key_file(path)
    if env.get(ENV_KEY):
        return WatermarkKey.from_hex(env[ENV_KEY])
    if env.get(ENV_KEY_FILE):
        return read_key_file(Path(env[ENV_KEY_FILE]))
    return read_key_file(default_key_path())


def init_key_file(path: Path, force: bool = False) -> WatermarkKey:
    """Create a new random key file readable only by its owner."""
    if path.exists() and not force:
        raise OutputExists(f"{path} exists; pass --force to replace it (marks made with the old key stop decoding)")
    key = WatermarkKey.generate()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(key.to_hex() + "\n")
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputNotWritable(f"cannot write the key file {path}: {exc}") from None
    return key
