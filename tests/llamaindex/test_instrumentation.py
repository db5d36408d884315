"""LlamaIndex instrumentation: start, progress and end events of each call; server tool activity."""

from __future__ import annotations

from tests.helpers import activity_dialect  # noqa: F401  (registers the "test-activity" dialect)
from tests.llamaindex.conftest import EventRecorder, LLMFactory, user


def test_dispatcher_events_for_chat_and_completion(
    make_llm: LLMFactory, recorder: EventRecorder
) -> None:
    llm = make_llm(coalesce=False)
    responses = list(llm.stream_chat([user("one two")]))
    names = recorder.names()
    assert names[0] == "LLMChatStartEvent" and names[-1] == "LLMChatEndEvent"
    assert names.count("LLMChatInProgressEvent") == len(responses)
    recorder.events.clear()
    list(llm.stream_complete("x"))
    names = recorder.names()
    assert names[0] == "LLMCompletionStartEvent" and names[-1] == "LLMCompletionEndEvent"
    assert "LLMCompletionInProgressEvent" in names


async def test_dispatcher_events_async(make_llm: LLMFactory, recorder: EventRecorder) -> None:
    async for _ in await make_llm().astream_chat([user("x")]):
        pass
    names = recorder.names()
    assert names[0] == "LLMChatStartEvent" and names[-1] == "LLMChatEndEvent"


def test_server_tool_activity(make_llm: LLMFactory, recorder: EventRecorder) -> None:
    responses = list(make_llm(dialect="test-activity").stream_chat([user("q")]))
    activity = [
        r.additional_kwargs["tool_activity"]
        for r in responses
        if "tool_activity" in r.additional_kwargs and r.delta == ""
    ]
    assert [a["phase"] for a in activity[:2]] == ["call", "result"]
    events = [e for e in recorder.events if type(e).__name__ == "LyzrToolActivityEvent"]
    assert [(e.phase, e.tool_name) for e in events] == [("call", "search"), ("result", "search")]
    assert responses[-1].message.content == "You said: q"
