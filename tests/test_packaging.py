"""ghostwatch as a user installs it (``pipx install`` / ``uv tool install`` of a
clone or a wheel): the wheel builds, installs into a fresh virtualenv with its
runtime dependencies only, and runs from there — the CLI, the server with its
web view, and the collector's capture routine."""

from __future__ import annotations

import http.cookiejar
import os
import subprocess
import sys
import time
import urllib.request
import venv
from pathlib import Path

import pytest

from conftest import free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The bin directory of a fresh virtualenv with the built wheel installed."""
    tmp = tmp_path_factory.mktemp("packaging")
    dist = tmp / "dist"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-qq", "-w", str(dist), str(ROOT)],
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr
    [wheel] = dist.glob("ghostwatch-*.whl")
    env_dir = tmp / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    install = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-qq", "--disable-pip-version-check",
                              "-c", str(ROOT / "constraints.txt"), str(wheel)],
                             capture_output=True, text=True, timeout=900)
    assert install.returncode == 0, install.stderr
    return bin_dir


def run(bin_dir: Path, *args: str, cwd: Path, **env) -> subprocess.CompletedProcess:
    # Run away from the checkout, so that nothing is imported from the source tree.
    return subprocess.run([str(bin_dir / "ghostwatch"), *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd, env={**os.environ, **env})


def test_the_installed_command_runs_with_runtime_dependencies_only(installed, tmp_path):
    help_ = run(installed, "--help", cwd=tmp_path)
    assert help_.returncode == 0, help_.stderr
    assert "使い方:" in help_.stdout and "collect" in help_.stdout
    python = str(installed / "python")
    tests_only = subprocess.run([python, "-c", "import pytest"], capture_output=True, cwd=tmp_path)
    assert tests_only.returncode != 0  # the test tools are not a runtime dependency
    where = subprocess.run([python, "-c", "import server, collector.fetch as f; print(server.__file__); "
                            "print(len(f.capture_script()))"], capture_output=True, text=True, cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    module_path, script_length = where.stdout.split()
    assert str(ROOT) not in module_path and int(script_length) > 1000  # capture.js ships in the wheel


def test_the_installed_server_serves_its_web_view(installed, tmp_path):
    home = tmp_path / "home"
    port = free_port()
    log = tmp_path / "serve.log"
    proc = subprocess.Popen([str(installed / "ghostwatch"), "serve", "--port", str(port), "--no-open"],
                            cwd=tmp_path, env={**os.environ, "GHOSTWATCH_HOME": str(home)},
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as resp:
                    assert resp.status == 200
                    break
            except OSError:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        token = (home / "token").read_text().strip()
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        with browser.open(f"http://127.0.0.1:{port}/?token={token}", timeout=10) as resp:
            page = resp.read().decode("utf-8")
        assert "ghostwatch" in page and "<html" in page  # the templates ship in the wheel
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/style.css", timeout=10) as resp:
            assert resp.status == 200
    finally:
        proc.terminate()
        proc.wait(timeout=20)
