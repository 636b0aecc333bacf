"""One-call helpers over Labeler and Verifier, with the CLI's defaults (key from the environment or the
default key file, registry in the user's data folder)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeAlias

from labeler.errors import KeyMissing, UnsupportedFormat
from labeler.keyfile import resolve_key
from labeler.pipeline import Labeler, LabelResult
from labeler.provenance.securitydata import LabelSigner
from labeler.settings import LabelOptions, Limits, TrustSettings
from labeler.store.registry import Registry, default_registry_path
from labeler.verification import Verifier, VerifyReport
from labeler.watermark.keys import WatermarkKey

RegistryChoice: TypeAlias = Registry | Path | str | bool | None


@contextlib.contextmanager
def open_registry(choice: RegistryChoice) -> Iterator[Registry | None]:
    """None/True: the default file; False: no registry; a path: that file; a Registry: used as is."""
    if choice is False:
        yield None
    elif isinstance(choice, Registry):
        yield choice
    else:
        path = default_registry_path() if choice is None or choice is True else Path(choice)
        registry = Registry.open(path)
        try:
            yield registry
        finally:
            registry.close()


def label(
    source: Path | str,
    destination: Path | str,
    options: LabelOptions | None = None,
    *,
    key: WatermarkKey | None = None,
    registry: RegistryChoice = None,
    limits: Limits | None = None,
    force: bool = False,
    label_signer: LabelSigner | None = None,
) -> LabelResult:
    _not_a_video(Path(source), "label_video")
    options = options or LabelOptions()
    if key is None and options.watermark:
        key = resolve_key()
    with open_registry(registry) as store:
        labeler = Labeler(key, store, limits, label_signer=label_signer)
        return labeler.label_file(Path(source), Path(destination), options, force=force)


def _not_a_video(path: Path, instead: str) -> None:
    """Videos are streamed from their path and summarised as a dict: they have their own helpers."""
    from labeler.video.labeling import is_video_file

    if path.is_file() and is_video_file(path):
        raise UnsupportedFormat(f"{path.name} is a video: use labeler.api.{instead}(), which streams it")


def label_video(
    source: Path | str,
    destination: Path | str,
    options: LabelOptions | None = None,
    *,
    key: WatermarkKey | None = None,
    registry: RegistryChoice = None,
    force: bool = False,
    label_signer: LabelSigner | None = None,
    crf: float | None = None,
) -> dict[str, Any]:
    """Label an MP4/MOV/WebM file into ``destination``, streamed frame by frame (picture, soundtrack,
    container tag), and record it; returns the summary ``labeler label --json`` prints."""
    from labeler.video.labeling import label_video_path, video_record

    options = options or LabelOptions()
    if key is None and options.watermark:
        key = resolve_key()
    source, destination = Path(source), Path(destination)
    with open_registry(registry) as store:
        info = label_video_path(source, destination, key, options, force=force, crf=crf, label_signer=label_signer)
        info.pop("c2pa_manifest_store", None)
        if store is not None:
            store.record(video_record(info, source, destination, key))
        return info


def verify_video(
    source: Path | str,
    *,
    key: WatermarkKey | None = None,
    registry: RegistryChoice = None,
    user_declared: bool = False,
    trust: TrustSettings | None = None,
) -> dict[str, Any]:
    """Verify a video from its path (streamed); returns the report ``labeler verify --json`` prints."""
    from labeler.video.verifying import verify_video_file

    if key is None:
        with contextlib.suppress(KeyMissing):
            key = resolve_key()
    with open_registry(registry) as store:
        return verify_video_file(Path(source), key, store, user_declared, trust)


def verify(
    source: Path | str,
    *,
    key: WatermarkKey | None = None,
    registry: RegistryChoice = None,
    limits: Limits | None = None,
    user_declared: bool = False,
    trust: TrustSettings | None = None,
) -> VerifyReport:
    """Verify one file. ``key`` None uses the configured key when there is one, else skips the watermark."""
    _not_a_video(Path(source), "verify_video")
    if key is None:
        with contextlib.suppress(KeyMissing):  # a malformed key still raises
            key = resolve_key()
    with open_registry(registry) as store:
        return Verifier(key, store, limits, trust=trust).verify_file(Path(source), user_declared=user_declared)
