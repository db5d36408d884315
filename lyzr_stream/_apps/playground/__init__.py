"""The browser playground's parts: the web app, its model backends, its server and its SSE
encoding; the public names are exported by :mod:`lyzr_stream.playground`. Importing any part
without the ``playground`` extra is an ImportError naming it."""

from ..._errors import check_extra

try:
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401
except ModuleNotFoundError as _error:
    check_extra(_error, "lyzr_stream.playground", "playground", "starlette", "uvicorn")
    raise
