"""A headless Chromium for the playground's browser test: Debian's ``chromium`` and
``chromium-driver`` driven by Selenium, offline, with a fresh profile each time.

``.ci/run`` installs the two packages when they are missing (as root, on Debian); elsewhere the
test is skipped with the reason :func:`browser_unavailable` gives.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
T = TypeVar("T")

_ARGUMENTS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1360,900",
)


def browser_unavailable() -> str | None:
    """Why no browser can be had here, or None when one can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (it is in the dev extra)"
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            return f"{path} is missing (apt-get install {package}; .ci/run does it as root)"
    return None


@contextmanager
def headless_chromium() -> Iterator[Any]:
    """A Selenium ``webdriver.Chrome`` on Debian's Chromium, quit (and its profile removed)
    afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="lyzr-playground-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (*_ARGUMENTS, f"--user-data-dir={profile}"):
        options.add_argument(argument)
    # The driver's path is given, so Selenium Manager (which would download one) is not run.
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(condition: Callable[[], T | None], timeout: float = 5.0, what: str = "condition") -> T:
    """Poll ``condition`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


# -- the README's screenshot ---------------------------------------------------------------------
SCREENSHOT_AGENT = "markdown-demo"
SCREENSHOT_QUESTIONS = ("How do I stream an answer in Python?", "And through LangChain?")
#: What ``markdown-demo`` answers: a code block and a list, then inline code and a link.
MARKDOWN_ANSWERS = (
    "Open a client and iterate over `client.stream(...)`:\n\n"
    "```python\n"
    "from lyzr_stream import AgentRequest, LyzrClient, TextDelta\n\n"
    "with LyzrClient() as client:\n"
    '    request = AgentRequest(agent_id="demo", message="hi")\n'
    "    for event in client.stream(request):\n"
    "        if isinstance(event, TextDelta):\n"
    '            print(event.text, end="")\n'
    "```\n\n"
    "- **Text** arrives as the agent writes it\n"
    "- **Reasoning** and tool calls come as their own events\n"
    "- The session id keeps the agent's memory",
    "Use `ChatLyzr`: `model.stream(...)` yields chunks as they arrive. "
    "See the [README](https://github.com/) for *async* and LlamaIndex.",
)


def _register_screenshot_agent() -> None:
    from lyzr_stream.emulator.agents import AgentCall, Answer, agent, words

    @agent(SCREENSHOT_AGENT)
    def _markdown_demo(call: AgentCall) -> Answer:
        follow_up = "LangChain" in call.message
        text = MARKDOWN_ANSWERS[1 if follow_up else 0]
        thinking = () if follow_up else ("<think>", "Show the ", "shortest example.</think>")
        return Answer(
            thinking + words(text),
            delay=0.005,
            activity=(
                ("call", "search_docs", {"query": call.message}),
                ("result", "search_docs", {"hits": 2, "top": "Streaming"}),
            ),
        )


_register_screenshot_agent()


def finished_turns(driver: Any) -> int:
    """How many answers in the page's thread have ended (their copy button shows)."""
    script = "return document.querySelectorAll('#thread .turn .copy:not([hidden])').length"
    return int(driver.execute_script(script))


def wait_for_turns(driver: Any, count: int, timeout: float = 10.0) -> None:
    """Wait until ``count`` answers of the thread have ended."""
    wait_for(lambda: finished_turns(driver) >= count, timeout, f"{count} finished answers")


def capture_screenshot(driver: Any, url: str) -> bytes:
    """The playground at ``url`` (served on the chat-messages dialect, so tools show) with a
    two-turn thread from ``markdown-demo``: a code block, a list, inline code and a link. PNG."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.set_window_size(1280, 1000)
    driver.get(url)
    wait_for(lambda: driver.execute_script("return document.body.dataset.status") == "ready", 10)
    agent = driver.find_element(By.ID, "agent-id")
    agent.clear()
    agent.send_keys(SCREENSHOT_AGENT)
    question = driver.find_element(By.ID, "question")
    for turn, text in enumerate(SCREENSHOT_QUESTIONS, start=1):
        question.send_keys(text, Keys.ENTER)
        wait_for_turns(driver, turn)
    driver.execute_script("document.activeElement.blur(); window.scrollTo(0, 0)")
    png: bytes = driver.get_screenshot_as_png()
    return png


def main() -> None:
    """``python -m tests.helpers.playground_browser``: regenerate docs/playground.png."""
    from pathlib import Path

    from pydantic import SecretStr

    from lyzr_stream.emulator import Emulator
    from lyzr_stream.playground import ModelSettings, PlaygroundConfig, PlaygroundServer, create_app

    reason = browser_unavailable()
    if reason is not None:
        raise SystemExit(f"no browser: {reason}")
    target = Path(__file__).resolve().parents[2] / "docs" / "playground.png"
    with Emulator() as em:
        settings = ModelSettings(
            framework="langchain",
            dialect="chat-messages",
            api_key=SecretStr(em.api_key),
            base_url=em.base_url,
        )
        config = PlaygroundConfig(agent_id=SCREENSHOT_AGENT, models=settings, emulator=True)
        with PlaygroundServer(create_app(config)) as server, headless_chromium() as driver:
            png = capture_screenshot(driver, server.url)
    target.write_bytes(png)
    print(f"wrote {target} ({len(png)} bytes)")


if __name__ == "__main__":
    main()
