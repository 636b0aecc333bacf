"""labeler: label AI-generated media as GB 45438-2025 requires, and verify those labels.

The public API::

    import labeler
    result = labeler.label("in.jpg", "out.jpg", producer="my-service")
    report = labeler.verify("out.jpg")
    info = labeler.label_video("clip.mp4", "labeled.mp4")   # videos: streamed, summaries as dicts
    report = labeler.verify_video("labeled.mp4")

or, with explicit settings objects, ``labeler.Labeler(key, registry).label_bytes(data, LabelOptions(...))``
and ``labeler.Verifier(key, registry).verify_bytes(data)``. Attributes load lazily so that importing a
submodule (or starting the CLI) does not pull in every codec.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "Labeler": "labeler.pipeline",
    "LabelResult": "labeler.pipeline",
    "Verifier": "labeler.verification",
    "VerifyReport": "labeler.verification",
    "Verdict": "labeler.verification",
    "LabelOptions": "labeler.settings",
    "VisibleLabelOptions": "labeler.settings",
    "Limits": "labeler.settings",
    "WatermarkKey": "labeler.watermark.keys",
    "Registry": "labeler.store.registry",
    "label": "labeler.api",
    "verify": "labeler.api",
    "label_video": "labeler.api",
    "verify_video": "labeler.api",
}

if TYPE_CHECKING:
    from labeler.api import label, label_video, verify, verify_video
    from labeler.pipeline import Labeler, LabelResult
    from labeler.settings import LabelOptions, Limits, VisibleLabelOptions
    from labeler.store.registry import Registry
    from labeler.verification import Verdict, Verifier, VerifyReport
    from labeler.watermark.keys import WatermarkKey


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'labeler' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module_name), name)


__all__ = [
    "LabelOptions",
    "LabelResult",
    "Labeler",
    "Limits",
    "Registry",
    "Verdict",
    "Verifier",
    "VerifyReport",
    "VisibleLabelOptions",
    "WatermarkKey",
    "__version__",
    "label",
    "label_video",
    "verify",
    "verify_video",
]
