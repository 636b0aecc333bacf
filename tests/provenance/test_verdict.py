"""The verdict with provenance evidence, end to end through Labeler, Verifier and the CLI."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from labeler import formats
from labeler.cli import main
from labeler.metadata.aigc import AigcLabel
from labeler.metadata.xmp import merge_aigc_into_xmp
from labeler.pipeline import Labeler
from labeler.provenance.c2pa import C2paFinding
from labeler.provenance.devca import DevPaths
from labeler.provenance.securitydata import LabelSigner
from labeler.provenance.thirdparty import ThirdPartyMark
from labeler.settings import C2paSettings, LabelOptions, Limits, TrustSettings
from labeler.store.registry import Registry
from labeler.verification import MetadataFinding, Verdict, Verifier, WatermarkFinding, decide
from labeler.watermark.keys import WatermarkKey
from tests.conftest import image_bytes
from tests.helpers import natural_image
from tests.provenance.test_thirdparty import embed_dwtdct_independently


def _trust(dev: DevPaths, tmp_path: Path) -> TrustSettings:
    return TrustSettings(c2pa_trust_anchors=dev.ca, label_keys=(dev.label_key,), manifest_dir=tmp_path / "manifests")


def test_full_labeling_is_confirmed_with_every_piece_of_evidence(
    dev: DevPaths, c2pa_settings: C2paSettings, key: WatermarkKey, tmp_path: Path
) -> None:
    with Registry.open(tmp_path / "r.sqlite3") as registry:
        labeler = Labeler(key, registry, label_signer=LabelSigner.from_file(dev.label_key))
        result = labeler.label_bytes(image_bytes("jpeg"), LabelOptions(c2pa=c2pa_settings))
        report = Verifier(key, registry, trust=_trust(dev, tmp_path)).verify_bytes(result.data)
    assert report.verdict is Verdict.CONFIRMED
    assert "signature valid and bound" in report.reason
    assert report.security is not None and report.security.authentic and report.security.trusted
    assert report.c2pa is not None and report.c2pa.trusted and report.c2pa.ours
    assert report.watermark.detected and report.records
    as_json = report.to_dict()
    assert as_json["c2pa"]["state"] == "Trusted"
    assert as_json["security_data"]["status"] == "authentic"
    assert as_json["sd_watermark"]["detected"] is False


def test_stripped_and_reencoded_file_recovers_its_credentials(
    dev: DevPaths, c2pa_settings: C2paSettings, key: WatermarkKey, tmp_path: Path
) -> None:
    with Registry.open(tmp_path / "r.sqlite3") as registry:
        labeler = Labeler(key, registry)
        result = labeler.label_bytes(image_bytes("png"), LabelOptions(c2pa=c2pa_settings))
        buffer = io.BytesIO()
        Image.open(io.BytesIO(result.data)).convert("RGB").save(buffer, "JPEG", quality=90)  # strips everything
        report = Verifier(key, registry, trust=_trust(dev, tmp_path)).verify_bytes(buffer.getvalue())
    assert not report.metadata.present
    assert report.verdict is Verdict.CONFIRMED
    assert report.c2pa is not None and report.c2pa.source == "recovered via soft binding"
    assert report.c2pa.claim_signature_valid
    assert report.c2pa.soft_binding == {"alg": "com.labeler.wm.v1", "value": f"{result.watermark_id:016x}"}


def test_tampered_signed_label_is_only_suspected(dev: DevPaths, tmp_path: Path) -> None:
    labeler = Labeler(None, None, label_signer=LabelSigner.from_file(dev.label_key))
    data = labeler.label_bytes(image_bytes("png"), LabelOptions(watermark=False)).data
    handler = formats.sniff(data)
    image = handler.decode(data, Limits())
    from labeler.metadata.reader import read_aigc

    reading = read_aigc(data, handler)
    assert reading is not None and reading.parsed.label is not None
    forged = dataclasses.replace(reading.parsed.label, content_producer="someone-else")
    edited = handler.encode(image, merge_aigc_into_xmp(image.metadata.xmp, forged))
    report = Verifier(None, None, trust=_trust(dev, tmp_path)).verify_bytes(edited)
    assert report.verdict is Verdict.SUSPECTED
    assert "tampered" in report.reason


def test_other_providers_reserved_code_keeps_the_label_confirmed() -> None:
    handler_data = image_bytes("png")
    handler = formats.sniff(handler_data)
    image = handler.decode(handler_data, Limits())
    label = AigcLabel("1", "other-provider", "x1", reserved_code1="a1b2c3-provider-hash")
    data = handler.encode(image, merge_aigc_into_xmp(None, label))
    report = Verifier().verify_bytes(data)
    assert report.verdict is Verdict.CONFIRMED
    assert report.security is not None and report.security.status.value == "foreign"


def test_sd_watermark_alone_is_suspected_with_its_false_positive_probability() -> None:
    buffer = io.BytesIO()
    Image.fromarray(embed_dwtdct_independently(natural_image(512, 512, seed=9))).save(buffer, "PNG")
    report = Verifier().verify_bytes(buffer.getvalue())
    assert report.verdict is Verdict.SUSPECTED
    assert "Stable Diffusion" in report.reason
    assert any("false-positive probability" in e for e in report.evidence)


def test_decide_rules() -> None:
    none_meta = MetadataFinding(present=False)
    no_wm = WatermarkFinding(checked=False)
    c2pa_ai = C2paFinding(True, "Trusted", digital_source_type="http://cv.iptc.org/newscodes/digitalsourcetype/"
                          "trainedAlgorithmicMedia", source="embedded")
    assert decide(none_meta, no_wm, (), False, c2pa=c2pa_ai)[0] is Verdict.CONFIRMED
    untrusted = dataclasses.replace(c2pa_ai, state="Valid")
    assert decide(none_meta, no_wm, (), False, c2pa=untrusted)[0] is Verdict.SUSPECTED
    camera = dataclasses.replace(c2pa_ai, digital_source_type="http://cv.iptc.org/newscodes/digitalsourcetype/"
                                 "digitalCapture")
    assert decide(none_meta, no_wm, (), False, c2pa=camera)[0] is Verdict.NONE
    mark = ThirdPartyMark("iptc-digital-source-type", "XMP", "IPTC DigitalSourceType trainedAlgorithmicMedia", True)
    assert decide(none_meta, no_wm, (), False, marks=(mark,))[0] is Verdict.SUSPECTED
    assert decide(none_meta, no_wm, (), True, marks=(mark,))[0] is Verdict.POSSIBLE
    verdict, reason, _ = decide(none_meta, no_wm, (), False)
    assert verdict is Verdict.NONE and "C2PA" in reason


def test_cli_keys_init_label_c2pa_and_verify(tmp_path: Path, cli_home: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    key_file = cli_home
    assert main(["keys", "init", "--path", str(key_file)]) == 0
    assert (key_file.parent / "c2pa-dev-ca.pem").exists() and (key_file.parent / "aigc-signing.key").exists()
    source = tmp_path / "in.png"
    source.write_bytes(image_bytes("png"))
    out = tmp_path / "out.png"
    registry = tmp_path / "r.sqlite3"
    common = ["--key-file", str(key_file), "--registry", str(registry)]
    assert main(["label", str(source), str(out), "--c2pa", *common]) == 0
    capsys.readouterr()
    anchors = str(key_file.parent / "c2pa-dev-ca.pem")
    assert main(["verify", str(out), "--json", "--trust-anchors", anchors, *common]) == 0
    result = json.loads(capsys.readouterr().out)["results"][0]
    assert result["verdict"] == "confirmed"
    assert result["c2pa"]["state"] == "Trusted"
    assert result["security_data"]["status"] == "authentic" and result["security_data"]["trusted"]
    assert main(["verify", str(out), *common]) == 0
    text = capsys.readouterr().out
    assert "c2pa       Valid" in text and "signature  authentic" in text
    # A missing trust-anchor file is an error with a code, not a crash.
    assert main(["verify", str(out), "--trust-anchors", str(tmp_path / "nope.pem"), *common]) == 2


def test_label_without_signing_key_writes_unsigned_label(key: WatermarkKey) -> None:
    result = Labeler(key, None).label_bytes(image_bytes("webp"), LabelOptions())
    assert result.label_key_id is None and result.c2pa is None
    assert isinstance(result.aigc, AigcLabel) and result.aigc.reserved_code1 == ""


def test_manifest_is_kept_only_when_the_labeling_is_recorded(
    c2pa_settings: C2paSettings, key: WatermarkKey, tmp_path: Path
) -> None:
    assert c2pa_settings.manifest_dir is not None
    unrecorded = Labeler(key, None).label_bytes(image_bytes("jpeg"), LabelOptions(c2pa=c2pa_settings))
    assert unrecorded.c2pa is not None and not c2pa_settings.manifest_dir.exists()
    with Registry.open(tmp_path / "r.sqlite3") as registry:
        result = Labeler(key, registry).label_bytes(image_bytes("jpeg"), LabelOptions(c2pa=c2pa_settings))
    assert result.watermark_id is not None
    assert (c2pa_settings.manifest_dir / f"{result.watermark_id:016x}.c2pa").exists()


def test_other_issuers_manifest_is_reported_as_evidence(dev: DevPaths, tmp_path: Path) -> None:
    from labeler.provenance.c2pa import sign_media
    from tests.provenance.conftest import write_chain

    other, _ = write_chain(tmp_path / "other", "other-generator")
    manifest = {
        "claim_generator_info": [{"name": "other-generator", "version": "9"}],
        "title": "x",
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/"
                            "compositeWithTrainedAlgorithmicMedia",
                        }
                    ]
                },
            }
        ],
    }
    signed = sign_media(image_bytes("png"), "png", manifest, other).data
    report = Verifier(None, None, trust=_trust(dev, tmp_path)).verify_bytes(signed)
    assert report.verdict is Verdict.SUSPECTED
    assert report.c2pa is not None and report.c2pa.state == "Valid" and not report.c2pa.ours
    assert report.c2pa.claim_generator == "other-generator 9"
    assert any("C2PA manifest (embedded, Valid" in e for e in report.evidence)
    # Trusting that issuer's CA makes the same manifest a valid implicit label: confirmed.
    other_ca = tmp_path / "other" / "other-generator-ca.pem"
    trusted = Verifier(None, None, trust=TrustSettings(c2pa_trust_anchors=other_ca)).verify_bytes(signed)
    assert trusted.verdict is Verdict.CONFIRMED


def test_keys_init_refuses_before_creating_anything(tmp_path: Path) -> None:
    key_file = tmp_path / "k" / "watermark.key"
    key_file.parent.mkdir()
    (key_file.parent / "aigc-signing.key").write_text("x")
    assert main(["keys", "init", "--path", str(key_file)]) == 2
    assert not key_file.exists()
    assert main(["keys", "init", "--path", str(key_file), "--force"]) == 0
    assert LabelSigner.from_file(key_file.parent / "aigc-signing.key").key_id
