"""Is this the start of media labeler handles? Decided from the first bytes alone, so the service can
refuse an unsupported upload (an archive, a GIF) after its first chunk instead of after spooling and
reading all of it, and can spool a video (or, for Label, audio) to a named file (it is decoded from a
path, streaming)."""

from __future__ import annotations

from labeler import formats
from labeler.audio.codec import CONTAINERS
from labeler.errors import UnsupportedFormat
from labeler.video.containers import sniff_video

#: How many leading bytes the check needs.
HEAD_BYTES = 64


def check_head(head: bytes) -> None:
    """Raise UnsupportedFormat unless ``head`` starts like a supported image or audio file.

    Only magic bytes are looked at; a file that passes may still be refused later (an MP4 that turns out
    to hold video, a truncated image), so this never accepts anything the full sniff would refuse.
    """
    if is_audio_head(head):
        return
    head = head[:HEAD_BYTES]
    try:
        formats.sniff(head)
    except UnsupportedFormat:
        raise UnsupportedFormat(
            "not a supported format (images: JPEG, PNG, WebP; audio: WAV, FLAC, MP3, M4A/AAC, Ogg/Opus)"
        ) from None


def is_video_head(head: bytes) -> bool:
    """Starts like a video container (MP4/MOV/WebM/Matroska) that is not branded audio-only (M4A)."""
    return sniff_video(head[:HEAD_BYTES]) is not None and head[8:12] not in (b"M4A ", b"M4B ", b"M4P ")


def is_audio_head(head: bytes) -> bool:
    """Starts like an audio container labeler reads (the same magic bytes :func:`check_head` accepts)."""
    head = head[:HEAD_BYTES]
    return head[:3] == b"ID3" or any(container.sniff(head) for container in CONTAINERS)


def is_path_head(head: bytes) -> bool:
    """Media labeled from a path, streamed: video, and audio for Label (labeler/audio/streaming.py)."""
    return is_video_head(head) or is_audio_head(head)


def check_head_or_video(head: bytes) -> None:
    """As :func:`check_head`, also accepting video containers (Label and Verify take video)."""
    if not is_video_head(head):
        check_head(head)
