"""Propagate for video (CAC Measures art. 6; see labeler/propagate.py for images): verify the upload
from its path, then re-encode it once with the platform's ContentPropagator/PropagateID added to the
container's AIGC tag and the explicit label its verdict calls for ("AI生成", "可能为AI生成" or
"疑似AI生成") on the opening seconds. The platform is not the producer: no watermark is added, the
producer's fields are kept as found, and the soundtrack is stream-copied. A video whose verdict is
"none" is copied unchanged."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from labeler.errors import InvalidOption, OutputNotWritable
from labeler.fileio import check_output, same_file
from labeler.metadata.aigc import AigcLabel, parse_aigc_json
from labeler.propagate import VERDICT_LABELS, PropagateOptions, label_for
from labeler.settings import TrustSettings
from labeler.store.registry import Registry
from labeler.verification import Verdict
from labeler.video.transcode import VideoLabelSettings, label_video_file, read_aigc
from labeler.video.verifying import file_sha256, verify_video_file
from labeler.watermark import WatermarkKey


@dataclass(frozen=True)
class VideoPropagation:
    report: dict[str, Any]
    #: The explicit label drawn; None when the verdict called for none (media copied unchanged).
    label_text: str | None
    aigc: AigcLabel | None
    media_changed: bool
    output_sha256: str
    output_bytes: int

    @property
    def verdict(self) -> Verdict:
        return Verdict(self.report["verdict"])


def propagate_video_file(
    source: Path, destination: Path, key: WatermarkKey | None, registry: Registry | None,
    options: PropagateOptions, trust: TrustSettings | None = None, force: bool = False,
) -> VideoPropagation:
    if same_file(source, destination) or source.resolve() == destination.resolve():
        raise InvalidOption("the output must be a different file from the input (originals are never modified)")
    check_output(destination, force)
    report = verify_video_file(source, key, registry, options.user_declared, trust)
    verdict = Verdict(report["verdict"])
    wanted = VERDICT_LABELS.get(verdict)
    if wanted is None:
        _copy_atomically(source, destination)
        return VideoPropagation(report, None, None, False, file_sha256(destination), destination.stat().st_size)
    text, label_value = wanted
    raw = read_aigc(source)
    found = parse_aigc_json(json.dumps(raw, ensure_ascii=False)).label if raw is not None else None
    aigc = label_for(found, verdict, label_value, options)
    settings = VideoLabelSettings(watermark_id=None, key=None, aigc_json=aigc.to_json(),
                                  label=replace(options.visible_label, text=text))
    label_video_file(source, destination, settings)
    return VideoPropagation(report, text, aigc, True, file_sha256(destination), destination.stat().st_size)


def _copy_atomically(source: Path, destination: Path) -> None:
    folder = destination.parent if str(destination.parent) else Path(".")
    try:
        handle, name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OutputNotWritable(f"cannot write to {folder}: {exc}") from None
    os.close(handle)
    try:
        shutil.copyfile(source, name)
        os.replace(name, destination)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise

