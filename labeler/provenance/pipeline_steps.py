"""The two provenance steps of labeling, kept here so the pipeline calls one function for each."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from labeler.errors import SigningError
from labeler.formats.base import DecodedImage, ImageHandler
from labeler.metadata.aigc import AigcLabel
from labeler.metadata.xmp import merge_aigc_into_xmp
from labeler.provenance.securitydata import LabelSigner, content_digest, sign_label
from labeler.settings import C2paSettings

Encoded = TypeVar("Encoded", bytes, Path)


def sign_aigc_label(
    handler: ImageHandler, image: DecodedImage, aigc: AigcLabel, encoded: bytes, signer: LabelSigner
) -> tuple[AigcLabel, bytes]:
    """Bind ``aigc`` to the coded content of ``encoded`` and re-encode with the signed label.

    The coded content does not depend on the metadata, so the second encode must reproduce it; that is
    checked, because a non-deterministic encoder would otherwise ship a label that never verifies.
    """
    digest = content_digest(encoded, handler.name)
    signed = sign_label(aigc, digest, signer)
    output = handler.encode(image, merge_aigc_into_xmp(image.metadata.xmp, signed))
    if content_digest(output, handler.name) != digest:
        raise SigningError(f"the {handler.name} encoder is not deterministic; the label cannot be bound")
    return signed, output


def sign_reencoded_label(
    aigc: AigcLabel, encoded: Encoded, media_format: str, encode: Callable[[AigcLabel], Encoded], signer: LabelSigner
) -> tuple[AigcLabel, Encoded]:
    """Audio: bind ``aigc`` to the coded content (demuxed packets) of ``encoded`` and encode again with
    the signed label. As for images, the second encode must reproduce the coded content (checked).
    ``encoded`` and what ``encode`` returns are bytes, or files (streamed audio: labeler/audio/streaming.py)."""
    digest = content_digest(encoded, media_format)
    signed = sign_label(aigc, digest, signer)
    output = encode(signed)
    if content_digest(output, media_format) != digest:
        raise SigningError(f"the {media_format} encoder is not deterministic; the label cannot be bound")
    return signed, output


def sign_c2pa_last(
    media_format: str, data: bytes, aigc: AigcLabel | None, watermark_id: int | None, settings: C2paSettings
) -> tuple[bytes, dict[str, Any], bytes]:
    """Sign a C2PA manifest into ``data``: (signed bytes, a summary for the result, the manifest store)."""
    from labeler.provenance.c2pa import build_manifest, sign_media

    signed = sign_media(data, media_format, build_manifest(aigc, watermark_id), settings)
    return signed.data, c2pa_summary(watermark_id, signed.manifest_store, settings), signed.manifest_store


def sign_c2pa_file_last(
    media_format: str, source: Path, destination: Path, aigc: AigcLabel | None, watermark_id: int | None,
    settings: C2paSettings,
) -> tuple[dict[str, Any], bytes]:
    """:func:`sign_c2pa_last` from file to file (streamed audio): (the summary, the manifest store)."""
    from labeler.provenance.c2pa import build_manifest, sign_media_file

    store = sign_media_file(source, destination, media_format, build_manifest(aigc, watermark_id), settings)
    return c2pa_summary(watermark_id, store, settings), store


def c2pa_summary(watermark_id: int | None, manifest_store: bytes, settings: C2paSettings) -> dict[str, Any]:
    """The result's summary of a signed C2PA manifest."""
    from labeler.provenance.c2pa import SOFT_BINDING_ALG

    return {
        "signed": True,
        "soft_binding": (
            {"alg": SOFT_BINDING_ALG, "value": f"{watermark_id:016x}"} if watermark_id is not None else None
        ),
        "manifest_bytes": len(manifest_store),
        "manifest_dir": str(settings.manifest_dir) if settings.manifest_dir is not None else None,
    }


def keep_manifest(summary: dict[str, Any] | None, manifest_store: bytes | None, watermark_id: int | None) -> None:
    """Keep the manifest store under its soft-binding watermark ID (durable Content Credentials); called
    when the labeling is recorded, so no manifest is kept for output that was never written."""
    if summary is None or manifest_store is None or watermark_id is None or not summary.get("manifest_dir"):
        return
    from pathlib import Path

    from labeler.provenance.c2pa import ManifestStore

    ManifestStore(Path(summary["manifest_dir"])).save(watermark_id, manifest_store)
