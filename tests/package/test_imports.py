"""Imports: a light ``import lyzr_stream``, lazy public names, modules loaded when first needed."""

from __future__ import annotations

import importlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import lyzr_stream

ROOT = Path(__file__).resolve().parents[2]


# Modules that only some programs need: none may come with ``import lyzr_stream``.
HEAVY = (
    "lyzr_stream.emulator",
    "lyzr_stream._apps.cli",
    "starlette",
    "uvicorn",
    "langchain_core",
    "llama_index",
)


def _modules_after(code: str) -> set[str]:
    """The modules loaded in a fresh interpreter after running ``code``."""
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return set(json.loads(done.stdout))


def _loaded(modules: set[str], prefix: str) -> bool:
    return any(m == prefix or m.startswith(prefix + ".") for m in modules)


def test_import_lyzr_stream_loads_nothing_heavy() -> None:
    modules = _modules_after("import lyzr_stream")
    assert [m for m in HEAVY if _loaded(modules, m)] == []
    # The public names are imported on first use: not even the client or httpx yet.
    assert not _loaded(modules, "lyzr_stream._client")
    assert not _loaded(modules, "httpx")


def test_core_client_loads_no_emulator_cli_or_framework() -> None:
    modules = _modules_after("from lyzr_stream import AgentRequest, LyzrClient, TextDelta")
    assert "lyzr_stream._client" in modules
    assert [m for m in HEAVY if _loaded(modules, m)] == []


# What ``from lyzr_stream import LyzrClient`` leaves for the first client built (or the first
# call) to import: the request model (pydantic), the dialects, streams, asyncio, telemetry, the
# events channel and its websockets, the stopper, the pools.
# What a plain client never loads until a call needs it: the optional extras' libraries (the
# events channel's websockets, OpenTelemetry), the dialects it does not speak.
NOT_WITH_A_CLIENT = (
    "websockets",
    "opentelemetry",
    "lyzr_stream._adapters.structured",
    "lyzr_stream.dialects._lyzr_v2",
    "lyzr_stream.dialects._aisquare",
    "lyzr_stream.dialects._chat_messages",
)


def test_a_client_loads_only_the_dialect_it_speaks_and_no_extra() -> None:
    modules = _modules_after("from lyzr_stream import LyzrClient; LyzrClient(api_key='k')")
    for needed in ("lyzr_stream._stream", "lyzr_stream._request", "lyzr_stream.dialects._lyzr_v3"):
        assert needed in modules
    assert [m for m in NOT_WITH_A_CLIENT if _loaded(modules, m)] == []
    assert [m for m in HEAVY if _loaded(modules, m)] == []


def test_a_dialect_is_imported_when_first_named() -> None:
    modules = _modules_after(
        "from lyzr_stream import available_dialects, get_dialect\n"
        "names = available_dialects()\n"
        "assert {'lyzr-v3', 'lyzr-v2', 'aisquare', 'chat-messages'} <= set(names), names\n"
        "assert get_dialect('aisquare').name == 'aisquare'"
    )
    assert "lyzr_stream.dialects._aisquare" in modules
    assert not _loaded(modules, "lyzr_stream.dialects._lyzr_v3")
    assert not _loaded(modules, "lyzr_stream.dialects._chat_messages")


def test_every_public_name_resolves_to_its_module() -> None:
    lazy: dict[str, str] = lyzr_stream._LAZY
    assert set(lazy) == set(lyzr_stream.__all__) - {"__version__"}
    for name, module in lazy.items():
        defining = importlib.import_module(f"lyzr_stream.{module}")
        assert getattr(lyzr_stream, name) is getattr(defining, name), name
    assert set(lyzr_stream.__all__) <= set(dir(lyzr_stream))


# The packages a user imports from; every other module is named as internal (``_name``), and
# so is every sub-package that is not public (``_http``, ``_routes``, ``_adapters``, ``_apps``).
PUBLIC_PACKAGES = ("lyzr_stream", "lyzr_stream.dialects")


#: Public modules of those packages, and their public sub-packages.
PUBLIC_MODULES = ("lyzr_stream.playground",)


PUBLIC_SUBPACKAGES = ("lyzr_stream.dialects", "lyzr_stream.emulator")


def test_modules_outside_the_public_api_are_named_as_internal() -> None:
    public = []
    for package in PUBLIC_PACKAGES:
        folder = ROOT.joinpath(*package.split("."))
        for path in sorted(folder.glob("*.py")):
            if not path.stem.startswith("_"):
                public.append(f"{package}.{path.stem}")
        for path in sorted(folder.glob("*/__init__.py")):
            name = f"{package}.{path.parent.name}"
            if not path.parent.name.startswith("_") and name not in PUBLIC_SUBPACKAGES:
                public.append(name)
    assert public == list(PUBLIC_MODULES)
    # What users import comes from the packages themselves.
    for package in (*PUBLIC_PACKAGES, *PUBLIC_MODULES):
        module = importlib.import_module(package)
        missing = [name for name in module.__all__ if not hasattr(module, name)]
        assert missing == [], package


def test_unknown_name_is_an_attribute_error() -> None:
    try:
        lyzr_stream.NoSuchName  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchName" in str(exc)
    else:
        raise AssertionError("lyzr_stream.NoSuchName did not raise")


def test_importing_the_emulator_changes_no_logging() -> None:
    """The emulator quiets uvicorn's log of its injected disconnects when it starts, not when
    it is imported."""
    code = (
        "import logging\n"
        "import lyzr_stream.emulator as emulator\n"
        "log = logging.getLogger('uvicorn.error')\n"
        "print(len(log.filters))\n"
        "with emulator.Emulator():\n"
        "    print(len(log.filters))\n"
        "with emulator.Emulator():\n"
        "    print(len(log.filters))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["0", "1", "1"]
