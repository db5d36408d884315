"""``lyzr-stream``'s options (issue #28, item 5): one spelling per meaning, only the options a
command uses, stdin questions without their newline, a bad ``--file`` reported before the first
question, and ``history`` on an unknown session. ``main()`` runs in this process against the
emulator (``LYZR_API_KEY`` and ``LYZR_BASE_URL`` pointed at it)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from lyzr_stream import AgentRequest, LyzrClient
from lyzr_stream._apps.cli import _parser, main
from lyzr_stream.emulator import Emulator


@pytest.fixture
def env(lyzr_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    for name in ("LYZR_AGENT_ID", "LYZR_USER_ID", "LYZR_EVENTS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LYZR_API_KEY", lyzr_emulator.api_key)
    monkeypatch.setenv("LYZR_BASE_URL", lyzr_emulator.base_url)
    monkeypatch.setenv("NO_COLOR", "1")
    return lyzr_emulator


def _usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    return capsys.readouterr().err


# -- one flag name per meaning -----------------------------------------------------------------
def test_events_is_the_one_spelling_and_agent_events_a_hidden_alias(
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = _parser()
    for command in ("chat", "playground"):
        assert parser.parse_args([command, "--events"]).events is True
        assert parser.parse_args([command]).events is False
    capsys.readouterr()
    # The old playground spelling still works, says it is deprecated, and is not in the help.
    assert parser.parse_args(["playground", "--agent-events"]).events is True
    assert "--agent-events is deprecated; use --events" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["playground", "--help"])
    help_text = capsys.readouterr().out
    assert "--events" in help_text and "--agent-events " not in help_text


def test_history_names_its_session_with_session_id(
    env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    with LyzrClient(api_key=env.api_key, base_url=env.base_url) as client:
        client.chat(AgentRequest(agent_id="memory", message="my name is Ada", session_id="h-1"))
    assert main(["history", "--session-id", "h-1"]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0] == "you> my name is Ada" and captured.err == ""
    # The old positional still works, deprecated; two different sessions are refused.
    assert main(["history", "h-1"]) == 0
    captured = capsys.readouterr()
    assert "you> my name is Ada" in captured.out
    assert "history SESSION_ID is deprecated; use --session-id" in captured.err
    err = _usage_error(["history", "h-1", "--session-id", "h-2"], capsys)
    assert "two sessions named" in err
    assert "history needs --session-id" in _usage_error(["history"], capsys)
    with pytest.raises(SystemExit):
        main(["history", "--help"])
    help_text = capsys.readouterr().out
    assert "--session-id SESSION_ID" in help_text and "positional arguments" not in help_text


def test_history_of_an_unknown_session_says_so_and_exits_1(
    env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["history", "--session-id", "no-such-session"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no session no-such-session" in captured.err


# -- options that mean nothing are refused ---------------------------------------------------
@pytest.mark.parametrize(
    "argv",
    [
        ["sessions", "--agent-id", "memory", "--var", "a=b"],
        ["sessions", "--agent-id", "memory", "--session-id", "s"],
        ["sessions", "--agent-id", "memory", "--user-id", "u"],
        ["history", "--session-id", "s", "--var", "a=b"],
        ["history", "--session-id", "s", "--user-id", "u"],
        ["stop", "s", "--var", "a=b"],
        ["stop", "s", "--session-id", "t"],
    ],
)
def test_options_a_command_does_not_use_are_refused(
    argv: list[str], env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _usage_error(argv, capsys)
    assert "unrecognized arguments: " + argv[-2] in err
    assert env.requests == []  # refused before anything was sent


def test_sessions_still_lists(env: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    with LyzrClient(api_key=env.api_key, base_url=env.base_url) as client:
        client.chat(AgentRequest(agent_id="memory", message="hi", session_id="listed-1"))
    assert main(["sessions", "--agent-id", "memory"]) == 0
    assert capsys.readouterr().out.startswith("listed-1  ")


# -- ask reads stdin without its trailing newline --------------------------------------------
@pytest.mark.parametrize("stdin", ["hello there\n", "hello there\r\n", "hello there"])
def test_a_question_from_stdin_loses_its_trailing_newline(
    stdin: str, env: Emulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert main(["ask", "--agent-id", "echo", "-"]) == 0
    assert capsys.readouterr().out == "You said: hello there\n"
    assert env.requests[-1].json["message"] == "hello there"


def test_inner_newlines_of_a_stdin_question_are_kept(
    env: Emulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("line one\n\nline two\n"))
    assert main(["ask", "--agent-id", "echo"]) == 0
    assert env.requests[-1].json["message"] == "line one\n\nline two"


# -- chat --file: a bad file is reported before the first question ---------------------------
@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("missing.pdf", None, "missing.pdf"),
        ("notes.txt", b"x", "cannot upload 'notes.txt'"),
        ("empty.pdf", b"", "empty.pdf"),
    ],
)
def test_a_bad_file_is_reported_before_the_first_question(
    name: str,
    content: bytes | None,
    words: str,
    env: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    asked: list[str] = []

    def ask_once(prompt: str = "") -> str:
        asked.append(prompt)
        if len(asked) > 1:
            raise EOFError
        return "hi"

    monkeypatch.setattr("builtins.input", ask_once)
    assert main(["chat", "--agent-id", "assets", "--file", str(path)]) == 1
    assert asked == [], "the first question was asked before the file was checked"
    err = capsys.readouterr().err
    assert "InvalidRequestError" in err and words in err
    assert not [r for r in env.requests if r.path.endswith("/stream/")]  # nothing was asked


def test_a_good_file_is_uploaded_at_once_and_goes_with_the_first_message(
    env: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    report = tmp_path / "report.pdf"
    report.write_bytes(b"%PDF-1.4\n%cli\ntrailer\n<<>>\n%%EOF\n")
    lines = iter(["what is this?", "and now?"])

    def answer(prompt: str = "") -> str:
        print(prompt, end="")
        try:
            return next(lines)
        except StopIteration:
            raise EOFError from None

    monkeypatch.setattr("builtins.input", answer)
    assert main(["chat", "--agent-id", "assets", "--file", str(report)]) == 0
    out = capsys.readouterr().out
    assert out.index("[attached report.pdf]") < out.index("you> ")
    assert "I received 1 file(s): report.pdf (application/pdf" in out
    assert "No files. You said: and now?" in out  # only the first message carries it
