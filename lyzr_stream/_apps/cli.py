"""``lyzr-stream``: chat with an agent in the terminal, ask one question, or serve the emulator.

    lyzr-stream chat --agent-id ID [--session-id S] [--dialect D] [--file report.pdf] [--events]
    lyzr-stream ask --agent-id ID "question" [--json]
    lyzr-stream sessions --agent-id ID
    lyzr-stream history --session-id S [--agent-id ID]
    lyzr-stream retrieve RAG_ID QUERY [--top-k N] [--json]
    lyzr-stream emulator [--port 8080]
    lyzr-stream playground [--agent-id ID] [--framework langchain|llamaindex] [--emulator]
                           [--events] [--host ADDR --allow-remote HOST[,HOST...]]

The key comes from ``LYZR_API_KEY``, or from a prompt that does not echo (never from the command
line, where it would land in the shell history). ``--emulator`` starts the embedded emulator and
talks to it, so everything works offline (try ``--agent-id demo``).

``chat`` streams each answer as it arrives, reasoning dimmed and server-side tool activity on its
own lines (with ``--events``, also the agent's progress from its events channel), then prints
time to first token and tokens per second ("tokens" are the fragments the
service streamed: ``coalesce`` is off here). The session is kept across turns. Ctrl-C during an
answer stops that answer and keeps the session; Ctrl-D (or ``/exit``) leaves.

``chat --file PATH`` (repeatable) uploads the files as Lyzr assets before the first prompt (a
file that cannot be sent is reported there, exit code 1) and attaches them to the first message;
inside a chat, ``/file PATH`` attaches a file to the next message. ``sessions`` lists an agent's
sessions; ``history --session-id S`` prints one session's memory (an unknown or empty session
is reported, exit code 1). ``retrieve`` prints the passages of a knowledge base most relevant to
a query (score, source, text; ``--json``: all their fields).

One spelling per meaning: ``--session-id`` names a session and ``--events`` turns on the agent's
events channel on every command that has them (``history SESSION_ID`` and ``playground
--agent-events`` still work, hidden and deprecated). A command only takes the options it uses:
``sessions --var`` is a usage error (exit code 2), not silently ignored.

``playground`` serves a page on loopback (port 8000) that streams answers through ``ChatLyzr``
or ``LyzrLLM`` (see :mod:`lyzr_stream.playground`). A non-loopback ``--host`` needs
``--allow-remote`` with the host names the page is reached by: requests naming any other host
are refused (no DNS rebinding), whatever the bind address.

``ask`` prints the answer text to stdout (``--json``: the whole result); errors go to stderr
with exit code 1 (2 for bad arguments). A question read from stdin loses its trailing newlines.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TextIO

from .._client import LyzrClient
from .._errors import LyzrError, NotFoundError
from .._events import AgentEvent, ReasoningDelta, TextDelta, ToolActivity
from .._request import AgentRequest
from .._response import AgentResponse
from .._routes.assets import Asset
from .._settings import ENV_API_KEY

__all__ = ["main"]

_DIM, _CYAN, _RED, _RESET = "\x1b[2m", "\x1b[36m", "\x1b[31m", "\x1b[0m"


class _Style:
    """ANSI styling only when writing to a terminal (and NO_COLOR is unset)."""

    def __init__(self, stream: TextIO) -> None:
        self.on = stream.isatty() and not os.environ.get("NO_COLOR")

    def __call__(self, code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if self.on else text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lyzr-stream", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    def agent_options(
        sub: argparse.ArgumentParser,
        session: str | None = "continue this session (default: a new one)",
        asks: bool = True,
    ) -> None:
        """The connection options, ``--session-id`` (with this help; None: not taken) and, for
        commands that ask (``asks``), ``--user-id`` and ``--var``: a command takes only the
        options it uses, so a meaningless one is a usage error."""
        sub.add_argument(
            "--agent-id",
            default=os.environ.get("LYZR_AGENT_ID"),
            help="agent id (default: LYZR_AGENT_ID)",
        )
        if session is not None:
            sub.add_argument("--session-id", help=session)
        if asks:
            sub.add_argument("--user-id", help="user id (default: LYZR_USER_ID or default_user)")
        sub.add_argument("--dialect", default="lyzr-v3", help="wire format (default: lyzr-v3)")
        sub.add_argument("--base-url", help="service URL (default: LYZR_BASE_URL or the dialect's)")
        if asks:
            sub.add_argument(
                "--var",
                action="append",
                default=[],
                metavar="NAME=VALUE",
                help="a system prompt variable (repeatable)",
            )
        sub.add_argument("--timeout", type=float, help="read timeout in seconds")
        sub.add_argument(
            "--emulator",
            action="store_true",
            help="start the embedded emulator and talk to it (offline)",
        )

    chat = commands.add_parser("chat", help="interactive streaming chat")
    agent_options(chat)
    chat.add_argument(
        "--events",
        action="store_true",
        help="show the agent's server-side tool calls, results and progress as they happen "
        "(Lyzr v3 events channel; LYZR_EVENTS_URL overrides its address)",
    )
    ask = commands.add_parser("ask", help="ask one question; the answer goes to stdout")
    agent_options(ask)
    ask.add_argument("question", nargs="?", help="the question ('-' or none: read stdin)")
    ask.add_argument("--json", action="store_true", help="print the whole result as JSON")
    chat.add_argument(
        "--file",
        action="append",
        default=[],
        metavar="PATH",
        help="attach a file (PDF, DOCX, PPTX, XLSX, XLS, JPEG, PNG) to the first message; "
        "uploaded before the first prompt, so a bad file is reported at once (exit code 1)",
    )
    _session_commands(commands, agent_options)
    _task_commands(commands, ask, agent_options)
    emulator = commands.add_parser("emulator", help="serve the agent-service emulator")
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--port", type=int, default=8080)
    _playground_parser(commands)
    _retrieve_parser(commands)
    return parser


def _playground_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    play = commands.add_parser("playground", help="try an agent in the browser (a local page)")
    play.add_argument(
        "--agent-id",
        default=os.environ.get("LYZR_AGENT_ID"),
        help="agent id (default: LYZR_AGENT_ID; with --emulator: showcase)",
    )
    play.add_argument("--framework", choices=("langchain", "llamaindex"), default="langchain")
    play.add_argument("--dialect", default="lyzr-v3", help="wire format (default: lyzr-v3)")
    play.add_argument("--base-url", help="service URL (default: LYZR_BASE_URL or the dialect's)")
    play.add_argument("--user-id", help="user id (default: LYZR_USER_ID or default_user)")
    play.add_argument("--timeout", type=float, help="read timeout in seconds")
    play.add_argument("--emulator", action="store_true", help="talk to the embedded emulator")
    play.add_argument(
        "--events",
        action="store_true",
        help="show the agent's events channel on the timeline (Lyzr v3; extra: events), as "
        "chat --events does (--agent-events, its old name, still works: deprecated)",
    )
    play.add_argument(
        "--agent-events", action=_DeprecatedFlag, dest="events", help=argparse.SUPPRESS
    )
    play.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to serve on (default: 127.0.0.1; another needs --allow-remote)",
    )
    play.add_argument("--port", type=int, default=8000)
    play.add_argument(
        "--allow-remote",
        action="append",
        default=[],
        metavar="HOST[,HOST...]",
        help=(
            "host names or IP addresses the page may be reached by besides loopback, "
            "comma-separated or repeated (e.g. myhost.lan,192.168.1.5); needed to serve on a "
            "non-loopback --host. Requests naming any other host are still refused (the Host "
            "check is never off: no DNS rebinding). Anyone who reaches it uses your key"
        ),
    )


class _DeprecatedFlag(argparse.Action):
    """A hidden old spelling of a ``store_true`` flag: sets it, and says what replaced it."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=False, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, True)
        new = "--" + self.dest.replace("_", "-")
        sys.stderr.write(f"lyzr-stream: {option_string} is deprecated; use {new}\n")


def _variables(pairs: Sequence[str], parser: argparse.ArgumentParser) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            parser.error(f"--var expects NAME=VALUE, got {pair!r}")
        out[name] = value
    return out


@contextlib.contextmanager
def _client(args: argparse.Namespace) -> Iterator[LyzrClient]:
    """The client the options describe; with ``--emulator``, an emulator for its lifetime."""
    with contextlib.ExitStack() as stack:
        api_key, base_url, events_url = None, args.base_url, None
        if args.emulator:
            from ..emulator import Emulator
            from ..emulator.agent_events import events_url_of

            emulator = stack.enter_context(Emulator())
            api_key, base_url = emulator.api_key, emulator.base_url
            events_url = events_url_of(base_url)
        elif not os.environ.get(ENV_API_KEY) and sys.stdin.isatty():
            api_key = getpass.getpass("Lyzr API key: ") or None
        client = LyzrClient(
            api_key=api_key,
            base_url=base_url,
            user_id=getattr(args, "user_id", None),
            dialect=args.dialect,
            timeout=args.timeout,
            coalesce=False,
            agent_events=True if getattr(args, "events", False) else None,
            events_url=events_url,
        )
        yield stack.enter_context(client)


def _request(args: argparse.Namespace, message: str, variables: dict[str, str]) -> AgentRequest:
    return AgentRequest(
        agent_id=args.agent_id,
        message=message,
        session_id=args.session_id,
        system_prompt_variables=variables,
    )


def _chat(args: argparse.Namespace, variables: dict[str, str]) -> int:
    out, style = sys.stdout, _Style(sys.stdout)
    with _client(args) as client:
        if args.session_id is None:
            args.session_id = client.new_session_id(args.agent_id)
        # The --file uploads happen now: a file that cannot be sent is reported before the
        # first question (main prints the error, exit code 1), not after it has been typed.
        pending = [a.asset_id for a in _upload(client, args.file, out, style)]
        args.file = []
        out.write(
            style(
                _DIM,
                f"agent {args.agent_id}, session {args.session_id}. "
                "Ctrl-C stops an answer, Ctrl-D leaves.\n",
            )
        )
        while True:
            try:
                line = input("you> ")
            except EOFError:
                out.write("\n")
                return 0
            except KeyboardInterrupt:
                out.write("\n")
                continue
            if not line.strip():
                continue
            if line.strip() in ("/exit", "/quit"):
                return 0
            if line.startswith("/file "):
                args.file.append(line[6:].strip())
                out.write(style(_DIM, f"[{line[6:].strip()} goes with your next message]") + "\n")
                continue
            request = _attach_files(client, _request(args, line, variables), args, out, style)
            if request is not None and pending:
                ids = (*pending, *request.assets)
                request, pending = request.model_copy(update={"assets": ids}), []
            if request is not None:
                _answer(client, request, out, style)


def _answer(client: LyzrClient, request: AgentRequest, out: TextIO, style: _Style) -> None:
    out.write("agent> ")
    out.flush()
    fragments = 0
    stream = client.stream(request)
    try:
        with stream:
            for event in stream:
                if isinstance(event, TextDelta):
                    fragments += 1
                    out.write(event.text)
                elif isinstance(event, ReasoningDelta):
                    out.write(style(_DIM, event.text))
                elif isinstance(event, ToolActivity):
                    out.write("\n" + style(_CYAN, _activity_line(event)) + "\n")
                elif isinstance(event, AgentEvent):
                    out.write("\n" + style(_DIM, _progress_line(event)) + "\n")
                out.flush()
    except KeyboardInterrupt:
        out.write(style(_DIM, " [stopped]") + "\n")
        return
    except LyzrError as error:
        out.write("\n" + style(_RED, f"error: {type(error).__name__}: {error}") + "\n")
        return
    stats = stream.stats
    ttft, total = stats.time_to_first_token, stats.duration
    rate = fragments / (total - ttft) if ttft is not None and total and total > ttft else 0.0
    summary = f"first token {ttft * 1000:.0f} ms, {rate:.1f} tokens/s" if ttft else "no text"
    out.write("\n" + style(_DIM, f"[{summary}]") + "\n")


def _activity_line(activity: ToolActivity) -> str:
    if activity.phase == "call":
        return f"[tool] {activity.name}({json.dumps(activity.arguments, default=str)})"
    return f"[tool] {activity.name} -> {json.dumps(activity.result, default=str)[:200]}"


def _progress_line(event: AgentEvent) -> str:
    """One agent event (``--events``): its type, status and message."""
    status = ", ".join(s for s in (event.status, "update" if event.update else None) if s)
    line = f"[event] {event.type}" + (f" ({status})" if status else "")
    return line + (f": {event.message[:200]}" if event.message else "")


def _ask(args: argparse.Namespace, variables: dict[str, str]) -> int:
    question = args.question
    if question in (None, "-"):
        # `echo question | lyzr-stream ask` ends with a newline that is not part of it.
        question = sys.stdin.read().rstrip("\r\n")
    if args.task:
        return _ask_task(args, question, variables)
    with _client(args) as client:
        stream = client.stream(_request(args, question, variables))
        with stream:
            for event in stream:
                if isinstance(event, TextDelta) and not args.json:
                    sys.stdout.write(event.text)
                    sys.stdout.flush()
        response = stream.response()
    if args.json:
        result = _response_json(response)
        result["time_to_first_token"] = stream.stats.time_to_first_token
        result["total_time"] = stream.stats.duration
        json.dump(result, sys.stdout, default=str, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


def _response_json(response: AgentResponse) -> dict[str, Any]:
    """An answer as ``ask --json`` prints it (streamed or as a task)."""
    return {
        "text": response.text,
        "reasoning": response.reasoning,
        "agent_id": response.agent_id,
        "session_id": response.session_id,
        "user_id": response.user_id,
        "message_id": response.message_id,
        "finish_reason": response.finish_reason,
        "artifacts": [dict(a) for a in response.artifacts],
        "tool_activity": [
            {"phase": a.phase, "name": a.name, "arguments": a.arguments, "result": a.result}
            for a in response.tool_activity
        ],
        "metadata": dict(response.metadata),
    }


def _attach_files(
    client: LyzrClient, request: AgentRequest, args: argparse.Namespace, out: TextIO, style: _Style
) -> AgentRequest | None:
    """``request`` with the pending ``--file`` / ``/file`` uploads as its assets (None: failed)."""
    if not args.file:
        return request
    paths, args.file = args.file, []
    try:
        assets = _upload(client, paths, out, style)
    except LyzrError as error:
        out.write(style(_RED, f"error: {type(error).__name__}: {error}") + " (not sent)\n")
        return None
    ids = [*request.assets, *(a.asset_id for a in assets)]
    return request.model_copy(update={"assets": tuple(ids)})


def _upload(client: LyzrClient, paths: Sequence[str], out: TextIO, style: _Style) -> list[Asset]:
    """Upload ``paths`` (none: nothing sent) and say so; a ``LyzrError`` goes to the caller."""
    if not paths:
        return []
    assets = client.upload_assets(list(paths))
    names = ", ".join(a.name for a in assets)
    out.write(style(_DIM, f"[attached {names}]") + "\n")
    return assets


def _session_commands(commands: Any, agent_options: Callable[..., None]) -> None:
    sessions = commands.add_parser("sessions", help="list an agent's sessions")
    agent_options(sessions, session=None, asks=False)
    history = commands.add_parser(
        "history",
        help="print a session's memory",
        description="Print a session's memory, oldest turn first. The session is named by "
        "--session-id, as on every other command (the positional SESSION_ID of earlier "
        "versions still works: deprecated). An unknown or empty session is reported on "
        "stderr with exit code 1.",
    )
    agent_options(history, session="the session to print (required)", asks=False)
    # The old spelling, hidden: `history SESSION_ID`.
    history.add_argument("session", nargs="?", help=argparse.SUPPRESS)


def _sessions(args: argparse.Namespace) -> int:
    with _client(args) as client:
        for session in client.list_sessions(args.agent_id):
            named = session.name and session.name != session.session_id
            name = f"  {session.name}" if named else ""
            sys.stdout.write(f"{session.session_id}  {session.created_at or '-'}{name}\n")
    return 0


def _history_session(args: argparse.Namespace, parser: argparse.ArgumentParser) -> str:
    """The session ``history`` prints: ``--session-id``, or the deprecated positional."""
    if args.session is not None:
        if args.session_id is not None and args.session_id != args.session:
            parser.error(f"two sessions named: --session-id {args.session_id} and {args.session}")
        sys.stderr.write("lyzr-stream: history SESSION_ID is deprecated; use --session-id\n")
        return str(args.session)
    if args.session_id is None:
        parser.error("history needs --session-id")
    return str(args.session_id)


def _history(args: argparse.Namespace, session_id: str) -> int:
    style = _Style(sys.stdout)
    with _client(args) as client:
        try:
            entries = client.session_history(session_id, agent_id=args.agent_id)
        except NotFoundError:
            entries = []
    if not entries:
        # The service answers an unknown session with an empty memory or a 404.
        sys.stderr.write(f"lyzr-stream: no session {session_id} (or it has no messages)\n")
        return 1
    for entry in entries:
        who = {"user": "you", "assistant": "agent"}.get(entry.role, entry.role)
        sys.stdout.write(style(_DIM, f"{who}> ") + entry.content + "\n")
    return 0


# -- background tasks and stopping (issue 27) ------------------------------------------------------
def _task_commands(
    commands: Any, ask: argparse.ArgumentParser, agent_options: Callable[..., None]
) -> None:
    """``ask --task`` (and ``--poll-interval``), and the ``stop`` command."""
    ask.add_argument(
        "--task",
        action="store_true",
        help="run the question as a background task and wait for its answer (for agents that "
        "run for minutes; progress goes to stderr on a terminal)",
    )
    ask.add_argument(
        "--poll-interval",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="with --task: seconds between polls (default 2)",
    )
    stop = commands.add_parser("stop", help="stop the agent running in a session")
    agent_options(stop, session=None, asks=False)  # the session is the positional
    stop.add_argument("session", metavar="SESSION_ID", help="the session to stop")


def _ask_task(args: argparse.Namespace, question: str, variables: dict[str, str]) -> int:
    """``ask --task``: the answer of a background task (Ctrl-C stops the run's session)."""
    err = sys.stderr
    report = err.isatty()
    response = None
    with _client(args) as client:
        updates = client.task_updates(
            _request(args, question, variables), poll_interval=args.poll_interval
        )
        seen: tuple[str, Any] | None = None
        for status in updates:
            if report and not status.done and (status.status, status.progress) != seen:
                seen = (status.status, status.progress)
                progress = f" ({status.progress})" if status.progress is not None else ""
                err.write(f"[task {status.task_id}] {status.status}{progress}\n")
            response = status.response or response
    assert response is not None  # the updates end with the completed task's answer
    if args.json:
        json.dump(_response_json(response), sys.stdout, default=str, ensure_ascii=False)
    else:
        sys.stdout.write(response.text)
    sys.stdout.write("\n")
    return 0


def _stop(args: argparse.Namespace) -> int:
    """``stop SESSION_ID``: ask the service to stop the session's running agent."""
    with _client(args) as client:
        client.stop_session(args.session)
    sys.stdout.write(f"stop sent for session {args.session}\n")
    return 0


def _emulator(args: argparse.Namespace) -> int:
    from ..emulator.__main__ import main as serve

    serve(["--host", args.host, "--port", str(args.port)])
    return 0


def _playground(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Serve the playground page until Ctrl-C; the key stays in this process."""
    from pydantic import SecretStr

    try:
        from .playground.app import PlaygroundConfig, allowed_host_names, create_app
        from .playground.backends import ModelSettings
        from .playground.server import LOOPBACK, serve
    except ImportError as error:
        sys.stderr.write(f"lyzr-stream: {error}\n")
        return 1
    if args.host not in LOOPBACK and not args.allow_remote:
        parser.error(
            f"--host {args.host} is not loopback: add --allow-remote HOST[,HOST...] naming the "
            "hosts the page is reached by, if you mean it"
        )
    try:
        allowed_hosts = allowed_host_names(args.allow_remote)
    except LyzrError as error:
        parser.error(f"--allow-remote: {error}")
    with contextlib.ExitStack() as stack:
        api_key, base_url, events_url = None, args.base_url, None
        agents: tuple[str, ...] = ()
        if args.emulator:
            from ..emulator import AGENTS, Emulator
            from ..emulator.agent_events import events_url_of

            emulator = stack.enter_context(Emulator())
            api_key, base_url = emulator.api_key, emulator.base_url
            events_url = events_url_of(base_url) if args.events else None
            agents = (*sorted(AGENTS), "long-300")
        elif not os.environ.get(ENV_API_KEY) and sys.stdin.isatty():
            api_key = getpass.getpass("Lyzr API key: ") or None
        agent_id = args.agent_id or ("showcase" if args.emulator else None)
        if not agent_id:
            parser.error("--agent-id is required (or set LYZR_AGENT_ID)")
        settings = ModelSettings(
            framework=args.framework,
            dialect=args.dialect,
            api_key=SecretStr(api_key) if api_key else None,
            base_url=base_url,
            user_id=args.user_id,
            timeout=args.timeout,
            agent_events=True if args.events else None,
            events_url=events_url,
        )
        config = PlaygroundConfig(
            agent_id=agent_id,
            models=settings,
            agent_suggestions=agents,
            emulator=args.emulator,
            allowed_hosts=allowed_hosts,
        )
        try:
            app = create_app(config)
        except (LyzrError, ImportError) as error:
            sys.stderr.write(f"lyzr-stream: {type(error).__name__}: {error}\n")
            return 1
        host = f"[{args.host}]" if ":" in args.host else args.host
        print(f"playground: http://{host}:{args.port}/  (Ctrl-C stops)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            serve(app, args.host, args.port)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "emulator":
        return _emulator(args)
    if args.command == "history":
        session_id = _history_session(args, parser)
        return _run_guarded(lambda: _history(args, session_id))
    if args.command == "stop":
        return _run_guarded(lambda: _stop(args))
    if args.command == "playground":
        return _playground(args, parser)
    if args.command == "retrieve":
        return _run_guarded(lambda: _retrieve(args))
    if not args.agent_id:
        parser.error("--agent-id is required (or set LYZR_AGENT_ID)")
    variables = _variables(getattr(args, "var", []), parser)
    started = time.monotonic()
    try:
        if args.command == "chat":
            return _chat(args, variables)
        if args.command == "sessions":
            return _sessions(args)
        return _ask(args, variables)
    except LyzrError as error:
        sys.stderr.write(f"lyzr-stream: {type(error).__name__}: {error}\n")
        if error.partial_text:
            sys.stderr.write(f"(received before the error: {len(error.partial_text)} characters)\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write(f"\ninterrupted after {time.monotonic() - started:.1f}s\n")
        return 130


# -- knowledge bases -----------------------------------------------------------------------------
def _retrieve_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    retrieve = commands.add_parser(
        "retrieve", help="print the passages of a knowledge base most relevant to a query"
    )
    retrieve.add_argument("rag_id", metavar="RAG_ID", help="the knowledge base's id")
    retrieve.add_argument("query", metavar="QUERY", help="what to look for")
    retrieve.add_argument("--top-k", type=int, help="at most this many passages")
    retrieve.add_argument("--retrieval-type", help="basic, mmr, hyde or time_aware")
    retrieve.add_argument("--score-threshold", type=float, help="leave out scores below (0-1)")
    retrieve.add_argument("--json", action="store_true", help="print the passages as JSON")
    retrieve.add_argument(
        "--rag-url", help="knowledge-base URL (default: LYZR_RAG_URL or Lyzr's rag host)"
    )
    retrieve.add_argument("--timeout", type=float, help="read timeout in seconds")
    retrieve.add_argument(
        "--emulator", action="store_true", help="ask the embedded emulator (try kb-handbook)"
    )


def _retrieve(args: argparse.Namespace) -> int:
    with contextlib.ExitStack() as stack:
        api_key, rag_url = None, args.rag_url
        if args.emulator:
            from ..emulator import Emulator

            emulator = stack.enter_context(Emulator())
            api_key, rag_url = emulator.api_key, emulator.base_url
        elif not os.environ.get(ENV_API_KEY) and sys.stdin.isatty():
            api_key = getpass.getpass("Lyzr API key: ") or None
        client = stack.enter_context(
            LyzrClient(api_key=api_key, rag_base_url=rag_url, timeout=args.timeout)
        )
        chunks = client.retrieve(
            args.rag_id,
            args.query,
            top_k=args.top_k,
            retrieval_type=args.retrieval_type,
            score_threshold=args.score_threshold,
        )
    if args.json:
        fields = ("text", "score", "source", "page", "chunk_index", "id", "metadata")
        shown = [{name: getattr(c, name) for name in fields} for c in chunks]
        sys.stdout.write(json.dumps(shown, ensure_ascii=False, default=str, indent=2) + "\n")
        return 0
    style = _Style(sys.stdout)
    if not chunks:
        sys.stdout.write(style(_DIM, "(no passage found)") + "\n")
    for chunk in chunks:
        where = chunk.source or "-"
        if chunk.page is not None:
            where += f" p.{chunk.page}"
        sys.stdout.write(style(_CYAN, f"{chunk.score:.3f}  {where}") + "\n")
        sys.stdout.write(f"  {chunk.text}\n")
    return 0


def _run_guarded(command: Callable[[], int]) -> int:
    try:
        return command()
    except LyzrError as error:
        sys.stderr.write(f"lyzr-stream: {type(error).__name__}: {error}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
