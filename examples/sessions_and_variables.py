"""Sessions and system prompt variables, in both frameworks.

- ChatLyzr: constructor fields, then ``config["configurable"]``, then per-call keyword
  arguments; ``system_prompt_variables`` merge key by key.
- LyzrLLM: the same, plus ``with llm.session(...):`` for code that calls the LLM for you.

The emulator's ``vars`` agent answers with the variables it received; ``memory`` with what was
said earlier in the session.

    python examples/sessions_and_variables.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import connect

from langchain_lyzr_stream import ChatLyzr
from llamaindex_lyzr_stream import LyzrLLM


def main() -> dict[str, str]:
    out = {}
    target = connect("vars")
    model = ChatLyzr(
        agent_id=target.agent_id,
        api_key=target.api_key,
        base_url=target.base_url,
        system_prompt_variables={"tone": "warm", "language": "English"},
    )
    # configurable overrides one key; the per-call argument adds another; all three merge.
    answer = model.invoke(
        "Hello",
        config={"configurable": {"system_prompt_variables": {"language": "French"}}},
        system_prompt_variables={"name": "Ada"},
    )
    print("ChatLyzr:", answer.text)
    out["variables"] = answer.text

    memory = connect("memory")
    llm = LyzrLLM(agent_id=memory.agent_id, api_key=memory.api_key, base_url=memory.base_url)
    with llm.session(session_id="support-42", user_id="ada@example.com"):
        llm.complete("My order number is 1234.")
        followup = llm.complete("What was my order number?")
    print("LyzrLLM: ", followup.text)
    print("         session:", followup.additional_kwargs["session_id"])
    out["memory"] = followup.text
    # Another session knows nothing of it.
    fresh = llm.complete("What was my order number?", session_id="support-43")
    print("other session:", fresh.text)
    out["fresh"] = fresh.text
    return out


if __name__ == "__main__":
    main()
