"""The one table from labeler's exceptions to gRPC status codes, and the rich status sent with them.

Every error carries a google.rpc.ErrorInfo detail: domain "labeler", reason = the stable error code
(docs/errors.md), so clients branch on the reason, not on message text. Back-pressure adds a
google.rpc.RetryInfo with the delay a client should wait.
"""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf import duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from labeler import errors

ERROR_DOMAIN = "labeler"

#: Most specific class first: the first match wins.
STATUS_TABLE: tuple[tuple[type[errors.LabelerError], grpc.StatusCode], ...] = (
    (errors.MediaTooLarge, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (errors.UnsupportedFormat, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.CorruptMedia, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.EmptyMedia, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.InvalidInput, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.FontError, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.InvalidOption, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.InputNotFound, grpc.StatusCode.NOT_FOUND),
    (errors.OutputExists, grpc.StatusCode.ALREADY_EXISTS),
    (errors.OutputNotWritable, grpc.StatusCode.INTERNAL),
    (errors.KeyMissing, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.KeyInvalid, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.RegistryError, grpc.StatusCode.UNAVAILABLE),
    (errors.SigningError, grpc.StatusCode.INTERNAL),
    (errors.LabelerError, grpc.StatusCode.INTERNAL),
)


def status_code_for(error: errors.LabelerError) -> grpc.StatusCode:
    for cls, code in STATUS_TABLE:
        if isinstance(error, cls):
            return code
    return grpc.StatusCode.INTERNAL


def rich_status(
    code: grpc.StatusCode, reason: str, message: str, retry_after_seconds: float | None = None
) -> grpc.Status:
    info = error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN)
    status = status_pb2.Status(code=getattr(code_pb2, code.name), message=message)
    status.details.add().Pack(info)
    if retry_after_seconds is not None:
        delay = duration_pb2.Duration()
        delay.FromMilliseconds(int(retry_after_seconds * 1000))
        status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=delay))
    return rpc_status.to_status(status)


def status_for(error: errors.LabelerError) -> grpc.Status:
    return rich_status(status_code_for(error), error.code, error.message)


def _detail(rpc_error: grpc.RpcError, message_type: Any) -> Any:
    """The first detail of ``message_type`` in a failed call's rich status (client side), or None."""
    status = rpc_status.from_call(rpc_error)  # type: ignore[arg-type]
    for detail in status.details if status is not None else ():
        if detail.Is(message_type.DESCRIPTOR):
            message = message_type()
            detail.Unpack(message)
            return message
    return None


def error_reason(rpc_error: grpc.RpcError) -> str | None:
    """The ErrorInfo reason of a failed call (client side), or None."""
    info = _detail(rpc_error, error_details_pb2.ErrorInfo)
    return None if info is None else str(info.reason)


def retry_delay_seconds(rpc_error: grpc.RpcError) -> float | None:
    """The RetryInfo delay of a failed call (client side), or None."""
    info = _detail(rpc_error, error_details_pb2.RetryInfo)
    return None if info is None else float(info.retry_delay.ToMilliseconds()) / 1000.0
