"""``with`` and ``async with`` for the objects that hold connections (the client, the streams):
leaving the block calls ``close()`` / ``aclose()``, however it is left."""

from __future__ import annotations

from types import TracebackType
from typing import Self

__all__ = ["AsyncClosingContext", "ClosingContext"]


class ClosingContext:
    """``with obj:`` closes ``obj`` on the way out."""

    __slots__ = ()

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncClosingContext:
    """``async with obj:`` closes ``obj`` on the way out."""

    __slots__ = ()

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
