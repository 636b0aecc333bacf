"""TC260 SecurityData for the AIGC label: a signature over the label and a hash binding it to the content.

GB 45438-2025 reserves ``ReservedCode1`` for the producer's own protection of the label and content
(``ReservedCode2`` for the propagator's), and TC260's practice guide on protecting file-metadata
implicit labels describes the protection data as a JSON object with ``Type``, ``Version``, optional
``Bindings``, ``PrivSD``, ``PubSD`` and ``Extension`` (see docs/provenance.md for sources and for what
is our own choice). labeler writes, as the text of ReservedCode1::

    {"Type":"labeler.ed25519","Version":"1",
     "Bindings":[{"Alg":"sha256","Scope":"coded-content","Value":"<64 hex>"}],
     "PrivSD":"","PubSD":"<base64 Ed25519 signature>",
     "Extension":{"KeyID":"<16 hex>","PublicKey":"<base64 raw public key>"}}

The signature covers, as canonical JSON (sorted keys, no spaces, UTF-8), the producer's label fields
(Label, ContentProducer, ProduceID), Type, Version, Bindings and KeyID. It does not cover the
propagator's fields, so a platform can add ContentPropagator/PropagateID/ReservedCode2 without breaking it.
A propagation platform signs the same structure into ReservedCode2 (``Role.PROPAGATOR``); its signature
also covers ReservedCode1, ContentPropagator and PropagateID.

*Coded content* is the file minus its metadata containers: for JPEG every marker segment except APPn
and COM plus the entropy-coded data; for PNG every chunk except tEXt/zTXt/iTXt/eXIf/tIME and C2PA's
caBX; for WebP every chunk except VP8X (its flags change with metadata), EXIF, ``XMP `` and C2PA. It is
what decoders turn into pixels, so it does not change when metadata is added (XMP, C2PA) but changes
with any re-encode, crop or edit. Hashing coded bytes rather than decoded pixels keeps the result
independent of the decoder build on the verifying machine.

Verdicts: *authentic* (signature valid and the content hash matches; ``trusted`` says whether the key
is one the verifier trusts), *tampered* (the signature does not verify: a signed field was edited),
*unbound* (the signature verifies but the hash does not match: the label was copied from another file,
or the content was modified after signing), *malformed* (claims to be ours but lacks parts), *foreign*
(another provider's data, not checked), *absent*.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import struct
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from labeler.errors import KeyInvalid, UnsupportedFormat
from labeler.formats import jpeg as _jpeg
from labeler.formats import png as _png
from labeler.formats import webp as _webp
from labeler.metadata.aigc import AigcLabel
from labeler.provenance.devca import read_pem_file
from labeler.provenance.media_binding import PACKET_FORMATS, packet_digest

SD_TYPE = "labeler.ed25519"
SD_VERSION = "1"
BINDING_SCOPE = "coded-content"
#: Larger ReservedCode texts are not parsed (ours is about 300 characters).
_MAX_SD_CHARS = 8192

_JPEG_METADATA_MARKERS = frozenset(range(0xE0, 0xF0)) | {0xFE}
_PNG_METADATA_CHUNKS = frozenset({b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME", b"caBX"})
_WEBP_METADATA_CHUNKS = frozenset({b"VP8X", b"EXIF", b"XMP ", b"C2PA"})


class SecurityStatus(StrEnum):
    AUTHENTIC = "authentic"
    TAMPERED = "tampered"
    UNBOUND = "unbound"
    MALFORMED = "malformed"
    #: ReservedCode holds something that is not our SecurityData (another provider's scheme): not checked.
    FOREIGN = "foreign"
    ABSENT = "absent"


def content_digest(data: bytes | Path, media_format: str) -> str:
    """SHA-256 hex of the coded content of a file (see the module doc; audio and video: the demuxed
    packets, ``media_binding``). ``data`` may be a path for audio/video (a video is never read whole).
    UnsupportedFormat for formats without a definition."""
    h = hashlib.sha256()
    h.update(media_format.encode("ascii") + b"\0")
    if media_format in PACKET_FORMATS:
        return packet_digest(data, media_format, h)
    if isinstance(data, Path):
        data = data.read_bytes()
    if media_format == "jpeg":
        segments, sos, error = _jpeg._walk(data)
        if sos is None:
            raise UnsupportedFormat(f"cannot hash the JPEG content: {error}")
        for seg in segments:
            if seg.marker not in _JPEG_METADATA_MARKERS:
                h.update(data[seg.start - 4 : seg.end])
        h.update(data[segments[-1].end :])
    elif media_format == "png":
        chunks, error = _png._walk(data)
        if error is not None:
            raise UnsupportedFormat(f"cannot hash the PNG content: {error}")
        for chunk in chunks:
            if chunk.ctype not in _PNG_METADATA_CHUNKS:
                h.update(chunk.ctype + struct.pack(">I", chunk.end - chunk.start) + data[chunk.start : chunk.end])
    elif media_format == "webp":
        wchunks, error = _webp._walk(data)
        if error is not None:
            raise UnsupportedFormat(f"cannot hash the WebP content: {error}")
        for wchunk in wchunks:
            if wchunk.fourcc not in _WEBP_METADATA_CHUNKS:
                h.update(wchunk.fourcc + struct.pack("<I", wchunk.end - wchunk.start) + data[wchunk.start : wchunk.end])
    else:
        raise UnsupportedFormat(f"SecurityData content binding is not defined for {media_format!r} yet")
    return h.hexdigest()


def _key_id(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()[:16]


@dataclass(frozen=True)
class LabelSigner:
    """An Ed25519 key that signs AIGC labels."""

    private_key: ed25519.Ed25519PrivateKey

    @classmethod
    def from_pem(cls, pem: bytes) -> LabelSigner:
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise KeyInvalid(f"not a PEM private key: {exc}") from None
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise KeyInvalid("the AIGC label signing key must be an Ed25519 key")
        return cls(key)

    @classmethod
    def from_file(cls, path: Path) -> LabelSigner:
        return cls.from_pem(read_pem_file(path, "AIGC label signing key"))

    @property
    def public_raw(self) -> bytes:
        return self.private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def key_id(self) -> str:
        return _key_id(self.public_raw)

    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


class Role(StrEnum):
    """Who signs: the producer (ReservedCode1) or a propagation platform (ReservedCode2)."""

    PRODUCER = "producer"
    PROPAGATOR = "propagator"


def _signed_message(
    label: AigcLabel, sd_type: str, version: str, bindings: Any, key_id: str, role: Role = Role.PRODUCER
) -> bytes:
    body: dict[str, Any] = {
        "Label": label.label,
        "ContentProducer": label.content_producer,
        "ProduceID": label.produce_id,
    }
    if role is Role.PROPAGATOR:
        # The propagator vouches for everything before its own ReservedCode2, the producer's SecurityData too.
        body.update(
            ReservedCode1=label.reserved_code1,
            ContentPropagator=label.content_propagator,
            PropagateID=label.propagate_id,
        )
    body.update({
        "Type": sd_type,
        "Version": version,
        "Bindings": bindings,
        "KeyID": key_id,
    })
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign_label(label: AigcLabel, digest_hex: str, signer: LabelSigner, role: Role = Role.PRODUCER) -> AigcLabel:
    """``label`` with SecurityData binding it to content whose digest is ``digest_hex``: in ReservedCode1
    for the producer, in ReservedCode2 for a propagator (who sets its own fields first)."""
    bindings = [{"Alg": "sha256", "Scope": BINDING_SCOPE, "Value": digest_hex}]
    key_id = signer.key_id
    signature = signer.private_key.sign(_signed_message(label, SD_TYPE, SD_VERSION, bindings, key_id, role))
    security_data = {
        "Type": SD_TYPE,
        "Version": SD_VERSION,
        "Bindings": bindings,
        "PrivSD": "",
        "PubSD": base64.b64encode(signature).decode("ascii"),
        "Extension": {"KeyID": key_id, "PublicKey": base64.b64encode(signer.public_raw).decode("ascii")},
    }
    text = json.dumps(security_data, separators=(",", ":"))
    if role is Role.PROPAGATOR:
        return replace(label, reserved_code2=text)
    return replace(label, reserved_code1=text)


def load_public_keys(paths: tuple[Path, ...]) -> dict[str, bytes]:
    """Trusted label-signing keys (PEM public or private key files) as KeyID -> raw public key."""
    keys: dict[str, bytes] = {}
    for path in paths:
        pem = read_pem_file(path, "AIGC label key")
        try:
            if b"PRIVATE KEY" in pem:
                raw = LabelSigner.from_pem(pem).public_raw
            else:
                public = serialization.load_pem_public_key(pem)
                if not isinstance(public, ed25519.Ed25519PublicKey):
                    raise KeyInvalid(f"{path} is not an Ed25519 key")
                raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        except ValueError as exc:
            raise KeyInvalid(f"{path}: {exc}") from None
        keys[_key_id(raw)] = raw
    return keys


@dataclass(frozen=True)
class SecurityFinding:
    status: SecurityStatus
    reason: str
    key_id: str | None = None
    #: The signing key is one the verifier trusts (only meaningful when the signature verifies).
    trusted: bool = False
    signed_digest: str | None = None
    content_digest: str | None = None

    @property
    def authentic(self) -> bool:
        return self.status is SecurityStatus.AUTHENTIC

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "reason": self.reason,
            "key_id": self.key_id,
            "trusted": self.trusted,
            "signed_digest": self.signed_digest,
            "content_digest": self.content_digest,
            # An Ed25519 forgery without the key: below 2**-128 (the scheme's security level).
            "false_positive_probability": 2.0**-128 if self.status is SecurityStatus.AUTHENTIC else None,
        }


def _b64(text: object) -> bytes | None:
    if not isinstance(text, str):
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def verify_label(
    label: AigcLabel,
    data: bytes | Path,
    media_format: str,
    trusted_keys: dict[str, bytes] | None = None,
    role: Role = Role.PRODUCER,
) -> SecurityFinding:
    """Check the SecurityData in ReservedCode1 (``role`` producer) or ReservedCode2 (propagator) against
    the label and ``data``. Never raises."""
    field_name = "ReservedCode2" if role is Role.PROPAGATOR else "ReservedCode1"
    text = (label.reserved_code2 if role is Role.PROPAGATOR else label.reserved_code1).strip()
    if not text:
        return SecurityFinding(SecurityStatus.ABSENT, f"{field_name} is empty (not signed)")
    foreign = SecurityFinding(
        SecurityStatus.FOREIGN, f"{field_name} holds data of another scheme (not labeler SecurityData); not checked"
    )
    if len(text) > _MAX_SD_CHARS or not text.startswith("{"):
        return foreign
    try:
        sd = json.loads(text)
    except (ValueError, RecursionError):
        return foreign
    if not isinstance(sd, dict) or sd.get("Type") != SD_TYPE:
        kind = sd.get("Type") if isinstance(sd, dict) else None
        return SecurityFinding(SecurityStatus.FOREIGN, f"SecurityData of another Type {kind!r}; not checked")
    extension = sd.get("Extension")
    bindings = sd.get("Bindings")
    signature = _b64(sd.get("PubSD"))
    public_raw = _b64(extension.get("PublicKey")) if isinstance(extension, dict) else None
    key_id = extension.get("KeyID") if isinstance(extension, dict) else None
    binding = bindings[0] if isinstance(bindings, list) and bindings and isinstance(bindings[0], dict) else None
    if (
        signature is None
        or public_raw is None
        or len(public_raw) != 32
        or not isinstance(key_id, str)
        or binding is None
        or not isinstance(binding.get("Value"), str)
    ):
        return SecurityFinding(SecurityStatus.MALFORMED, "SecurityData lacks a signature, key or binding")
    if key_id != _key_id(public_raw):
        return SecurityFinding(SecurityStatus.TAMPERED, "the KeyID does not match the embedded public key", key_id)
    trusted = trusted_keys is not None and trusted_keys.get(key_id) == public_raw
    message = _signed_message(label, SD_TYPE, str(sd.get("Version")), bindings, key_id, role)
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(public_raw).verify(signature, message)
    except (InvalidSignature, ValueError):
        return SecurityFinding(
            SecurityStatus.TAMPERED, "the signature does not verify: a signed label field was changed", key_id
        )
    signed_digest = str(binding["Value"])
    try:
        actual = content_digest(data, media_format)
    except UnsupportedFormat as exc:
        return SecurityFinding(SecurityStatus.MALFORMED, exc.message, key_id, trusted, signed_digest)
    if actual != signed_digest:
        return SecurityFinding(
            SecurityStatus.UNBOUND,
            "the signature is valid but the content hash differs: the label was copied from another file "
            "or the content was modified after signing",
            key_id,
            trusted,
            signed_digest,
            actual,
        )
    who = "a trusted key" if trusted else "a key the verifier does not trust"
    return SecurityFinding(
        SecurityStatus.AUTHENTIC, f"signed by {who} ({key_id}) and bound to this content", key_id, trusted,
        signed_digest, actual,
    )
