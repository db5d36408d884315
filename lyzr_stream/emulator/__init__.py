"""An embedded emulator of the agent services: a real HTTP server on loopback.

    from lyzr_stream.emulator import Emulator

    with Emulator() as em:
        client = LyzrClient(api_key=em.api_key, base_url=em.base_url)

Also: ``python -m lyzr_stream.emulator --port 8080`` and the pytest plugin
``lyzr_stream.emulator.pytest_plugin`` (fixture ``lyzr_emulator``). Scripted agents are in
:mod:`lyzr_stream.emulator.agents`; fault injection in :mod:`lyzr_stream.emulator.faults`.
Needs the ``emulator`` extra (starlette, uvicorn).
"""

from .._errors import check_extra

try:
    from . import batch_agents as _batch_agents  # noqa: F401  (registers batch)
    from . import event_agents as _event_agents  # noqa: F401  (registers the server-tools agents)
    from . import playground_agents as _playground_agents  # noqa: F401  (showcase, markup)
    from . import tool_agents as _tool_agents  # noqa: F401  (registers the tool agents)
    from .agents import AGENTS, DEMO_ANSWER, UNICODE_ANSWER, long_answer_tokens
    from .app import create_app
    from .server import Emulator
    from .state import EMULATOR_API_KEY, RecordedRequest
except ModuleNotFoundError as _error:
    check_extra(
        _error, "lyzr_stream.emulator", "emulator", "starlette", "uvicorn", "python_multipart"
    )
    raise

__all__ = [
    "AGENTS",
    "DEMO_ANSWER",
    "EMULATOR_API_KEY",
    "UNICODE_ANSWER",
    "Emulator",
    "RecordedRequest",
    "create_app",
    "long_answer_tokens",
]
