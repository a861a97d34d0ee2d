"""The live view's server and browser for the browser tests: `tinygan serve --port 0` in a folder of its own and
headless Chromium, one of each per test session (per worker under pytest-xdist; the fixtures are conftest's
`live` and `open_page`). Starting them takes seconds and each new preset compiles programs in the server, so
the browser modules share them; each test starts from the state it needs, whatever an earlier one left.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1280, "height": 900}
WAIT_MS = 30_000  # the first play compiles programs (1-3 s); a loaded 2-core machine may take much longer
ADDRESS = re.compile(r"tinygan live view: (http://127\.0\.0\.1:\d+/)")
PAUSED = ("tinygan.lastFrame && !tinygan.lastFrame.status.playing && "
          "document.getElementById('play').textContent === 'Play'")


def missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (Debian's chromium package)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed"
    return None


def skip_unless_required(reason: str, **skip) -> None:
    """Skip where the browser is missing, unless CI said it must run (TINYGAN_REQUIRE_BROWSER): then fail."""
    if os.environ.get("TINYGAN_REQUIRE_BROWSER"):
        pytest.fail(f"TINYGAN_REQUIRE_BROWSER is set but {reason}", pytrace=False)
    pytest.skip(reason, **skip)


# ---------------------------------------------------------------- the server and the browser


@dataclass
class Live:
    url: str  # http://127.0.0.1:PORT/
    folder: Path  # where `tinygan serve` runs: uploads land in its runs/uploads
    browser: object  # Playwright's Browser


def serve(tmp_path_factory):
    """`tinygan serve --port 0` in a folder of its own, and headless Chromium; stopped by SIGINT at the end with a
    page still connected, which must take seconds and exit 0."""
    from playwright.sync_api import sync_playwright

    folder = tmp_path_factory.mktemp("serve")
    log_path = folder / "serve.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "tinygan", "serve", "--port", "0", "--num-steps", "1000000"],
                                   cwd=folder, env=dict(os.environ, PYTHONUNBUFFERED="1"), stdout=log,
                                   stderr=subprocess.STDOUT)
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        live = Live(_address(process, log_path), folder, browser)
        with urllib.request.urlopen(live.url + "api/session", timeout=10) as response:
            assert json.load(response)["num_steps"] == 1_000_000  # serve's --num-steps
        yield live
        watcher = browser.new_page()
        watcher.goto(live.url)
        watcher.wait_for_function("document.body.dataset.connected === 'true'", timeout=WAIT_MS)
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=30)
        seconds = time.monotonic() - started
        watcher.wait_for_function("document.body.dataset.connected === 'false'", timeout=10_000)
        text = log_path.read_text()
        assert code == 0, text
        assert seconds < 8, f"the server took {seconds:.1f} s to stop with a page connected"
        assert text.rstrip().endswith("stopped"), text
        assert "Traceback" not in text, text  # no request ended in an internal error
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        playwright.stop()


def _address(process: subprocess.Popen, log_path: Path, timeout: float = 120) -> str:
    """The page's address, from the line the server prints once it listens."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = ADDRESS.search(log_path.read_text())
        if found:
            return found[1]
        if process.poll() is not None:
            pytest.fail(f"tinygan serve exited with {process.returncode}:\n{log_path.read_text()}")
        time.sleep(0.05)
    pytest.fail(f"tinygan serve printed no address in {timeout} s:\n{log_path.read_text()}")


def pages(live):
    """Opens pages of the live view, each connected with its scene and a frame drawn; at the end, no page threw
    and the session is paused (the next test starts from a still session)."""
    context = live.browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    errors = []

    def opened():
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(error))
        page.goto(live.url)
        wait(page, "document.body.dataset.connected === 'true' && tinygan.scene !== null && tinygan.framesDrawn > 0")
        return page

    yield opened
    context.close()
    post(live.url, "api/control", {"action": "pause"})
    assert not errors, errors


def wait(page, expression: str, arg=None, timeout: int = WAIT_MS) -> None:
    """Wait until `expression` (JavaScript over window.tinygan and the page, given `arg`) is true."""
    page.wait_for_function(f"(arg) => {expression}", arg=arg, timeout=timeout)


def post(url: str, path: str, body: dict) -> dict:
    request = urllib.request.Request(url + path, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)
