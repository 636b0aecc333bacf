"""Receiving an upload: the config message, then chunks spooled to memory up to a threshold and to a
temp file beyond it. Uploads that must be read from a path (video, which is decoded streaming by
FFmpeg) go to a named temp file instead, decided from the first bytes. The spool is always closed (and
its file removed) when the call ends, however it ends: completed, failed, cancelled or disconnected."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from labeler.errors import EmptyMedia, InvalidOption, MediaTooLarge
from labeler.service.settings import ServiceSettings
from labeler.sniffing import HEAD_BYTES


@dataclass
class Upload:
    config: Any
    file: IO[bytes]
    size: int

    #: Set when the upload was spooled to a named file (see ``receive``'s ``needs_path``).
    path: Path | None = None

    def read(self) -> bytes:
        self.file.seek(0)
        return self.file.read()

    def close(self) -> None:
        self.file.close()


async def receive(
    requests: AsyncIterator[Any], settings: ServiceSettings, check_head: Callable[[bytes], None] | None = None,
    needs_path: Callable[[bytes], bool] | None = None,
) -> Upload:
    """Read a config-then-chunks stream (messages with a ``config`` / ``chunk`` oneof named ``kind``).

    ``check_head`` sees the first HEAD_BYTES of the media as soon as they arrive and may raise, so an
    unsupported upload is refused without receiving the rest of it. When ``needs_path`` says yes to those
    bytes, the rest is spooled to a named temp file (``Upload.path``), whatever its size.
    """
    directory = None if settings.spool_dir is None else str(settings.spool_dir)
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115  # closed by Upload.close / on error
        max_size=settings.spool_memory_bytes, dir=directory, prefix="labeler-upload-"
    )
    path = None
    config = None
    size = 0
    head = b""
    try:
        async for message in requests:
            kind = message.WhichOneof("kind")
            if kind == "config":
                if config is not None:
                    raise InvalidOption("the config message must be sent once, first")
                config = message.config
            elif kind == "chunk":
                if config is None:
                    raise InvalidOption("send the config message before any media chunk")
                size += len(message.chunk)
                if size > settings.limits.max_bytes:
                    raise MediaTooLarge(f"upload exceeds the server's limit of {settings.limits.max_bytes} bytes")
                spool.write(message.chunk)
                if check_head is not None and len(head) < HEAD_BYTES:
                    head += message.chunk[: HEAD_BYTES - len(head)]
                    if len(head) >= HEAD_BYTES:
                        check_head(head)
                        if needs_path is not None and needs_path(head):
                            spool, path = _to_named_file(spool, directory)
            else:
                raise InvalidOption("empty request message")
        if config is None:
            raise InvalidOption("no config message received")
        if size == 0:
            raise EmptyMedia("no media bytes received")
        if check_head is not None and len(head) < HEAD_BYTES:
            check_head(head)  # a file shorter than the head
        spool.flush()  # a named file is read again through its path
    except BaseException:
        spool.close()
        raise
    return Upload(config, spool, size, path)


def _to_named_file(spool: IO[bytes], directory: str | None) -> tuple[IO[bytes], Path]:
    """Move what has been spooled so far (the first chunk) to a named temp file, removed when closed."""
    named = tempfile.NamedTemporaryFile(dir=directory, prefix="labeler-upload-")  # noqa: SIM115  # see above
    try:
        spool.seek(0)
        named.write(spool.read())
    except BaseException:
        named.close()
        raise
    finally:
        spool.close()
    return named, Path(named.name)


def chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


def file_chunks(path: Path, size: int) -> Iterator[bytes]:
    """The file's bytes in ``size`` pieces, read as they are sent (a labeled video is never held whole)."""
    with open(path, "rb") as handle:
        while block := handle.read(size):
            yield block
