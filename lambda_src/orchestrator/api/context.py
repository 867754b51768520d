"""Per-request state (services, caller) in a context variable.

The local server resolves requests on many threads, so route functions must not keep request
state on module-level routers; each host sets the scope before it resolves a request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from orchestrator.domain.models import Caller
from orchestrator.domain.services import Services


@dataclass
class RequestScope:
    services: Services
    request_id: str | None = None
    caller: Caller | None = None


_scope: ContextVar[RequestScope] = ContextVar("mycli_request_scope")


@contextmanager
def request_scope(services: Services, request_id: str | None = None) -> Iterator[RequestScope]:
    token = _scope.set(RequestScope(services=services, request_id=request_id))
    try:
        yield _scope.get()
    finally:
        _scope.reset(token)


def current_scope() -> RequestScope:
    return _scope.get()


def services() -> Services:
    return _scope.get().services


def caller() -> Caller:
    """The authenticated caller (set by the auth middleware)."""
    authenticated = _scope.get().caller
    if authenticated is None:
        raise RuntimeError("route reached without authentication")
    return authenticated
