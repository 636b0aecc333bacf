"""Bearer-token authentication as a server interceptor. Tokens are configured as SHA-256 digests, so
the configuration (and a leaked copy of it) never holds a usable token; comparison is constant-time.
Health checks and reflection stay open so load balancers and tools can probe the server."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from labeler.service.status import rich_status

OPEN_METHODS_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.v1alpha.ServerReflection/",
                         "/grpc.reflection.v1.ServerReflection/")


class BearerTokenInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, token_hashes: tuple[str, ...]) -> None:
        self._hashes = tuple(bytes.fromhex(h) for h in token_hashes)

    def _authorised(self, metadata: tuple[tuple[str, str | bytes], ...]) -> bool:
        for key, value in metadata:
            if key == "authorization" and isinstance(value, str) and value.startswith("Bearer "):
                digest = hashlib.sha256(value[len("Bearer "):].encode("utf-8")).digest()
                # Compare against every configured hash so timing does not reveal which one matched.
                return any([hmac.compare_digest(digest, h) for h in self._hashes])
        return False

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method = handler_call_details.method  # type: ignore[attr-defined]
        if not self._hashes or method.startswith(OPEN_METHODS_PREFIXES):
            return await continuation(handler_call_details)
        if self._authorised(tuple(handler_call_details.invocation_metadata or ())):  # type: ignore[attr-defined]
            return await continuation(handler_call_details)
        handler = await continuation(handler_call_details)
        return handler if handler is None else _deny(handler)


def _deny(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    status = rich_status(grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED", "missing or unknown bearer token")

    async def abort(request: Any, context: grpc.aio.ServicerContext) -> None:
        await context.abort(status.code, status.details, status.trailing_metadata)

    async def abort_stream(request_iterator: Any, context: grpc.aio.ServicerContext) -> None:
        await context.abort(status.code, status.details, status.trailing_metadata)

    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(abort_stream)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(abort_stream)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(abort)
    return grpc.unary_unary_rpc_method_handler(abort)
