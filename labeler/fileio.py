"""File input and output with the guarantees users rely on: inputs are never modified, outputs appear
whole or not at all (written to a temporary file in the same folder, then renamed)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from labeler.errors import InputNotFound, InvalidInput, MediaTooLarge, OutputExists, OutputNotWritable
from labeler.settings import Limits


def check_input(path: Path) -> int:
    """The size of the readable file at ``path``, or the error reading it would give (also for inputs
    streamed from disk by others, e.g. the client)."""
    with _input_errors(path):
        size = path.stat().st_size
        if path.is_dir():
            raise InvalidInput(f"{path} is a directory")
        with open(path, "rb"):
            return size


def read_input(path: Path, limits: Limits) -> bytes:
    size = check_input(path)
    if size > limits.max_bytes:
        raise MediaTooLarge(f"{path} is {size} bytes, over the limit of {limits.max_bytes}")
    with _input_errors(path):
        return path.read_bytes()


@contextlib.contextmanager
def _input_errors(path: Path) -> Iterator[None]:
    try:
        yield
    except FileNotFoundError:
        raise InputNotFound(f"{path} does not exist") from None
    except PermissionError:
        raise InputNotFound(f"{path} is not readable (permission denied)") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path} is a directory") from None


def file_sha256(path: Path) -> str:
    """SHA-256 hex of a file, read in 1 MiB blocks (never whole)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output(path: Path, force: bool = False) -> None:
    """Fail early, before any work, when ``path`` cannot be created."""
    if path.is_dir():
        raise OutputNotWritable(f"{path} is a directory")
    if path.exists() and not force:
        raise OutputExists(f"{path} exists (pass --force to replace it)")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputNotWritable(f"cannot write {path}: folder {folder} does not exist")


def replace_with_finished(finished: Path, path: Path, force: bool = False) -> None:
    """Rename ``finished`` (a complete temporary file beside ``path``) to ``path``: flushed to disk first,
    mode 0644, never over a file that appeared meanwhile unless ``force`` (OutputExists). OSError is left
    to the caller, which knows what it was writing."""
    with open(finished, "rb+") as handle:
        os.fsync(handle.fileno())
    os.chmod(finished, 0o644)
    if not force and path.exists():  # appeared meanwhile: keep what is there
        raise OutputExists(f"{path} exists (pass --force to replace it)")
    os.replace(finished, path)


def write_output(path: Path, data: bytes, force: bool = False) -> None:
    """Write ``data`` to ``path`` atomically; refuse to replace an existing file unless ``force``."""
    check_output(path, force)
    folder = path.parent if str(path.parent) else Path(".")
    tmp_name = None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        replace_with_finished(Path(tmp_name), path, force)
        tmp_name = None
    except FileNotFoundError:
        raise OutputNotWritable(f"cannot write {path}: folder {folder} does not exist") from None
    except OSError as exc:
        raise OutputNotWritable(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
