"""Container sniffing for the video formats labeler handles.

MP4 and MOV are ISO-BMFF: a box whose type is ``ftyp`` (ISO/IEC 14496-12 §4.3) at offset 4; the major
brand ``qt  `` marks QuickTime. WebM is Matroska: the EBML magic 1A 45 DF A3, with DocType "webm".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VideoContainer:
    name: str  # "mp4", "mov" or "webm"
    muxer: str  # FFmpeg muxer name
    suffix: str


MP4 = VideoContainer("mp4", "mp4", ".mp4")
MOV = VideoContainer("mov", "mov", ".mov")
WEBM = VideoContainer("webm", "webm", ".webm")
MATROSKA = VideoContainer("mkv", "matroska", ".mkv")

_EBML_MAGIC = b"\x1a\x45\xdf\xa3"


def sniff_video(head: bytes) -> VideoContainer | None:
    """The container of a file starting with ``head`` (first ≥ 64 bytes), or None when not a video."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return MOV
        # Image brands (HEIF/AVIF) share ISO-BMFF but are not video.
        if brand in (b"heic", b"heix", b"mif1", b"avif", b"avis", b"msf1"):
            return None
        return MP4
    if head.startswith(_EBML_MAGIC):
        return WEBM if b"webm" in head[:64] else MATROSKA
    return None
