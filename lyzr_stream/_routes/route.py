"""``Route``: one call to a route of the service besides the agent call, sans-I/O.

A route is the :class:`~lyzr_stream.dialects.HttpRequest` it sends (the one request type; the
client adds the service's authentication and sends it on the one request path) and the function
that turns its answer's body into the method's result, so a route is written once and tested on
bytes. Each route's builder lives with the route's own rules (:mod:`.assets`, :mod:`.sessions`,
:mod:`.tasks`, :mod:`.knowledge`); the rules of reading any answer (JSON limits, a list bare or
under a key, a lenient string field) are here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from .._errors import APIResponseValidationError, excerpt
from .._files import StreamedBody
from .._json import decode
from ..dialects._base import Dialect, HttpRequest

__all__ = [
    "FILES",
    "KNOWLEDGE_BASES",
    "SESSIONS",
    "Route",
    "Service",
    "answer_json",
    "answer_list",
    "optional_str",
]

T = TypeVar("T")


# -- reading a route's answer (the rules every route's parser shares) -----------------------------
def answer_json(body: bytes, what: str) -> Any:
    """A route's JSON answer, decoded under the JSON limits (``None`` for an empty body)."""
    return decode(body, what=f"the {what} answer") if body.strip() else None


def answer_list(body: bytes, key: str, what: str) -> list[Any]:
    """A list answer, bare or under ``key`` (an empty body or a null: no entries); anything
    else is an :class:`~lyzr_stream.APIResponseValidationError`."""
    document = answer_json(body, what)
    if document is None:
        return []
    if isinstance(document, dict) and key in document:
        document = document[key]
        if document is None:
            return []
    if not isinstance(document, list):
        raise APIResponseValidationError(
            f"the {what} answer is neither a list nor {{{key!r}: [...]}}",
            body_excerpt=excerpt(body),
        )
    return document


def optional_str(value: object) -> str | None:
    """A field read leniently: a non-empty string, else ``None``."""
    return value if isinstance(value, str) and value else None

_ACCEPT_JSON = {"accept": "application/json"}


@dataclass(frozen=True, slots=True)
class Service:
    """What a route belongs to: its name in errors, whether a dialect's service has it, and
    the host it is sent to: ``"base_url"`` (the agent service) or ``"rag_base_url"`` (the
    knowledge-base service, a host of its own: docs/wire.md)."""

    what: str
    offered_by: Callable[[Dialect], bool] = field(repr=False)
    host: Literal["base_url", "rag_base_url"] = "base_url"


#: The Lyzr file routes (``Dialect.has_files``) and session routes (``Dialect.has_sessions``).
FILES = Service("file uploads", lambda dialect: dialect.has_files)
SESSIONS = Service("session memory", lambda dialect: dialect.has_sessions)
#: The Lyzr knowledge-base routes (``Dialect.has_knowledge_bases``), on ``rag_base_url``.
KNOWLEDGE_BASES = Service(
    "knowledge bases", lambda dialect: dialect.has_knowledge_bases, host="rag_base_url"
)


@dataclass(frozen=True, slots=True)
class Route(Generic[T]):
    """A request to one route of a service and the reading of its answer."""

    service: Service
    request: HttpRequest
    parse: Callable[[bytes], T] = field(repr=False)

    @classmethod
    def get(cls, service: Service, path: str, parse: Callable[[bytes], T]) -> Route[T]:
        return cls(service, HttpRequest("GET", path, _ACCEPT_JSON), parse)

    @classmethod
    def delete(cls, service: Service, path: str, parse: Callable[[bytes], T]) -> Route[T]:
        return cls(service, HttpRequest("DELETE", path, _ACCEPT_JSON), parse)

    @classmethod
    def post_json(
        cls, service: Service, path: str, body: Mapping[str, Any], parse: Callable[[bytes], T]
    ) -> Route[T]:
        headers = {**_ACCEPT_JSON, "content-type": "application/json"}
        return cls(service, HttpRequest("POST", path, headers, body), parse)

    @classmethod
    def post_content(
        cls,
        service: Service,
        path: str,
        body: tuple[bytes | StreamedBody, str],
        parse: Callable[[bytes], T],
    ) -> Route[T]:
        """``body``: the content (encoded, or streamed from files) and its content type."""
        content, content_type = body
        headers = {**_ACCEPT_JSON, "content-type": content_type}
        return cls(service, HttpRequest("POST", path, headers, content=content), parse)
