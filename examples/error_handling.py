"""Typed errors, partial text, retries and timeouts, shown with the emulator's fault injection.

Every error is a ``lyzr_stream.LyzrError`` carrying ``partial_text`` (what had already reached
you). Retries happen only before anything was delivered, so they never repeat text, and an
agent run is re-sent only when it provably did not start (here: 503 with Retry-After).

    python examples/error_handling.py
"""

from __future__ import annotations

from lyzr_stream import (
    AgentRequest,
    APITimeoutError,
    LyzrClient,
    LyzrError,
    NotFoundError,
    StreamInterruptedError,
    TextDelta,
    Timeouts,
)
from lyzr_stream.emulator import Emulator


def main() -> list[str]:
    lines = []
    with Emulator() as em:

        def client(fault: str | None = None, **kw: object) -> LyzrClient:
            headers = {"x-emulator-fault": fault} if fault else None
            return LyzrClient(
                api_key=em.api_key, base_url=em.base_url, default_headers=headers, **kw
            )

        question = AgentRequest(agent_id="echo", message="one two three four five")

        # 1. The connection breaks mid-answer: the text received so far is on the error.
        received = []
        try:
            for event in client("drop-after:3").stream(question):
                if isinstance(event, TextDelta):
                    received.append(event.text)
        except StreamInterruptedError as error:
            lines.append(f"interrupted; partial_text={error.partial_text!r}")
            assert error.partial_text == "".join(received)

        # 2. Two 503s with Retry-After (the service did not take the request), then success:
        #    retried. A 500, or a 503 without Retry-After, would not be: the agent may have run.
        retried = client("fail-first:2:503:retry-after=0")
        stream = retried.stream(question.model_copy(update={"session_id": "r"}))
        lines.append(f"after retries: {stream.until_done().text!r} ({stream.stats.attempts} tries)")

        # 3. The stream goes quiet: the idle (read) timeout names itself.
        try:
            client("stall-after:2:5", timeout=Timeouts(read=0.5)).stream(question).until_done()
        except APITimeoutError as error:
            lines.append(f"timeout kind={error.kind}; partial_text={error.partial_text!r}")

        # 4. A wrong agent id: a typed status error, no retry.
        try:
            client().chat(AgentRequest(agent_id="no-such-agent", message="hi"))
        except NotFoundError as error:
            lines.append(f"{type(error).__name__} {error.status_code}: {error}")

        # 5. Everything is a LyzrError.
        try:
            client("status:400").chat(question)
        except LyzrError as error:
            lines.append(f"caught as LyzrError: {type(error).__name__}")
    for line in lines:
        print(line)
    return lines


if __name__ == "__main__":
    main()
