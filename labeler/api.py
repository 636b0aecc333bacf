"""One-call helpers over Labeler and Verifier, with the CLI's defaults (key from the environment or the
default key file, registry in the user's data folder)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TypeAlias

from labeler.errors import KeyMissing
from labeler.keyfile import resolve_key
from labeler.pipeline import Labeler, LabelResult
from labeler.provenance.securitydata import LabelSigner
from labeler.settings import LabelOptions, Limits, TrustSettings
from labeler.store.registry import Registry, default_registry_path
from labeler.verify import Verifier, VerifyReport
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
    options = options or LabelOptions()
    if key is None and options.watermark:
        key = resolve_key()
    with open_registry(registry) as store:
        labeler = Labeler(key, store, limits, label_signer=label_signer)
        return labeler.label_file(Path(source), Path(destination), options, force=force)


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
    if key is None:
        with contextlib.suppress(KeyMissing):  # a malformed key still raises
            key = resolve_key()
    with open_registry(registry) as store:
        return Verifier(key, store, limits, trust=trust).verify_file(Path(source), user_declared=user_declared)
