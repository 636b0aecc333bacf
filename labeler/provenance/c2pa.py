"""C2PA Content Credentials through c2pa-python: sign any supported media (bytes + MIME type) and read
the manifest of any issuer with its validation state.

The manifest labeler signs holds three assertions:

* ``c2pa.actions`` with one ``c2pa.created`` action whose ``digitalSourceType`` is IPTC's
  ``trainedAlgorithmicMedia``;
* ``cn.gb45438.aigc``: the GB 45438 AIGC label object (the same seven fields as the metadata label);
* ``c2pa.soft-binding`` (C2PA 2.x, section "Soft Binding"): ``alg`` ``com.labeler.wm.v1`` and one block
  whose ``value`` is the watermark ID in hex, so a manifest can be found again from the watermark when
  the file's metadata has been stripped ("durable Content Credentials").

Signing is the last step of labeling (C2PA hashes the bytes around its own box, so any later metadata
write would invalidate it). Thumbnails are off: a thumbnail of AI content would be a second, unlabeled
copy of it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import c2pa as c2pa_lib

from labeler import __version__
from labeler.errors import InvalidOption, SigningError, UnsupportedFormat
from labeler.metadata.aigc import AigcLabel
from labeler.provenance.devca import read_pem_file
from labeler.settings import C2paSettings

AIGC_ASSERTION = "cn.gb45438.aigc"
SOFT_BINDING_ASSERTION = "c2pa.soft-binding"
SOFT_BINDING_ALG = "com.labeler.wm.v1"
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"

#: Our format names (handlers' ``name``) -> the MIME type c2pa expects.
MIME_BY_FORMAT: dict[str, str] = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
    "mp4": "video/mp4",
}

_ALGORITHMS: dict[str, c2pa_lib.C2paSigningAlg] = {
    "es256": c2pa_lib.C2paSigningAlg.ES256,
    "es384": c2pa_lib.C2paSigningAlg.ES384,
    "es512": c2pa_lib.C2paSigningAlg.ES512,
    "ps256": c2pa_lib.C2paSigningAlg.PS256,
    "ps384": c2pa_lib.C2paSigningAlg.PS384,
    "ps512": c2pa_lib.C2paSigningAlg.PS512,
    "ed25519": c2pa_lib.C2paSigningAlg.ED25519,
}

_SIGNING_SETTINGS = {"builder": {"thumbnail": {"enabled": False}}}


def mime_for(media_format: str) -> str:
    try:
        return MIME_BY_FORMAT[media_format]
    except KeyError:
        raise UnsupportedFormat(f"C2PA signing is not supported for {media_format!r}") from None


def build_manifest(aigc: AigcLabel | None, watermark_id: int | None, title: str = "labeled media") -> dict[str, Any]:
    assertions: list[dict[str, Any]] = [
        {
            "label": "c2pa.actions",
            "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA}]},
        }
    ]
    if aigc is not None:
        assertions.append({"label": AIGC_ASSERTION, "data": aigc.to_dict()})
    if watermark_id is not None:
        assertions.append(
            {
                "label": SOFT_BINDING_ASSERTION,
                "data": {"alg": SOFT_BINDING_ALG, "blocks": [{"scope": {}, "value": f"{watermark_id:016x}"}]},
            }
        )
    return {
        "claim_generator_info": [{"name": "labeler", "version": __version__}],
        "title": title,
        "assertions": assertions,
    }


def _signer(settings: C2paSettings) -> c2pa_lib.Signer:
    alg = _ALGORITHMS.get(settings.algorithm.lower())
    if alg is None:
        raise InvalidOption(f"unknown C2PA signing algorithm {settings.algorithm!r}")
    if settings.cert_chain is None:
        raise InvalidOption("C2PA signing needs a certificate chain (--c2pa-cert)")
    chain = read_pem_file(settings.cert_chain, "C2PA certificate chain")
    try:
        if settings.sign_callback is not None:
            return c2pa_lib.Signer.from_callback(settings.sign_callback, alg, chain.decode("ascii"), settings.tsa_url)
        if settings.private_key is None:
            raise InvalidOption("C2PA signing needs a private key (--c2pa-key) or a signing callback")
        key = read_pem_file(settings.private_key, "C2PA private key")
        return c2pa_lib.Signer.from_info(c2pa_lib.C2paSignerInfo(alg, chain, key, settings.tsa_url))
    except c2pa_lib.C2paError as exc:
        raise SigningError(f"cannot create the C2PA signer: {exc}") from None


@dataclass(frozen=True)
class SignedMedia:
    data: bytes
    #: The manifest store (JUMBF) as c2pa wrote it; kept for durable Content Credentials.
    manifest_store: bytes


def _sign_stream(source: Any, destination: Any, media_format: str, manifest: dict[str, Any],
                 settings: C2paSettings) -> bytes:
    mime = mime_for(media_format)
    signer = _signer(settings)
    try:
        with c2pa_lib.Context.from_dict(_SIGNING_SETTINGS) as context, c2pa_lib.Builder(manifest, context) as builder:
            store = builder.sign(signer, mime, source, destination)
    except c2pa_lib.C2paError as exc:
        raise SigningError(f"C2PA signing failed: {exc}") from None
    finally:
        signer.close()
    return bytes(store)


def sign_media(data: bytes, media_format: str, manifest: dict[str, Any], settings: C2paSettings) -> SignedMedia:
    """Embed and sign ``manifest`` into ``data``. Raises SigningError (bad credentials, TSA, format)."""
    out = io.BytesIO()
    store = _sign_stream(io.BytesIO(data), out, media_format, manifest, settings)
    return SignedMedia(out.getvalue(), store)


def sign_media_file(
    source: Path, destination: Path, media_format: str, manifest: dict[str, Any], settings: C2paSettings
) -> bytes:
    """Like ``sign_media`` from file to file (videos are never read whole); returns the manifest store."""
    try:
        with open(source, "rb") as src, open(destination, "w+b") as dst:
            return _sign_stream(src, dst, media_format, manifest, settings)
    except OSError as exc:
        raise SigningError(f"C2PA signing failed: {exc}") from None


@dataclass(frozen=True)
class C2paFinding:
    """What a file's C2PA manifest says. ``state``: Trusted, Valid (signature and hashes good, signer not
    on the configured trust anchors) or Invalid; None when there is no manifest."""

    present: bool
    state: str | None = None
    failures: tuple[str, ...] = ()
    issuer: str | None = None
    common_name: str | None = None
    claim_generator: str | None = None
    digital_source_type: str | None = None
    aigc: dict[str, Any] | None = None
    soft_binding: dict[str, str] | None = None
    #: Where it came from: "embedded", or "recovered via soft binding" (from the manifest store).
    source: str | None = None
    error: str | None = None
    #: The claim signature verified (c2pa's claimSignature.validated), whatever the data-hash result:
    #: what matters for a manifest recovered for re-encoded content, whose bytes no longer match.
    claim_signature_valid: bool = False

    @property
    def trusted(self) -> bool:
        return self.state == "Trusted"

    @property
    def valid(self) -> bool:
        return self.state in ("Trusted", "Valid")

    @property
    def ai_generated(self) -> bool:
        return self.digital_source_type is not None and "algorithmicmedia" in self.digital_source_type.lower()

    @property
    def ours(self) -> bool:
        return self.soft_binding is not None and self.soft_binding.get("alg") == SOFT_BINDING_ALG

    def to_dict(self) -> dict[str, Any]:
        return {
            "present": self.present,
            "state": self.state,
            "failures": list(self.failures),
            "issuer": self.issuer,
            "common_name": self.common_name,
            "claim_generator": self.claim_generator,
            "digital_source_type": self.digital_source_type,
            "aigc": self.aigc,
            "soft_binding": self.soft_binding,
            "source": self.source,
            "error": self.error,
            "claim_signature_valid": self.claim_signature_valid,
            # A forged valid signature needs the signer's private key (ECDSA P-256: about 2**-128).
            "false_positive_probability": 2.0**-128 if self.valid else None,
        }


def _reader_settings(trust_anchors: bytes | None) -> dict[str, Any]:
    settings: dict[str, Any] = {"verify": {"verify_trust": True}}
    if trust_anchors:
        settings["trust"] = {"trust_anchors": trust_anchors.decode("ascii", errors="replace")}
    return settings


def _finding_from_store(store: dict[str, Any], state: str | None, source: str) -> C2paFinding:
    active_label = store.get("active_manifest")
    manifests = store.get("manifests") or {}
    active = manifests.get(active_label) if isinstance(manifests, dict) else None
    results = store.get("validation_results") or {}
    failures: list[str] = []
    active_results = results.get("activeManifest") if isinstance(results, dict) else None
    signature_ok = False
    if isinstance(active_results, dict):
        signature_ok = any(
            isinstance(item, dict) and item.get("code") == "claimSignature.validated"
            for item in active_results.get("success") or []
        )
        for item in active_results.get("failure") or []:
            failures.append(f"{item.get('code')}: {item.get('explanation', '')}".strip())
    for item in store.get("validation_status") or []:
        text = f"{item.get('code')}: {item.get('explanation', '')}".strip()
        if text not in failures and not str(item.get("code", "")).endswith((".match", ".validated", ".trusted")):
            failures.append(text)
    if not isinstance(active, dict):
        return C2paFinding(True, state, tuple(failures), source=source, error="no active manifest")
    signature = active.get("signature_info") or {}
    generator_info = active.get("claim_generator_info") or []
    generator = active.get("claim_generator")
    if not generator and generator_info and isinstance(generator_info[0], dict):
        generator = " ".join(str(generator_info[0].get(k, "")) for k in ("name", "version")).strip()
    source_type = None
    aigc = None
    soft = None
    for assertion in active.get("assertions") or []:
        label = str(assertion.get("label", ""))
        data = assertion.get("data")
        if label.startswith("c2pa.actions") and isinstance(data, dict):
            for action in data.get("actions") or []:
                if isinstance(action, dict) and action.get("digitalSourceType") and source_type is None:
                    source_type = str(action["digitalSourceType"])
        elif label == AIGC_ASSERTION and isinstance(data, dict):
            aigc = data
        elif label.startswith(SOFT_BINDING_ASSERTION) and isinstance(data, dict):
            blocks = data.get("blocks") or []
            value = blocks[0].get("value") if blocks and isinstance(blocks[0], dict) else None
            soft = {"alg": str(data.get("alg")), "value": str(value)}
    return C2paFinding(
        present=True,
        state=state,
        failures=tuple(failures),
        issuer=signature.get("issuer"),
        common_name=signature.get("common_name"),
        claim_generator=generator or None,
        digital_source_type=source_type,
        aigc=aigc,
        soft_binding=soft,
        source=source,
        claim_signature_valid=signature_ok,
    )


def read_c2pa(
    data: bytes | Path, media_format: str, trust_anchors: bytes | None = None, manifest_store: bytes | None = None
) -> C2paFinding:
    """The C2PA finding for ``data`` (or for a detached ``manifest_store`` applied to it); a path is read
    as a stream (videos). Never raises."""
    mime = MIME_BY_FORMAT.get(media_format)
    if mime is None:
        return C2paFinding(False, error=f"C2PA is not read for {media_format!r}")
    if isinstance(data, Path):
        try:
            with open(data, "rb") as stream:
                return _read_stream(stream, mime, trust_anchors, manifest_store)
        except OSError as exc:
            return C2paFinding(False, error=f"cannot read {data}: {exc}")
    return _read_stream(io.BytesIO(data), mime, trust_anchors, manifest_store)


def _read_stream(
    stream: Any, mime: str, trust_anchors: bytes | None, manifest_store: bytes | None
) -> C2paFinding:
    source = "embedded" if manifest_store is None else "recovered via soft binding"
    try:
        with c2pa_lib.Context.from_dict(_reader_settings(trust_anchors)) as context:
            reader = c2pa_lib.Reader.try_create(mime, stream, manifest_store, context)
            if reader is None:
                return C2paFinding(False)
            with reader:
                state = reader.get_validation_state()
                store = json.loads(reader.json())
    except c2pa_lib.C2paError as exc:
        # A manifest that cannot even be parsed is present and invalid.
        return C2paFinding(True, "Invalid", (str(exc),), source=source, error=str(exc))
    except (ValueError, TypeError) as exc:
        return C2paFinding(True, "Invalid", (str(exc),), source=source, error=str(exc))
    return _finding_from_store(store, state, source)


@dataclass(frozen=True)
class ManifestStore:
    """Signed manifest stores kept by watermark ID (one file each), so a verifier can recover the
    Content Credentials of a file whose manifest was stripped but whose watermark still decodes."""

    directory: Path
    _suffix: str = field(default=".c2pa", repr=False)

    def path_for(self, watermark_id: int) -> Path:
        return self.directory / f"{watermark_id:016x}{self._suffix}"

    def save(self, watermark_id: int, manifest_store: bytes) -> Path:
        path = self.path_for(watermark_id)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_bytes(manifest_store)
            tmp.replace(path)
        except OSError as exc:
            raise SigningError(f"cannot keep the C2PA manifest in {self.directory}: {exc}") from None
        return path

    def load(self, watermark_id: int) -> bytes | None:
        try:
            return self.path_for(watermark_id).read_bytes()
        except OSError:
            return None


SignCallback = Callable[[bytes], bytes]
