"""``Route``: one call to a route of the service besides the agent call, sans-I/O.

A route is the :class:`~lyzr_stream.dialects.HttpRequest` it sends (the one request type; the
client adds the service's authentication and sends it on the one request path) and the function
that turns its answer's body into the method's result, so a route is written once and tested on
bytes. Each route's builder lives with the route's own rules (:mod:`.assets`, :mod:`.sessions`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ..dialects._base import HttpRequest

__all__ = ["Route"]

T = TypeVar("T")

_ACCEPT_JSON = {"accept": "application/json"}


@dataclass(frozen=True, slots=True)
class Route(Generic[T]):
    """A request to one route and the reading of its answer."""

    request: HttpRequest
    parse: Callable[[bytes], T] = field(repr=False)

    @classmethod
    def get(cls, path: str, parse: Callable[[bytes], T]) -> Route[T]:
        return cls(HttpRequest("GET", path, _ACCEPT_JSON), parse)

    @classmethod
    def delete(cls, path: str, parse: Callable[[bytes], T]) -> Route[T]:
        return cls(HttpRequest("DELETE", path, _ACCEPT_JSON), parse)

    @classmethod
    def post_json(
        cls, path: str, body: Mapping[str, Any], parse: Callable[[bytes], T]
    ) -> Route[T]:
        headers = {**_ACCEPT_JSON, "content-type": "application/json"}
        return cls(HttpRequest("POST", path, headers, body), parse)

    @classmethod
    def post_content(
        cls, path: str, content: bytes, content_type: str, parse: Callable[[bytes], T]
    ) -> Route[T]:
        headers = {**_ACCEPT_JSON, "content-type": content_type}
        return cls(HttpRequest("POST", path, headers, content=content), parse)
