"""SecurityData and C2PA findings for a video file (read from its path, streamed), for
``labeler.video.verifying.verify_video_file``; the same states and evidence lines as for images."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labeler.metadata.aigc import AigcLabel
from labeler.provenance.c2pa import C2paFinding, ManifestStore, read_c2pa
from labeler.provenance.devca import read_pem_file
from labeler.provenance.securitydata import (
    Role,
    SecurityFinding,
    SecurityStatus,
    load_public_keys,
    verify_label,
)
from labeler.settings import TrustSettings


@dataclass(frozen=True)
class VideoProvenanceFindings:
    security: SecurityFinding | None
    propagator_security: SecurityFinding | None
    c2pa: C2paFinding
    evidence: tuple[str, ...] = field(default=())

    @property
    def label_broken(self) -> bool:
        """The AIGC label is signed but its signature or binding fails: a trace, not a valid label."""
        return self.security is not None and self.security.status in (
            SecurityStatus.TAMPERED, SecurityStatus.UNBOUND, SecurityStatus.MALFORMED,
        )

    @property
    def c2pa_confirms(self) -> bool:
        """An embedded, Trusted manifest that declares AI-generated content (a valid implicit label)."""
        c = self.c2pa
        return c.present and c.source == "embedded" and c.trusted and c.ai_generated

    def to_dict(self) -> dict[str, Any]:
        return {
            "c2pa": self.c2pa.to_dict() if self.c2pa.present else {"present": False},
            "security_data": self.security.to_dict() if self.security else None,
            "propagator_security_data": self.propagator_security.to_dict() if self.propagator_security else None,
        }


def video_provenance(
    path: Path, media_format: str, label: AigcLabel | None, watermark_id: int | None, trust: TrustSettings
) -> VideoProvenanceFindings:
    """Check the label's SecurityData against the file's packets and read its C2PA manifest (or, when
    there is none and the watermark decoded, the manifest kept under the watermark ID). Never raises
    for bad media; bad trust configuration raises as for images."""
    keys = load_public_keys(trust.label_keys)
    anchors = read_pem_file(trust.c2pa_trust_anchors, "C2PA trust anchors") if trust.c2pa_trust_anchors else None
    security = propagator = None
    if label is not None:
        security = verify_label(label, path, media_format, keys)
        if label.reserved_code2.strip():
            propagator = verify_label(label, path, media_format, keys, Role.PROPAGATOR)
    finding = read_c2pa(path, media_format, anchors)
    if not finding.present and watermark_id is not None and trust.manifest_dir is not None:
        store = ManifestStore(trust.manifest_dir).load(watermark_id)
        if store is not None:
            recovered = read_c2pa(path, media_format, anchors, manifest_store=store)
            if recovered.soft_binding and recovered.soft_binding.get("value") == f"{watermark_id:016x}":
                finding = recovered
    evidence: list[str] = []
    if security is not None and security.status is not SecurityStatus.ABSENT:
        evidence.append(f"AIGC label SecurityData {security.status.value}: {security.reason}")
    if propagator is not None:
        evidence.append(f"propagator SecurityData {propagator.status.value}: {propagator.reason}")
    if finding.present:
        what = f"C2PA manifest ({finding.source or 'embedded'}, {finding.state}"
        what += f", signed by {finding.common_name} / {finding.issuer}" if finding.common_name else ""
        source_type = finding.digital_source_type.rsplit("/", 1)[-1] if finding.digital_source_type else None
        what += f", digitalSourceType {source_type})" if source_type else ")"
        evidence.append(what)
    return VideoProvenanceFindings(security, propagator, finding, tuple(evidence))
