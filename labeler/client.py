"""A Python client for a labeler server (labeler.v1.LabelerService), used by `labeler label/verify
--server` and by integrators. Server errors come back as the same LabelerError classes (matched on the
ErrorInfo reason), so callers handle local and remote failures alike."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import grpc

from labeler import errors
from labeler.service.status import error_reason, retry_delay_seconds
from labeler.v1 import labeler_pb2 as pb
from labeler.v1 import labeler_pb2_grpc as pb_grpc

DEFAULT_CHUNK_BYTES = 1024 * 1024
_MAX_MESSAGE_BYTES = 8 * 1024 * 1024
_ERRORS_BY_CODE = {cls.code: cls for cls in errors.ALL_ERRORS}


@dataclass(frozen=True)
class TlsClientSettings:
    #: PEM CA bundle that signed the server's certificate (None: the system roots).
    root_certificates: Path | None = None
    #: For mutual TLS: this client's certificate chain and key.
    cert_chain: Path | None = None
    private_key: Path | None = None
    #: Override the name checked against the server certificate (tests, IP addresses).
    server_name: str | None = None


def _raise_from(error: grpc.RpcError) -> None:
    reason = error_reason(error)
    code = error.code()  # type: ignore[attr-defined]
    details = error.details() or code.name  # type: ignore[attr-defined]
    cls = _ERRORS_BY_CODE.get(reason or "")
    if cls is not None and cls is not errors.LabelerError:
        raise cls(details) from error
    retry = retry_delay_seconds(error)
    hint = f"; retry after {retry:.1f} s" if retry is not None else ""
    raise errors.ServiceError(f"{code.name} ({reason or 'no reason given'}): {details}{hint}") from error


@dataclass(frozen=True)
class LabelReply:
    result: pb.LabelResult
    data: bytes


@dataclass(frozen=True)
class PropagateReply:
    result: pb.PropagateResult
    data: bytes


class LabelerClient:
    def __init__(
        self,
        target: str,
        token: str | None = None,
        tls: TlsClientSettings | None = None,
        timeout: float | None = 60.0,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    ) -> None:
        options: list[tuple[str, Any]] = [
            ("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", _MAX_MESSAGE_BYTES),
        ]
        if tls is None:
            self._channel = grpc.insecure_channel(target, options=options)
        else:
            def read(path: Path | None) -> bytes | None:
                return path.read_bytes() if path is not None else None

            credentials = grpc.ssl_channel_credentials(
                root_certificates=read(tls.root_certificates),
                private_key=read(tls.private_key),
                certificate_chain=read(tls.cert_chain),
            )
            if tls.server_name:
                options.append(("grpc.ssl_target_name_override", tls.server_name))
            self._channel = grpc.secure_channel(target, credentials, options=options)
        self._stub = pb_grpc.LabelerServiceStub(self._channel)  # type: ignore[no-untyped-call]
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self.timeout = timeout
        self.chunk_bytes = chunk_bytes

    def _requests(self, message_type: Any, config_field: str, config: Any, data: bytes | Path) -> Iterator[Any]:
        yield message_type(**{config_field: config})
        if isinstance(data, Path):  # streamed from disk: a video is never held whole
            with open(data, "rb") as handle:
                while chunk := handle.read(self.chunk_bytes):
                    yield message_type(chunk=chunk)
            return
        for start in range(0, len(data), self.chunk_bytes):
            yield message_type(chunk=data[start : start + self.chunk_bytes])

    def _streamed(
        self, method: Any, request_type: Any, config: Any, data: bytes | Path, sink: BinaryIO | None = None
    ) -> tuple[Any, bytes]:
        """Call a config+chunks -> result+chunks method; the result message and the joined media (or, with
        ``sink``, the media written there as it arrives and b"" returned)."""
        try:
            result = None
            parts: list[bytes] = []
            for response in method(
                self._requests(request_type, "config", config, data), timeout=self.timeout, metadata=self._metadata
            ):
                if response.WhichOneof("kind") == "result":
                    result = response.result
                elif sink is not None:
                    sink.write(response.chunk)
                else:
                    parts.append(response.chunk)
        except grpc.RpcError as error:
            _raise_from(error)
            raise  # unreachable: _raise_from always raises
        if result is None:
            raise errors.ServiceError("the server sent no result message")
        return result, b"".join(parts)

    def _to_file(self, method: Any, request_type: Any, config: Any, source: Path, destination: Path) -> Any:
        """Stream ``source`` up and the media that comes back into ``destination``, which appears whole or
        not at all (a temporary file beside it is renamed at the end)."""
        folder = destination.parent if str(destination.parent) else Path(".")
        try:
            handle, name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".part", dir=folder)
        except OSError as exc:
            raise errors.OutputNotWritable(f"cannot write to {folder}: {exc.strerror or exc}") from None
        try:
            with os.fdopen(handle, "wb") as sink:
                result, _ = self._streamed(method, request_type, config, source, sink)
            os.replace(name, destination)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        return result

    def label(self, data: bytes, config: pb.LabelConfig) -> LabelReply:
        return LabelReply(*self._streamed(self._stub.Label, pb.LabelRequest, config, data))

    def label_file(self, source: Path, destination: Path, config: pb.LabelConfig) -> pb.LabelResult:
        """Label a file of any size: uploaded in chunks from disk, the result streamed into ``destination``."""
        return self._to_file(self._stub.Label, pb.LabelRequest, config, source, destination)

    def verify(self, data: bytes | Path, user_declared: bool = False, filename: str = "") -> pb.VerifyResponse:
        """Verify media given as bytes, or as a path (streamed from disk)."""
        config = pb.VerifyConfig(user_declared=user_declared, filename=filename)
        try:
            return self._stub.Verify(  # type: ignore[no-any-return]
                self._requests(pb.VerifyRequest, "config", config, data), timeout=self.timeout, metadata=self._metadata
            )
        except grpc.RpcError as error:
            _raise_from(error)
            raise

    def propagate(self, data: bytes, config: pb.PropagateConfig) -> PropagateReply:
        return PropagateReply(*self._streamed(self._stub.Propagate, pb.PropagateRequest, config, data))

    def propagate_file(self, source: Path, destination: Path, config: pb.PropagateConfig) -> pb.PropagateResult:
        """Propagate a file of any size, streamed both ways like :meth:`label_file`."""
        return self._to_file(self._stub.Propagate, pb.PropagateRequest, config, source, destination)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> LabelerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
