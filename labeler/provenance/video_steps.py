"""The provenance steps of video labeling, on files (a video is never read into memory).

After ``label_video_file`` has written the labeled video (visible label, watermark, AIGC tag):

1. SecurityData: the AIGC label is bound to the demuxed packets of that file (``media_binding``) and
   signed; the file is then *remuxed* (stream copy, no re-encode) with the signed label in its AIGC tag.
   A stream copy keeps every packet, so the binding must still match, which is checked.
2. C2PA, last: the manifest is signed from file to file (MP4 only: the video MIME type c2pa handles).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from labeler.errors import CorruptMedia, OutputNotWritable, SigningError
from labeler.metadata.aigc import AigcLabel
from labeler.provenance.securitydata import LabelSigner, content_digest, sign_label
from labeler.settings import C2paSettings

AIGC_TAG = "AIGC"
_DROPPED_CONTAINER_TAGS = ("encoder", "major_brand", "minor_version", "compatible_brands")


def temp_beside(destination: Path, suffix: str) -> Path:
    """A new empty temporary file in ``destination``'s folder (same file system, so os.replace is atomic)."""
    try:
        fd, name = tempfile.mkstemp(prefix=".labeler-", suffix=suffix, dir=destination.parent)
    except OSError as exc:
        raise OutputNotWritable(f"cannot write to {destination.parent}: {exc}") from None
    os.close(fd)
    return Path(name)


def remux_with_aigc(source: Path, destination: Path, muxer: str, aigc_json: str) -> None:
    """Copy every stream of ``source`` into ``destination`` packet for packet, with the container's
    AIGC tag set to ``aigc_json`` (other container and stream tags kept)."""
    options = {"movflags": "use_metadata_tags"} if muxer in ("mp4", "mov") else {}
    try:
        with av.open(str(source), "r") as inp, av.open(str(destination), "w", format=muxer, options=options) as out:
            for name, value in inp.metadata.items():
                if name.lower() not in _DROPPED_CONTAINER_TAGS and name.upper() != AIGC_TAG:
                    out.metadata[name] = value
            out.metadata[AIGC_TAG] = aigc_json
            mapping: dict[int, Any] = {}
            for stream in inp.streams:
                if stream.type not in ("video", "audio"):
                    continue
                copied = out.add_stream_from_template(stream)
                for name, value in stream.metadata.items():
                    copied.metadata[name] = value
                mapping[stream.index] = copied
            for packet in inp.demux(*[inp.streams[i] for i in mapping]):
                if packet.dts is None and packet.size == 0:
                    continue
                packet.stream = mapping[packet.stream.index]
                out.mux(packet)
    except av.FFmpegError as exc:
        raise CorruptMedia(f"cannot rewrite the video's AIGC tag: {exc}") from None


@dataclass(frozen=True)
class VideoProvenance:
    aigc: AigcLabel | None
    c2pa: dict[str, Any] | None
    manifest_store: bytes | None


def finish_video(
    labeled: Path,
    destination: Path,
    media_format: str,
    muxer: str,
    aigc: AigcLabel | None,
    watermark_id: int | None,
    signer: LabelSigner | None,
    c2pa: C2paSettings | None,
) -> VideoProvenance:
    """Sign the label and/or C2PA into ``labeled`` and move the result to ``destination`` (atomically).
    ``labeled`` is consumed (moved or deleted) in every case."""
    from labeler.provenance.c2pa import SOFT_BINDING_ALG, build_manifest, mime_for, sign_media_file

    current = labeled
    temporaries = [labeled]
    try:
        if aigc is not None and signer is not None:
            digest = content_digest(current, media_format)
            aigc = sign_label(aigc, digest, signer)
            remuxed = temp_beside(destination, destination.suffix or f".{media_format}")
            temporaries.append(remuxed)
            remux_with_aigc(current, remuxed, muxer, aigc.to_json())
            if content_digest(remuxed, media_format) != digest:
                raise SigningError(f"remuxing the {media_format} changed its packets; the label cannot be bound")
            current = remuxed
        summary = store = None
        if c2pa is not None:
            mime_for(media_format)
            signed = temp_beside(destination, destination.suffix or f".{media_format}")
            temporaries.append(signed)
            store = sign_media_file(current, signed, media_format, build_manifest(aigc, watermark_id), c2pa)
            current = signed
            summary = {
                "signed": True,
                "soft_binding": (
                    {"alg": SOFT_BINDING_ALG, "value": f"{watermark_id:016x}"} if watermark_id is not None else None
                ),
                "manifest_bytes": len(store),
                "manifest_dir": str(c2pa.manifest_dir) if c2pa.manifest_dir is not None else None,
            }
        try:
            os.replace(current, destination)
        except OSError as exc:
            raise OutputNotWritable(f"cannot write {destination}: {exc}") from None
        return VideoProvenance(aigc, summary, store)
    finally:
        for path in temporaries:  # after the move ``current`` no longer exists: only leftovers go
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
