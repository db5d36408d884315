"""Optional extras: a missing one is named in the ImportError, with the command that installs it."""

from __future__ import annotations

__all__ = ["check_extra"]


def check_extra(error: ModuleNotFoundError, package: str, extra: str, *modules: str) -> None:
    """Raise an ImportError naming ``extra`` if ``error`` is about one of its ``modules``.

    Called from a package ``__init__`` that failed to import; any other missing module is left
    for the caller to re-raise as it is.
    """
    root = (error.name or "").split(".", 1)[0]
    if root in modules:
        raise ImportError(
            f'{package} needs the "{extra}" extra: pip install "lyzr-stream[{extra}]" '
            f"(missing module: {error.name})",
            name=error.name,
        ) from error
