"""One call to a JSON or multipart route of the service, sans-I/O: what to send and how to read
the answer.

Each route's builder lives with the route's own rules
(:func:`lyzr_stream._routes.assets.upload_call`,
:func:`lyzr_stream._routes.sessions.history_call`, ...); the sync and async methods of
:class:`~lyzr_stream.LyzrClient` only send the request and hand the answer's bytes to
:attr:`ApiCall.parse`, so a route is written once and tested on bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

from ..dialects._base import HttpRequest

if TYPE_CHECKING:
    from pydantic import SecretStr

__all__ = ["ApiCall"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ApiCall(Generic[T]):
    """A request to one route (``path`` relative to the base URL, already encoded) and the
    function that turns its answer's body into the method's result."""

    method: str
    path: str
    parse: Callable[[bytes], T] = field(repr=False)
    content: bytes = field(default=b"", repr=False)
    content_type: str | None = None

    def http_request(self, api_key: SecretStr | None) -> HttpRequest:
        """The request with the headers every such route takes (JSON answers, the key)."""
        headers = {"accept": "application/json"}
        if self.content_type is not None:
            headers["content-type"] = self.content_type
        if api_key is not None:
            headers["x-api-key"] = api_key.get_secret_value()
        return HttpRequest(self.method, self.path, headers, {})
