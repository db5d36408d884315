"""``ClosesItsClient``: ``close()``/``aclose()`` and ``with``/``async with`` for a framework
object that owns a :class:`~lyzr_stream.LyzrClient` (the models and the retrievers).

A closed object stays closed: a call on it raises
:class:`~lyzr_stream.InvalidRequestError` naming its class (create a new one to go on). One
never closed leaks nothing either: its client's sync connections close when it is
garbage-collected (or at exit), its async pools with their event loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._http.connections import AsyncClosingContext, ClosingContext

if TYPE_CHECKING:
    from .._client import LyzrClient

__all__ = ["ClosesItsClient"]


class ClosesItsClient(ClosingContext, AsyncClosingContext):
    """The closing protocol of an object whose ``client`` property is the client it owns."""

    __slots__ = ()

    @property
    def client(self) -> LyzrClient:
        raise NotImplementedError

    def close(self) -> None:
        """Close the connections (idempotent); a model's stops still in flight get their time
        (at most 2 s) first. Later calls raise :class:`~lyzr_stream.InvalidRequestError`."""
        self.client.close()

    async def aclose(self) -> None:
        """Async form of :meth:`close`: also closes the running loop's async pools."""
        await self.client.aclose()
