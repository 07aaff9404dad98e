"""Bearer-token auth: who may call which RPC, checked by a server interceptor before any handler runs.

Tokens come from ``CONTRA_TOKENS`` ("TOKEN ROLE" entries separated by "," or ";") and/or the file
``CONTRA_TOKENS_FILE`` (one "TOKEN ROLE" per line, "#" comments). A ``read`` token may call Check,
CheckStream, JudgePair and Stats; a ``write`` token may call every RPC. With no token configured
auth is off, which is only sensible on a loopback address (the default); the server logs a warning
otherwise. Health checking and reflection are always open, so orchestrators need no secret.

Callers send ``authorization: Bearer <token>``. A presented token is compared with every configured
token using ``hmac.compare_digest`` on SHA-256 digests: the time taken does not depend on how much
of a token matched, nor on which token (if any) it was. Tokens are never logged; the server only
logs a token's position in the table ("token #2").
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import grpc

from contra.errors import InvalidInput

#: The full gRPC service whose methods need a token; everything else (health, reflection) is open.
PROTECTED_SERVICE = "contra.v1.ContraService"
#: Methods a read-only token may call. Every other method of the service needs a write token, so a
#: method added later is closed until someone decides otherwise.
READ_METHODS = frozenset({"Check", "CheckStream", "JudgePair", "Stats"})
MIN_TOKEN_CHARS = 16


class Role(StrEnum):
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True, slots=True)
class Grant:
    digest: bytes
    role: Role
    number: int


class Tokens:
    """The configured tokens, kept only as SHA-256 digests."""

    def __init__(self, entries: Iterable[tuple[str, Role]]) -> None:
        self._grants = [Grant(_digest(token), role, number) for number, (token, role) in enumerate(entries, start=1)]

    @property
    def enabled(self) -> bool:
        return bool(self._grants)

    def __len__(self) -> int:
        return len(self._grants)

    def find(self, token: str) -> Grant | None:
        """The grant for ``token``; every entry is compared, so timing reveals nothing."""
        presented = _digest(token)
        found: Grant | None = None
        for grant in self._grants:
            if hmac.compare_digest(presented, grant.digest):
                found = grant
        return found

    @classmethod
    def load(cls, inline: str, file: Path | None) -> tuple[Tokens, list[str]]:
        """Tokens from the env value and the file, and the plain secrets (for log redaction)."""
        entries = parse(inline.replace(";", "\n").replace(",", "\n"), "CONTRA_TOKENS")
        if file is not None:
            entries += parse(file.read_text(encoding="utf-8"), f"CONTRA_TOKENS_FILE ({file})")
        return cls(entries), [token for token, _ in entries]


def parse(text: str, origin: str) -> list[tuple[str, Role]]:
    """'TOKEN ROLE' lines; blank lines and '#' comments are skipped. Errors never echo the token."""
    entries: list[tuple[str, Role]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2:
            raise InvalidInput(origin, f"entry {number}: expected 'TOKEN ROLE' (role read or write)")
        token, role = parts
        if role not in {r.value for r in Role}:
            raise InvalidInput(origin, f"entry {number}: role must be 'read' or 'write'")
        if len(token) < MIN_TOKEN_CHARS or not token.isascii() or not token.isprintable():
            raise InvalidInput(
                origin, f"entry {number}: a token needs at least {MIN_TOKEN_CHARS} printable ASCII characters"
            )
        entries.append((token, Role(role)))
    return entries


def needed_role(method: str) -> Role | None:
    """The role a full method name ("/pkg.Service/Method") needs; None when it is open to all."""
    service, _, name = method.lstrip("/").rpartition("/")
    if service != PROTECTED_SERVICE:
        return None
    return Role.READ if name in READ_METHODS else Role.WRITE


def bearer(metadata: Sequence[tuple[str, str | bytes]] | None) -> str | None:
    for key, value in metadata or ():
        if key == "authorization" and isinstance(value, str):
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return ""
    return None


@dataclass(frozen=True, slots=True)
class Refusal:
    code: grpc.StatusCode
    message: str


def decide(tokens: Tokens, method: str, metadata: Sequence[tuple[str, str | bytes]] | None) -> Refusal | None:
    """None when the call may go ahead; otherwise the status to answer with."""
    needed = needed_role(method)
    if needed is None or not tokens.enabled:
        return None
    token = bearer(metadata)
    if token is None:
        return Refusal(grpc.StatusCode.UNAUTHENTICATED, "missing credentials: send 'authorization: Bearer <token>'")
    grant = tokens.find(token) if token else None
    if grant is None:
        return Refusal(grpc.StatusCode.UNAUTHENTICATED, "invalid bearer token")
    if needed is Role.WRITE and grant.role is not Role.WRITE:
        return Refusal(
            grpc.StatusCode.PERMISSION_DENIED, f"token #{grant.number} is read-only; {method} needs a write token"
        )
    return None


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Answers refused calls itself; the handler (and any model work) never runs for them."""

    def __init__(self, tokens: Tokens) -> None:
        self._tokens = tokens

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        refusal = decide(self._tokens, handler_call_details.method, handler_call_details.invocation_metadata)
        if refusal is None:
            return handler
        return refusing(handler, refusal)


def refusing(handler: grpc.RpcMethodHandler[Any, Any], refusal: Refusal) -> grpc.RpcMethodHandler[Any, Any]:
    """A handler of the same shape as ``handler`` that answers ``refusal`` without reading the request."""

    async def refuse(_request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(refusal.code, refusal.message)

    async def refuse_stream(_request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(refusal.code, refusal.message)
        yield  # pragma: no cover - makes this an async generator, as streaming handlers are

    build: Callable[..., grpc.RpcMethodHandler[Any, Any]]
    streaming = handler.response_streaming
    if handler.request_streaming and streaming:
        build = grpc.stream_stream_rpc_method_handler
    elif handler.request_streaming:
        build = grpc.stream_unary_rpc_method_handler
    elif streaming:
        build = grpc.unary_stream_rpc_method_handler
    else:
        build = grpc.unary_unary_rpc_method_handler
    return build(
        refuse_stream if streaming else refuse,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()
