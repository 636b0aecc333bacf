"""One exception hierarchy for labeler.

Every error a user can meet carries a stable, upper-case ``code`` (printed by the CLI, returned by the
API and, later, mapped to gRPC status codes in one table) and a one-line message. Codes never change
meaning once released; add new ones instead.
"""

from __future__ import annotations

from typing import ClassVar


class LabelerError(Exception):
    """Base of every error labeler raises on purpose."""

    code: ClassVar[str] = "LABELER_ERROR"
    #: CLI exit status for this error (2 = could not do the job).
    exit_status: ClassVar[int] = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class InvalidInput(LabelerError):
    """The media given cannot be processed as it is."""

    code = "INVALID_INPUT"


class UnsupportedFormat(InvalidInput):
    code = "UNSUPPORTED_FORMAT"


class CorruptMedia(InvalidInput):
    """Truncated or malformed bytes that the sniffed format cannot decode."""

    code = "CORRUPT_MEDIA"


class MediaTooLarge(InvalidInput):
    """Over a configured limit: bytes, pixels (decompression bombs), duration."""

    code = "MEDIA_TOO_LARGE"


class EmptyMedia(InvalidInput):
    """Zero bytes, zero pixels or zero samples."""

    code = "EMPTY_MEDIA"


class InvalidOption(LabelerError):
    """An option or setting is out of range or malformed."""

    code = "INVALID_OPTION"


class OutputExists(LabelerError):
    code = "OUTPUT_EXISTS"


class OutputNotWritable(LabelerError):
    code = "OUTPUT_NOT_WRITABLE"


class InputNotFound(LabelerError):
    code = "INPUT_NOT_FOUND"


class KeyMissing(LabelerError):
    """No watermark key is configured (see ``labeler keys init``)."""

    code = "KEY_MISSING"


class KeyInvalid(LabelerError):
    code = "KEY_INVALID"


class RegistryError(LabelerError):
    code = "REGISTRY_ERROR"


class FontError(InvalidOption):
    code = "FONT_ERROR"


class SigningError(LabelerError):
    """C2PA or label signing failed (bad certificate or key, unreachable TSA, unsupported format)."""

    code = "SIGNING_FAILED"


#: Every public error class, for documentation and for the (future) gRPC status table.
ALL_ERRORS: tuple[type[LabelerError], ...] = (
    LabelerError,
    InvalidInput,
    UnsupportedFormat,
    CorruptMedia,
    MediaTooLarge,
    EmptyMedia,
    InvalidOption,
    OutputExists,
    OutputNotWritable,
    InputNotFound,
    KeyMissing,
    KeyInvalid,
    RegistryError,
    FontError,
    SigningError,
)
