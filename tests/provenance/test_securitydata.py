from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labeler import formats
from labeler.errors import KeyInvalid, UnsupportedFormat
from labeler.metadata.aigc import AigcLabel
from labeler.metadata.reader import read_aigc
from labeler.metadata.xmp import merge_aigc_into_xmp
from labeler.pipeline import Labeler
from labeler.provenance.devca import DevPaths, new_label_key_pem
from labeler.provenance.securitydata import (
    LabelSigner,
    Role,
    SecurityStatus,
    content_digest,
    load_public_keys,
    sign_label,
    verify_label,
)
from labeler.settings import LabelOptions, Limits
from tests.conftest import image_bytes


def _signed_file(dev: DevPaths, fmt: str, seed: int = 0) -> bytes:
    labeler = Labeler(None, None, label_signer=LabelSigner.from_file(dev.label_key))
    return labeler.label_bytes(image_bytes(fmt, seed=seed), LabelOptions(watermark=False, produce_id=f"p{seed}")).data


def _label(data: bytes) -> AigcLabel:
    reading = read_aigc(data, formats.sniff(data))
    assert reading is not None and reading.parsed.label is not None
    return reading.parsed.label


def _check(data: bytes, keys: dict[str, bytes] | None = None) -> SecurityStatus:
    return verify_label(_label(data), data, formats.sniff(data).name, keys).status


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp"])
def test_signed_label_is_authentic_and_trusted(dev: DevPaths, fmt: str) -> None:
    data = _signed_file(dev, fmt)
    keys = load_public_keys((dev.label_key,))
    finding = verify_label(_label(data), data, fmt, keys)
    assert finding.status is SecurityStatus.AUTHENTIC
    assert finding.trusted
    # Without the key in the trust list the signature still verifies, but is not trusted.
    untrusted = verify_label(_label(data), data, fmt, {})
    assert untrusted.status is SecurityStatus.AUTHENTIC and not untrusted.trusted


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp"])
def test_one_content_byte_flipped_unbinds_the_label(dev: DevPaths, fmt: str) -> None:
    data = bytearray(_signed_file(dev, fmt))
    data[len(data) // 2] ^= 0x01  # inside the coded image data (scan data / IDAT / VP8 payload)
    assert _check(bytes(data)) is SecurityStatus.UNBOUND


@pytest.mark.parametrize("field", ["label", "content_producer", "produce_id"])
def test_metadata_edited_after_signing_is_tampered(dev: DevPaths, field: str) -> None:
    data = _signed_file(dev, "png")
    handler = formats.sniff(data)
    image = handler.decode(data, Limits())
    edited_label = dataclasses.replace(_label(data), **{field: "2" if field == "label" else "someone-else"})
    edited = handler.encode(image, merge_aigc_into_xmp(image.metadata.xmp, edited_label))
    assert content_digest(edited, "png") == content_digest(data, "png")  # same content, only metadata changed
    assert _check(edited) is SecurityStatus.TAMPERED


def test_label_copied_to_another_file_is_unbound(dev: DevPaths) -> None:
    original = _signed_file(dev, "jpeg", seed=1)
    other = formats.sniff(original)
    target = image_bytes("jpeg", seed=2)
    image = other.decode(target, Limits())
    copied = other.encode(image, merge_aigc_into_xmp(None, _label(original)))
    finding = verify_label(_label(copied), copied, "jpeg", load_public_keys((dev.label_key,)))
    assert finding.status is SecurityStatus.UNBOUND
    assert "copied" in finding.reason


def test_propagator_fields_do_not_break_the_producer_signature(dev: DevPaths) -> None:
    data = _signed_file(dev, "png")
    handler = formats.sniff(data)
    image = handler.decode(data, Limits())
    propagated = _label(data).with_propagator("platform-x", "post-123")
    out = handler.encode(image, merge_aigc_into_xmp(image.metadata.xmp, propagated))
    assert _check(out) is SecurityStatus.AUTHENTIC


def test_absent_and_malformed_security_data() -> None:
    data = image_bytes("png")
    label = AigcLabel("1", "p", "id")
    assert verify_label(label, data, "png").status is SecurityStatus.ABSENT
    for junk in ('{"Type":"labeler.ed25519","PubSD":"!!"}', '{"Type":"labeler.ed25519"}'):
        assert verify_label(dataclasses.replace(label, reserved_code1=junk), data, "png").status is (
            SecurityStatus.MALFORMED
        )
    # Other providers' ReservedCode1 contents are reported, not held against the label.
    for other in ("abc", "{", '{"Type":"other"}', "[1,2]", "computer,1|human,0|"):
        assert verify_label(dataclasses.replace(label, reserved_code1=other), data, "png").status is (
            SecurityStatus.FOREIGN
        )


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=300))
def test_verify_never_raises_on_arbitrary_reserved_code(text: str) -> None:
    finding = verify_label(AigcLabel("1", "p", "id", reserved_code1=text), image_bytes("png", 64, 64), "png")
    assert finding.status is not SecurityStatus.AUTHENTIC


def test_swapped_public_key_is_tampered(dev: DevPaths, tmp_path: Path) -> None:
    data = _signed_file(dev, "png")
    label = _label(data)
    other = LabelSigner.from_pem(new_label_key_pem())
    resigned = sign_label(label, "00" * 32, other)
    # Graft the other key's Extension onto the original signature: the KeyID/PublicKey no longer match.
    sd = json.loads(label.reserved_code1)
    sd["Extension"] = json.loads(resigned.reserved_code1)["Extension"]
    forged = dataclasses.replace(label, reserved_code1=json.dumps(sd))
    assert verify_label(forged, data, "png").status is SecurityStatus.TAMPERED


def test_content_digest_refuses_other_formats_and_junk() -> None:
    with pytest.raises(UnsupportedFormat):
        content_digest(b"RIFF....WAVE", "wav")
    with pytest.raises(UnsupportedFormat):
        content_digest(b"\xff\xd8\xff", "jpeg")


def test_signing_key_must_be_ed25519(dev: DevPaths) -> None:
    with pytest.raises(KeyInvalid):
        LabelSigner.from_file(dev.key)  # the C2PA signer's ECDSA key


def test_propagator_signs_reserved_code2(dev: DevPaths) -> None:
    data = _signed_file(dev, "png")
    handler = formats.sniff(data)
    image = handler.decode(data, Limits())
    platform = LabelSigner.from_pem(new_label_key_pem())
    digest = content_digest(data, "png")
    propagated = sign_label(_label(data).with_propagator("platform-x", "post-9"), digest, platform, Role.PROPAGATOR)
    out = handler.encode(image, merge_aigc_into_xmp(image.metadata.xmp, propagated))
    label = _label(out)
    assert verify_label(label, out, "png", role=Role.PROPAGATOR).status is SecurityStatus.AUTHENTIC
    assert verify_label(label, out, "png").status is SecurityStatus.AUTHENTIC  # the producer's still holds
    # The propagator's signature covers its own fields: changing PropagateID breaks it, not the producer's.
    edited = dataclasses.replace(label, propagate_id="post-10")
    assert verify_label(edited, out, "png", role=Role.PROPAGATOR).status is SecurityStatus.TAMPERED
    assert verify_label(edited, out, "png").status is SecurityStatus.AUTHENTIC
    from labeler.verification import Verifier

    report = Verifier().verify_bytes(out)
    assert report.propagator_security is not None and report.propagator_security.authentic
    assert any(e.startswith("propagator SecurityData authentic") for e in report.evidence)


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=400), st.sampled_from(["jpeg", "png", "webp"]))
def test_content_digest_on_junk_raises_only_unsupported_format(junk: bytes, fmt: str) -> None:
    prefix = {"jpeg": b"\xff\xd8", "png": b"\x89PNG\r\n\x1a\n", "webp": b"RIFF\x20\x00\x00\x00WEBP"}[fmt]
    try:
        digest = content_digest(prefix + junk, fmt)
    except UnsupportedFormat:
        return
    assert len(digest) == 64
