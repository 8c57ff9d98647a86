"""Fixtures shared by the whole suite.

- ``corpus``: every saved page with its expected reading (``tests/fixtures/corpus``).
- ``ghostwatch``: run the real CLI in a fresh data directory.
- ``live_server``: the real ``ghostwatch serve`` on 127.0.0.1, over HTTP.
- ``standin``: the HTTPS stand-in of both platforms (see ``tests/standin.py``).
- ``browser_type_launch_args``: pytest-playwright uses the system Chromium.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from standin import RunningStandIn, corpus_pages  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def chromium_path() -> str | None:
    """The Chromium tests drive: GHOSTWATCH_BROWSER, else Debian's binary."""
    from collector.browser import find_browser

    return find_browser()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    path = chromium_path()
    args = dict(browser_type_launch_args)
    if path:
        args["executable_path"] = path
    return args


# pytest-playwright keeps one Playwright for the whole session; while it runs,
# code under test that starts its own (the collector, the capture tests) cannot
# in the same thread ("Sync API inside the asyncio loop").  One per module
# instead: a module's web-view tests share a browser, and the next module starts
# with none running.
@pytest.fixture(scope="module")
def playwright():
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    yield pw
    pw.stop()


@pytest.fixture(scope="module")
def browser_type(playwright, browser_name):
    return getattr(playwright, browser_name)


@pytest.fixture(scope="module")
def launch_browser(browser_type_launch_args, browser_type):
    def launch(**kwargs):
        return browser_type.launch(**{**browser_type_launch_args, **kwargs})

    return launch


@pytest.fixture(scope="module")
def browser_context_args(playwright, device, base_url):
    args = dict(playwright.devices[device]) if device else {}
    if base_url:
        args["base_url"] = base_url
    return args


@pytest.fixture(scope="module")
def browser(launch_browser):
    browser = launch_browser()
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def corpus():
    return corpus_pages()


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh data directory, used by every command the test runs."""
    path = tmp_path / "home"
    monkeypatch.setenv("GHOSTWATCH_HOME", str(path))
    return path


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)


@pytest.fixture
def ghostwatch(home):
    """Run ``ghostwatch ARGS`` as a user would, in a fresh data directory."""

    def run(*args: str, input: str | None = None) -> Run:
        proc = subprocess.run(
            [sys.executable, "-m", "server.cli", *args],
            capture_output=True,
            text=True,
            input=input,
            cwd=ROOT,
            env={**os.environ, "GHOSTWATCH_HOME": str(home)},
            timeout=120,
        )
        return Run(proc.returncode, proc.stdout, proc.stderr)

    return run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    port: int
    token: str
    home: Path
    process: subprocess.Popen

    def request(self, method, path, body=None, headers=None, token=True):
        """An HTTP request to the server: (status, headers, body bytes)."""
        data = None
        hdrs = dict(headers or {})
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
            hdrs.setdefault("Content-Type", "application/json")
        if token:
            hdrs.setdefault("Authorization", f"Bearer {self.token}")
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def json(self, method, path, body=None, **kw):
        status, _, raw = self.request(method, path, body, **kw)
        return status, json.loads(raw) if raw else None


def start_server(home: Path, port: int | None = None, serve_args: tuple | list = (),
                 extra_env: dict | None = None, timeout: float = 30) -> LiveServer:
    """``ghostwatch serve --port PORT --no-open [serve_args]`` with ``home`` as
    its data directory; waits for /api/health.  Pass ``port`` to start again on
    the port of a stopped server."""
    home.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    env = {**os.environ, "GHOSTWATCH_HOME": str(home), **(extra_env or {})}
    log_path = home.parent / f"server-{port}.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve", "--port", str(port), "--no-open", *serve_args],
        cwd=ROOT,
        env=env,
        stdout=open(log_path, "ab"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"ghostwatch serve exited: {log_path.read_text()}")
        try:
            with urllib.request.urlopen(url + "/api/health", timeout=2):
                break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"ghostwatch serve did not answer /api/health in {timeout} s") from None
            time.sleep(0.1)
    token = (home / "token").read_text().strip()
    return LiveServer(url=url, port=port, token=token, home=home, process=proc)


def stop_server(server: LiveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture
def live_server(home):
    home.mkdir(parents=True, exist_ok=True)
    server = start_server(home)
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def standin():
    with RunningStandIn() as running:
        yield running


@pytest.fixture
def site(standin):
    """The session's stand-in, restored after the test (it is shared)."""
    with standin.restored():
        yield standin
