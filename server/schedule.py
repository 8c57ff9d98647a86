"""Collecting on a schedule while ``ghostwatch serve`` runs (off by default).

    from server import schedule
    stop = schedule.start(db_path, settings)   # settings: the dict of settings.json
    ...
    stop()                                      # on shutdown; waits for a running collect

Settings read (all optional):

- ``collect_interval_minutes``: collect every N minutes; missing, 0 or null: off;
- ``collect_platforms``: which platforms, default ``["lancers", "crowdworks"]``;
- ``collect_args``: extra ``ghostwatch collect`` arguments (e.g.
  ``["--browser-path", "/usr/bin/chromium"]``); the default ``--delay`` stays polite.

Each run is a separate ``ghostwatch collect --platform P --json`` process, so
that a browser problem can never take the server down, and stopping the
server stops (SIGTERM: the browser is closed) a collect in progress.  The
first run starts right away, then one every interval.  What each run gave is
kept in ``Scheduler.results`` (platform, exit code, counts, error message) for
the web view; page bodies and cookies are never logged.  Exit code 8 (a human
verification page) needs the user: the next runs will likely meet it too until
they pass it in ``ghostwatch login``'s browser.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from collector.timeutil import iso, now

log = logging.getLogger("ghostwatch.schedule")

DEFAULT_PLATFORMS = ("lancers", "crowdworks")
MIN_INTERVAL_MINUTES = 5.0
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class RunResult:
    platform: str
    started_at: str
    finished_at: str
    exit_code: int
    listed: int = 0
    read: int = 0
    unreadable: int = 0
    failed: int = 0
    skipped: int = 0  # Lancers jobs whose message board was not found
    needing_action: int = 0
    error: str | None = None

    def to_json(self) -> dict:
        return dict(self.__dict__)


class Scheduler:
    """The background collector; calling it stops it."""

    def __init__(self, db_path, platforms, interval_seconds: float, extra_args=(), keep: int = 20):
        self.db_path = str(db_path)
        self.platforms = list(platforms)
        self.interval = interval_seconds
        self.extra_args = list(extra_args)
        self.keep = keep
        self.results: list[RunResult] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._thread = threading.Thread(target=self._loop, name="ghostwatch-collect", daemon=True)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> Scheduler:
        self._thread.start()
        log.info("collecting %s every %g minutes", ", ".join(self.platforms), self.interval / 60)
        return self

    def __call__(self, timeout: float = 30.0) -> None:
        self.stop(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the schedule; a collect in progress is ended (its browser closed)."""
        self._stop.set()
        with self._lock:
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
        self._thread.join(timeout)
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            for platform in self.platforms:
                if self._stop.is_set():
                    return
                self._run_one(platform)
            self._stop.wait(self.interval)

    def _command(self, platform: str) -> list[str]:
        return [sys.executable, "-m", "server.cli", "collect", "--platform", platform,
                "--db", self.db_path, "--json", *self.extra_args]

    def _run_one(self, platform: str) -> None:
        started = iso(now())
        try:
            with self._lock:
                if self._stop.is_set():
                    return
                self._proc = subprocess.Popen(
                    self._command(platform),
                    cwd=ROOT,
                    env=os.environ.copy(),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            out, err = self._proc.communicate()
            code = self._proc.returncode
        except OSError as exc:
            out, err, code = "", str(exc), -1
        finally:
            with self._lock:
                self._proc = None
        result = RunResult(platform, started, iso(now()), code)
        try:
            report = json.loads(out)["platforms"][0]
        except (ValueError, KeyError, IndexError, TypeError):
            result.error = (err or "").strip().splitlines()[-1][:300] if (err or "").strip() else None
        else:
            result.listed = report["listed"]
            result.read = report["read"]
            result.unreadable = len(report["unreadable"])
            result.failed = len(report["failed"])
            result.skipped = len(report.get("skipped") or [])
            result.needing_action = report["needing_action"]
            result.error = report["error"]
        log.info("collect %s: exit %s, %s read, %s unreadable, %s failed", platform, code,
                 result.read, result.unreadable, result.failed)
        self.results.append(result)
        del self.results[: -self.keep]


class _Off:
    """The stop function of a schedule that is off (same attributes as a Scheduler)."""

    results: list = []
    running = False
    platforms: list = []
    interval = None

    def __call__(self, timeout: float = 30.0) -> None:
        return None

    stop = __call__


_noop = _Off()


def start(db_path, settings: dict | None):
    """Start collecting on a schedule if the settings ask for it; returns a stop function.

    When ``collect_interval_minutes`` is missing, 0 or null the schedule is off
    and the returned function does nothing.
    """
    settings = settings or {}
    minutes = settings.get("collect_interval_minutes")
    try:
        minutes = float(minutes) if minutes else 0.0
    except (TypeError, ValueError):
        log.warning("collect_interval_minutes is not a number: schedule off")
        minutes = 0.0
    if minutes <= 0:
        return _noop
    platforms = settings.get("collect_platforms") or list(DEFAULT_PLATFORMS)
    platforms = [p for p in platforms if p in DEFAULT_PLATFORMS]
    if not platforms:
        return _noop
    minutes = max(minutes, MIN_INTERVAL_MINUTES)  # the real sites deserve at least this much
    return Scheduler(db_path, platforms, minutes * 60, settings.get("collect_args") or ()).start()
