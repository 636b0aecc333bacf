from __future__ import annotations

import datetime as dt
import io
import time
from pathlib import Path

import av
import numpy as np
import pytest

from labeler.errors import InvalidOption, SigningError, UnsupportedFormat
from labeler.metadata.aigc import AigcLabel
from labeler.provenance.c2pa import (
    SOFT_BINDING_ALG,
    TRAINED_ALGORITHMIC_MEDIA,
    ManifestStore,
    build_manifest,
    read_c2pa,
    sign_media,
)
from labeler.provenance.devca import DevPaths
from labeler.settings import C2paSettings
from tests.conftest import image_bytes
from tests.provenance.conftest import write_chain

MANIFEST = build_manifest(AigcLabel("1", "labeler", "pid-1"), 0x0123456789ABCDEF)


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp"])
def test_dev_chain_signature_is_trusted_with_its_anchor(dev: DevPaths, c2pa_settings: C2paSettings, fmt: str) -> None:
    signed = sign_media(image_bytes(fmt), fmt, MANIFEST, c2pa_settings)
    finding = read_c2pa(signed.data, fmt, dev.ca.read_bytes())
    assert finding.state == "Trusted", finding.failures
    assert finding.digital_source_type == TRAINED_ALGORITHMIC_MEDIA and finding.ai_generated
    assert finding.aigc is not None and finding.aigc["ProduceID"] == "pid-1"
    assert finding.soft_binding == {"alg": SOFT_BINDING_ALG, "value": "0123456789abcdef"}
    assert finding.ours and finding.claim_signature_valid and finding.source == "embedded"


def test_without_anchors_it_is_valid_but_untrusted(c2pa_settings: C2paSettings) -> None:
    signed = sign_media(image_bytes("png"), "png", MANIFEST, c2pa_settings)
    finding = read_c2pa(signed.data, "png", None)
    assert finding.state == "Valid"
    assert any("signingCredential.untrusted" in f for f in finding.failures)


def test_chain_from_another_ca_is_untrusted(dev: DevPaths, tmp_path: Path) -> None:
    other, _ = write_chain(tmp_path / "other", "other")
    signed = sign_media(image_bytes("jpeg"), "jpeg", MANIFEST, other)
    finding = read_c2pa(signed.data, "jpeg", dev.ca.read_bytes())
    assert finding.state == "Valid" and not finding.trusted
    assert any("untrusted" in f for f in finding.failures)


@pytest.mark.parametrize("fmt", ["jpeg", "png"])
def test_one_byte_flipped_is_invalid(dev: DevPaths, c2pa_settings: C2paSettings, fmt: str) -> None:
    data = bytearray(sign_media(image_bytes(fmt), fmt, MANIFEST, c2pa_settings).data)
    data[len(data) * 3 // 4] ^= 0x01
    finding = read_c2pa(bytes(data), fmt, dev.ca.read_bytes())
    assert finding.state == "Invalid"
    assert any("dataHash.mismatch" in f for f in finding.failures)


def test_expired_certificate(tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    expired, _ = write_chain(tmp_path, "expired", not_before=now - dt.timedelta(days=30),
                             not_after=now - dt.timedelta(days=1))
    with pytest.raises(SigningError, match="not valid at time of signing"):
        sign_media(image_bytes("png"), "png", MANIFEST, expired)
    # Signed while valid, verified after expiry (no time stamp): the credential is reported expired.
    short, ca = write_chain(tmp_path, "short", not_after=now + dt.timedelta(seconds=2))
    signed = sign_media(image_bytes("png"), "png", MANIFEST, short)
    time.sleep(max(0.0, (now + dt.timedelta(seconds=3) - dt.datetime.now(dt.UTC)).total_seconds()))
    finding = read_c2pa(signed.data, "png", ca.read_bytes())
    assert finding.state == "Invalid"
    assert any("signingCredential.expired" in f for f in finding.failures)


def test_callback_signer(dev: DevPaths) -> None:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, utils

    key = serialization.load_pem_private_key(dev.key.read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    calls: list[int] = []

    def kms(payload: bytes) -> bytes:  # what a KMS would do: ECDSA P-256, raw r||s as COSE wants
        calls.append(len(payload))
        r, s = utils.decode_dss_signature(key.sign(payload, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    settings = C2paSettings(cert_chain=dev.chain, sign_callback=kms)
    signed = sign_media(image_bytes("jpeg"), "jpeg", MANIFEST, settings)
    assert calls
    assert read_c2pa(signed.data, "jpeg", dev.ca.read_bytes()).state == "Trusted"


def test_stripped_manifest_is_recovered_from_the_store(dev: DevPaths, c2pa_settings: C2paSettings,
                                                       tmp_path: Path) -> None:
    original = image_bytes("png")
    signed = sign_media(original, "png", MANIFEST, c2pa_settings)
    store = ManifestStore(tmp_path / "store")
    store.save(0x0123456789ABCDEF, signed.manifest_store)
    assert read_c2pa(original, "png").present is False
    recovered = read_c2pa(original, "png", dev.ca.read_bytes(), store.load(0x0123456789ABCDEF))
    assert recovered.source == "recovered via soft binding"
    assert recovered.claim_signature_valid and recovered.soft_binding is not None
    assert store.load(1) is None


def test_settings_and_format_errors(dev: DevPaths) -> None:
    with pytest.raises(InvalidOption):
        C2paSettings(cert_chain=dev.chain)
    with pytest.raises(InvalidOption):
        C2paSettings(cert_chain=dev.chain, private_key=dev.key, tsa_url="ftp://x")
    with pytest.raises(UnsupportedFormat):
        sign_media(b"GIF89a", "gif", MANIFEST, C2paSettings(cert_chain=dev.chain, private_key=dev.key))
    with pytest.raises(SigningError):  # the chain does not match the key
        sign_media(image_bytes("png"), "png", MANIFEST, C2paSettings(cert_chain=dev.chain, private_key=dev.key,
                                                                       algorithm="ps256"))


def test_reading_junk_never_raises() -> None:
    for junk in (b"", b"\xff\xd8\xff\xeb\x00\x10JP\x00\x00junkjunk", b"\x89PNG\r\n\x1a\n" + b"\0" * 40):
        finding = read_c2pa(junk, "jpeg")
        assert finding.state in (None, "Invalid")


def _wav_bytes() -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=16000, layout="mono")
        samples = (np.sin(np.arange(16000) * 0.05) * 8000).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = 16000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


_SAMPLE_TYPES = {"fltp": np.float32, "flt": np.float32, "s16p": np.int16, "s16": np.int16, "s32p": np.int32}
_SAMPLE_SCALE = {np.float32: 1.0, np.int16: 32767.0, np.int32: 2.0**30}


def _compressed_audio(container_format: str, codec: str) -> bytes:
    """A second of a tone encoded by FFmpeg through PyAV (MP3 with LAME, M4A with AAC)."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=44100, layout="mono")
        frame_size = stream.codec_context.frame_size or 1152
        sample_format = stream.codec_context.format.name
        dtype = _SAMPLE_TYPES[sample_format]
        for i in range(40):
            t = np.arange(i * frame_size, (i + 1) * frame_size)
            samples = (0.3 * np.sin(t * 0.05) * _SAMPLE_SCALE[dtype]).astype(dtype).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(samples, format=sample_format, layout="mono")
            frame.sample_rate = 44100
            frame.pts = i * frame_size
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def _mp3_bytes() -> bytes:
    return _compressed_audio("mp3", "libmp3lame")


def _m4a_bytes() -> bytes:
    return _compressed_audio("ipod", "aac")


def _mp4_bytes() -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(5):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 40, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("fmt", "make"), [("wav", _wav_bytes), ("mp3", _mp3_bytes), ("m4a", _m4a_bytes), ("mp4", _mp4_bytes)]
)
def test_audio_and_video_are_signed_generically(dev: DevPaths, c2pa_settings: C2paSettings, fmt: str,
                                                make: object) -> None:
    assert callable(make)
    signed = sign_media(make(), fmt, MANIFEST, c2pa_settings)
    finding = read_c2pa(signed.data, fmt, dev.ca.read_bytes())
    assert finding.state == "Trusted", finding.failures
    assert finding.soft_binding is not None and finding.aigc is not None
