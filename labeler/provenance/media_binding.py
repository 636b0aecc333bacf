"""The *coded content* of audio and video files, for the SecurityData content binding.

Image formats hash their coded segments/chunks directly (see ``securitydata.content_digest``). For audio
and video the container layout moves when metadata is written (an MP4 ``moov`` grows, its chunk offsets
shift; C2PA inserts a ``uuid`` box and rewrites them; MP3 ID3 tags grow in front of the frames), so the
coded content is defined one level up, as the demuxer sees it: for every stream, in the demuxer's order,
the codec name and its extradata (codec configuration: AAC AudioSpecificConfig, avcC ...), then every
packet's stream index, pts, dts and payload bytes. That is exactly what decoders turn into samples and
frames; it does not change when tags, the AIGC label or a C2PA manifest are added, and it changes with
any re-encode, edit or trim. Only demuxing is done (no decoding), so hashing a long video is I/O-bound.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import struct
from pathlib import Path
from typing import Any

import av

from labeler.errors import UnsupportedFormat

#: Our format names whose content binding is the demuxed packet stream.
PACKET_FORMATS = frozenset({"wav", "mp3", "m4a", "flac", "ogg", "mp4", "mov", "mkv", "webm"})

_NO_TS = -(2**63)


def packet_digest(source: bytes | Path, media_format: str, h: Any | None = None) -> str:
    """SHA-256 hex of the demuxed coded content of ``source`` (bytes in memory or a file path).
    UnsupportedFormat when it cannot be demuxed."""
    if h is None:
        h = hashlib.sha256()
        h.update(media_format.encode("ascii") + b"\0")
    target: Any = io.BytesIO(source) if isinstance(source, bytes) else str(source)
    try:
        container = av.open(target, "r")
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise UnsupportedFormat(f"cannot hash the {media_format} content: {exc}") from None
    with contextlib.closing(container):
        streams = list(container.streams)
        if not streams:
            raise UnsupportedFormat(f"cannot hash the {media_format} content: no streams")
        for stream in streams:
            name = (stream.codec_context.name if stream.codec_context is not None else "") or ""
            extradata = bytes(stream.codec_context.extradata or b"") if stream.codec_context is not None else b""
            h.update(b"S" + name.encode("ascii", "replace") + b"\0" + struct.pack(">I", len(extradata)) + extradata)
        try:
            for packet in container.demux():
                if packet.size == 0:  # the demuxer's end-of-stream marker
                    continue
                pts = packet.pts if packet.pts is not None else _NO_TS
                dts = packet.dts if packet.dts is not None else _NO_TS
                h.update(struct.pack(">Iqqi", packet.stream.index, pts, dts, packet.size))
                h.update(bytes(packet))
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise UnsupportedFormat(f"cannot hash the {media_format} content: {exc}") from None
    digest: str = h.hexdigest()
    return digest
