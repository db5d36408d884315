"""Scripted agents for the local-tools protocol (the client runs the tools).

``tool-caller`` reads the bound tools from the ``local_tools`` feature and:

- with tool results after the last user message, answers using them;
- otherwise asks for every bound tool written as a call in the message (``add(2, 3)``,
  ``now()``, ``lookup(city="Paris")``: several in one round, also without arguments); else for
  the tools the message mentions by name (or by a distinctive part of it: "weather" for
  ``get_weather``); or, when ``tool_choice`` forces a tool (``"any"``/``"required"``/a name),
  for that tool. Arguments not written out are built from the tool's JSON schema, string ones
  taken from the quoted strings of the message in order. With nothing to call it answers in
  text.

With ``response_format`` in the request (any agent), an answer in text becomes a JSON document
that fits the schema (``lyzr_v3.prepare``); a tool call still goes first, so a tool loop with a
response format (LangChain's provider strategy) calls its tools, then answers in JSON.

``tool-caller-direct`` names the tool directly instead of going through the ``local_tool``
proxy; ``tool-caller-unknown`` asks for a tool that was never bound.

Tool results are checked as lyzr-adk's tool loop sends them: each answers a call of an assistant
message of the current turn, and is named ``local_tool`` when that call went through the proxy
(the real tool name for a direct call). A result shaped otherwise ends the stream with
``[ERROR]`` naming the problem, so a client that drifts from the official shape fails loudly.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from .agents import AGENTS, AgentCall, Answer, words

__all__ = ["json_object_example", "schema_example"]

_CALL = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\(([^()]*)\)")


def schema_example(schema: Mapping[str, Any], defs: Mapping[str, Any] | None = None) -> Any:
    """A value that satisfies a JSON schema (the common subset pydantic emits)."""
    defs = defs if defs is not None else schema.get("$defs", schema.get("definitions", {}))
    if "$ref" in schema:
        return schema_example(defs.get(str(schema["$ref"]).rsplit("/", 1)[-1], {}), defs)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return schema_example(options[0], defs)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: schema_example(sub, defs) for name, sub in props.items()}
    if kind == "array":
        return [schema_example(schema.get("items", {"type": "string"}), defs)]
    return {"string": "lyzr", "integer": 1, "number": 1.5, "boolean": True}.get(kind)


def json_object_example(message: str) -> dict[str, Any]:
    """A JSON object for ``response_format: json_object``.

    The keys are the quoted identifiers the message names (``'setup' and 'punchline' keys``);
    with none, the object is ``{"answer": message}``.
    """
    keys = list(dict.fromkeys(re.findall(r"['\"]([A-Za-z_][A-Za-z0-9_]*)['\"]", message)))
    if not keys:
        return {"answer": message}
    return {key: f"{key} from lyzr" for key in keys}


def _literal(text: str) -> Any:
    text = text.strip()
    try:
        return json.loads(text)
    except ValueError:
        return text.strip("'\"")


def _arguments(raw: str, tool: Mapping[str, Any]) -> dict[str, Any]:
    names = list((tool.get("parameters") or {}).get("properties", {}))
    args: dict[str, Any] = {}
    parts = [p for p in (x.strip() for x in raw.split(",")) if p]
    for index, part in enumerate(parts):
        key, eq, value = part.partition("=")
        if eq and key.strip().isidentifier():
            args[key.strip()] = _literal(value)
        elif index < len(names):
            args[names[index]] = _literal(part)
    return args


_GENERIC_PARTS = frozenset({"get", "set", "tool", "function", "make", "create", "the"})


def _example_args(tool: Mapping[str, Any], text: str) -> dict[str, Any]:
    schema = tool.get("parameters") or {}
    args = schema_example(schema)
    quoted = iter(re.findall(r"['\"]([^'\"]+)['\"]", text))
    for name, sub in (schema.get("properties") or {}).items():
        if sub.get("type") == "string" and "enum" not in sub:
            args[name] = next(quoted, args.get(name))
    return dict(args)


def _mentioned(text: str, tool: Mapping[str, Any]) -> bool:
    name = str(tool.get("name", ""))
    lowered = text.lower()
    if name.lower() in lowered:
        return True
    parts = [p for p in name.lower().split("_") if len(p) > 3 and p not in _GENERIC_PARTS]
    return any(re.search(rf"\b{re.escape(p)}\b", lowered) for p in parts)


def _plan(
    text: str, tools: Sequence[Mapping[str, Any]], choice: str | None
) -> list[tuple[str, dict[str, Any]]]:
    by_name = {str(t.get("name")): t for t in tools}
    calls = [
        (name, _arguments(raw, by_name[name]))
        for name, raw in _CALL.findall(text)
        if name in by_name
    ]
    if not calls:
        calls = [(str(t["name"]), _example_args(t, text)) for t in tools if _mentioned(text, t)]
    if choice in by_name:
        calls = [c for c in calls if c[0] == choice] or [
            (choice, _example_args(by_name[choice], text))
        ]
    elif not calls and choice in ("any", "required") and tools:
        calls = [(str(tools[0]["name"]), _example_args(tools[0], text))]
    return calls


def _tools_and_choice(call: AgentCall) -> tuple[list[Mapping[str, Any]], str | None]:
    for feature in call.features:
        if feature.get("type") == "local_tools":
            config = feature.get("config") or {}
            return list(config.get("tools") or []), config.get("tool_choice")
    return [], None


def _calls_by_id(messages: Sequence[Mapping[str, Any]]) -> dict[str, tuple[str, str]]:
    """call id -> (the name a result must carry, the real tool name), from assistant messages.

    As lyzr-adk reads them: a call went through the proxy when its function is ``local_tool`` or
    its arguments hold ``tool_name``; its result is then named ``local_tool``.
    """
    out: dict[str, tuple[str, str]] = {}
    for message in messages:
        for entry in message.get("tool_calls") or ():
            function = entry.get("function") or {}
            name = str(function.get("name", ""))
            try:
                args = json.loads(function.get("arguments") or "{}")
            except ValueError:
                args = {}
            if name == "local_tool" or (isinstance(args, dict) and "tool_name" in args):
                out[str(entry.get("id"))] = ("local_tool", str(args.get("tool_name", "")))
            else:
                out[str(entry.get("id"))] = (name, name)
    return out


def _misnamed_result(
    results: Sequence[Mapping[str, Any]], calls: Mapping[str, tuple[str, str]]
) -> str | None:
    """Why the tool results are not shaped as lyzr-adk sends them, or None when they are."""
    for result in results:
        call_id = str(result.get("tool_call_id"))
        if call_id not in calls:
            return f"tool result for unknown call {call_id!r} (no assistant tool_calls entry)"
        expected = calls[call_id][0]
        if result.get("name") != expected:
            name = result.get("name")
            return f"tool result for call {call_id!r} is named {name!r}, expected {expected!r}"
    return None


def _tool_caller(call: AgentCall, mode: str) -> Answer:
    tools, choice = _tools_and_choice(call)
    messages = list(call.messages or [{"role": "user", "content": call.message}])
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    results = [m for m in messages[last_user + 1 :] if m.get("role") == "tool"]
    user_text = str(messages[last_user].get("content", "")) if last_user >= 0 else call.message
    if results:
        by_id = _calls_by_id(messages[last_user + 1 :])
        problem = _misnamed_result(results, by_id)
        if problem:
            return Answer((), error=problem)
        parts = [
            f"{by_id.get(str(m.get('tool_call_id')), ('', str(m.get('name'))))[1]} returned "
            f"{m.get('content')}"
            for m in results
        ]
        return Answer(words("Using the tool results: " + "; ".join(parts) + "."))
    calls = [] if choice == "none" else _plan(user_text, tools, choice)
    if mode == "unknown" and tools:
        calls = [("not_a_bound_tool", {})]
    if not calls:
        return Answer(words(f"You said: {user_text}"))
    entries = []
    for name, args in calls:
        if mode == "direct":
            function = {"name": name, "arguments": json.dumps(args)}
        else:
            proxied = {"tool_name": name, "arguments": args}
            function = {"name": "local_tool", "arguments": json.dumps(proxied)}
        entries.append(
            {"id": f"call_{uuid.uuid4().hex[:16]}", "type": "function", "function": function}
        )
    assistant = {"role": "assistant", "content": "", "tool_calls": entries}
    payload = {
        "type": "local_tool_call",
        "tool_name": calls[0][0],
        "arguments": calls[0][1],
        "messages": [*messages, assistant],
    }
    return Answer((), tool_call=payload)


AGENTS["tool-caller"] = lambda call: _tool_caller(call, "proxy")
AGENTS["tool-caller-direct"] = lambda call: _tool_caller(call, "direct")
AGENTS["tool-caller-unknown"] = lambda call: _tool_caller(call, "unknown")
