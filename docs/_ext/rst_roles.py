"""A griffe extension for the API reference (mkdocs.yml): the package's docstrings use reST
roles (``:class:`LyzrClient```) that Markdown would show as written; here they become code
spans (`LyzrClient`), and a paragraph's reST ``::`` before a literal block a plain colon."""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|attr|exc|data|mod|obj|const):`(~?)([^`]+)`")


def _role(match: re.Match[str]) -> str:
    short, target = match.group(1), match.group(2)
    return f"`{target.rsplit('.', 1)[-1] if short else target}`"


def convert(text: str) -> str:
    """The docstring ``text`` with its reST roles as code spans and ``::`` as ``:``."""
    text = _ROLE.sub(_role, text)
    return re.sub(r"(?<=\S)::$", ":", text, flags=re.MULTILINE)


class RstRoles(griffe.Extension):
    """Converts each docstring once, as griffe loads its object."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = convert(obj.docstring.value)
