"""The labeling registry (SQLite by default; see :mod:`labeler.store.registry`)."""

from __future__ import annotations

from labeler.store.registry import (
    SCHEMA_VERSION,
    LabelRecord,
    Registry,
    default_registry_path,
    from_signed64,
    to_signed64,
)

__all__ = ["SCHEMA_VERSION", "LabelRecord", "Registry", "default_registry_path", "from_signed64", "to_signed64"]
