"""Collecting while ``ghostwatch serve`` runs: on a schedule (off by default), and
at once when the web view's 「いま更新」 asks (``server/collect_views.py``).

    from server import schedule
    stop = schedule.start(db_path, settings)   # settings: the dict of settings.json
    ...
    stop()                                      # on shutdown; ends a running collect

    collector = schedule.Scheduler.from_settings(db_path, settings).start()
    collector.configure(settings)               # a new schedule, applied at once
    collector.run_now(["crowdworks"])           # a Run, or None while one is running
    collector.progress()                        # the current (or latest) run, as JSON

Settings read (all optional):

- ``collect_interval_minutes``: collect every N minutes (at least 5); missing, 0 or
  null: off;
- ``collect_daily_at``: ``"HH:MM"`` (Japan time): once a day at that time instead
  of every N minutes (``collect_interval_minutes`` is then 1440);
- ``collect_enabled``: ``false`` turns the schedule off but keeps its choices (what
  the web view writes when it is switched off);
- ``collect_platforms``: which platforms, default ``["lancers", "crowdworks"]``;
- ``collect_args``: extra ``ghostwatch collect`` arguments (e.g.
  ``["--browser-path", "/usr/bin/chromium"]``); the default ``--delay`` stays polite.

Each run is a separate ``ghostwatch collect --platform P --json`` process, one
platform after the other, so that a browser problem can never take the server
down, and stopping the server stops (SIGTERM: the browser is closed) a collect in
progress.  One run at a time: a scheduled run waits for a run the user started,
and ``run_now`` refuses while any run is going.  On an interval, the first run
starts right away when the server starts, then one every interval after the
start of the latest run; daily, at the next ``HH:MM``.  What each platform's run
gave is kept in ``Scheduler.results`` (platform, exit code, counts, error
message) for the web view; page bodies and cookies are never logged.  Exit code
8 (a human verification page) needs the user: the next runs will likely meet it
too until they pass it in ``ghostwatch login``'s browser.

Every scheduler still alive when the interpreter exits is stopped (``atexit``),
so a scheduler the web view started is stopped with the server as well.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import re
import subprocess
import sys
import threading
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from collector.timeutil import JST, iso, now

log = logging.getLogger("ghostwatch.schedule")

DEFAULT_PLATFORMS = ("lancers", "crowdworks")
MIN_INTERVAL_MINUTES = 5.0
DEFAULT_INTERVAL_MINUTES = 60.0
DAILY_MINUTES = 24 * 60
ROOT = Path(__file__).resolve().parent.parent
HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


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


@dataclass
class PlatformRun:
    """One platform's part of a run: waiting, running (since ``started_at``) or done."""

    platform: str
    state: str = "waiting"
    started_at: str | None = None
    result: RunResult | None = None

    def to_json(self) -> dict:
        return {"platform": self.platform, "state": self.state, "started_at": self.started_at,
                "result": self.result.to_json() if self.result else None}


@dataclass
class Run:
    """A run of the collector over some platforms, one after the other."""

    kind: str  # "manual" (いま更新) or "scheduled"
    platforms: list[PlatformRun]
    args: tuple[str, ...] = ()  # extra ``ghostwatch collect`` arguments
    started_at: str = field(default_factory=lambda: iso(now()))
    finished_at: str | None = None

    @property
    def done(self) -> bool:
        return self.finished_at is not None

    def to_json(self) -> dict:
        return {"kind": self.kind, "started_at": self.started_at, "finished_at": self.finished_at,
                "done": self.done, "platforms": [p.to_json() for p in self.platforms]}


@dataclass(frozen=True)
class Plan:
    """A schedule, as the settings describe it."""

    enabled: bool
    minutes: float  # the interval (DAILY_MINUTES when daily)
    daily_at: str | None  # "HH:MM" in Japan time, or None for an interval
    platforms: tuple[str, ...]
    args: tuple[str, ...]

    @property
    def active(self) -> bool:
        return self.enabled and bool(self.platforms)

    def every_text(self) -> str:
        """「毎日 08:30」, 「3時間ごと」, 「毎時」, 「30分ごと」."""
        if self.daily_at:
            return f"毎日 {self.daily_at}"
        if self.minutes == 60:
            return "毎時"
        if self.minutes % 60 == 0:
            return f"{int(self.minutes // 60)}時間ごと"
        return f"{self.minutes:g}分ごと"


def plan_from(settings: dict | None) -> Plan:
    """The schedule the settings ask for (off when they do not)."""
    settings = settings or {}
    raw = settings.get("collect_interval_minutes")
    try:
        minutes = float(raw) if raw else 0.0
    except (TypeError, ValueError):
        log.warning("collect_interval_minutes is not a number: schedule off")
        minutes = 0.0
    daily = settings.get("collect_daily_at")
    daily = daily if isinstance(daily, str) and HHMM.match(daily) else None
    enabled = (minutes > 0 or daily is not None) and settings.get("collect_enabled", True) is not False
    if daily:
        minutes = DAILY_MINUTES
    elif minutes <= 0:
        minutes = DEFAULT_INTERVAL_MINUTES
    minutes = max(minutes, MIN_INTERVAL_MINUTES)  # the real sites deserve at least this much
    platforms = settings.get("collect_platforms")
    if not isinstance(platforms, list):
        platforms = list(DEFAULT_PLATFORMS)
    platforms = tuple(p for p in DEFAULT_PLATFORMS if p in platforms)
    args = settings.get("collect_args") or ()
    args = tuple(str(a) for a in args) if isinstance(args, list) else ()
    return Plan(enabled, minutes, daily, platforms, args)


def next_daily(hhmm: str, after: datetime) -> datetime:
    """The first ``HH:MM`` (Japan time) strictly after ``after``."""
    hour, minute = (int(x) for x in hhmm.split(":"))
    local = after.astimezone(JST)
    at = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return at if at > local else at + timedelta(days=1)


_live: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for scheduler in list(_live):
        scheduler.stop(10)


class Scheduler:
    """The background collector; calling it stops it."""

    def __init__(self, db_path, platforms, interval_seconds: float | None, extra_args=(), keep: int = 20,
                 daily_at: str | None = None, enabled: bool = True, run_at_start: bool = True):
        self.db_path = str(db_path)
        self.keep = keep
        self.results: list[RunResult] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._proc: subprocess.Popen | None = None
        self._request: Run | None = None  # a run asked for, not started yet
        self._current: Run | None = None
        self._last: Run | None = None
        self._last_started: datetime | None = None
        self._plan = Plan(enabled and bool(interval_seconds or daily_at), (interval_seconds or 3600) / 60,
                          daily_at, tuple(platforms), tuple(extra_args))
        self._next: datetime | None = None
        self._run_at_start = run_at_start
        self._thread = threading.Thread(target=self._loop, name="ghostwatch-collect", daemon=True)

    @classmethod
    def from_settings(cls, db_path, settings: dict | None, run_at_start: bool = True) -> Scheduler:
        plan = plan_from(settings)
        return cls(db_path, plan.platforms, plan.minutes * 60, plan.args, daily_at=plan.daily_at,
                   enabled=plan.enabled, run_at_start=run_at_start)

    # What the web view reads (server.views.collecting_status, server.collect_views).

    @property
    def plan(self) -> Plan:
        return self._plan

    @property
    def platforms(self) -> list[str]:
        return list(self._plan.platforms)

    @property
    def interval(self) -> float:
        return self._plan.minutes * 60

    @property
    def extra_args(self) -> list[str]:
        return list(self._plan.args)

    @property
    def every_text(self) -> str:
        return self._plan.every_text()

    @property
    def running(self) -> bool:
        """The schedule is on (a run may or may not be going: see ``busy``)."""
        return self._thread.is_alive() and not self._stop.is_set() and self._plan.active

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._current is not None or self._request is not None

    @property
    def next_run_at(self) -> datetime | None:
        with self._cond:
            return self._next if self._plan.active else None

    def progress(self) -> dict | None:
        """The run in progress (or asked for), else the latest one, as JSON; None before any."""
        with self._cond:
            run = self._current or self._request or self._last
            return run.to_json() if run else None

    # Control.

    def start(self) -> Scheduler:
        with self._cond:
            self._schedule_next(initial=True)
        _live.add(self)
        self._thread.start()
        if self._plan.active:
            log.info("collecting %s %s", ", ".join(self._plan.platforms), self._plan.every_text())
        return self

    def configure(self, settings: dict) -> Plan:
        """Apply the schedule of ``settings`` at once (a run in progress goes on)."""
        plan = plan_from(settings)
        with self._cond:
            self._plan = plan
            self._schedule_next()
            self._cond.notify_all()
        log.info("schedule: %s", plan.every_text() if plan.active else "off")
        return plan

    def run_now(self, platforms, extra_args=None) -> Run | None:
        """Start a run of ``platforms`` in the background; None while a run is going."""
        with self._cond:
            if self._stop.is_set() or self._current is not None or self._request is not None:
                return None
            run = Run("manual", [PlatformRun(p) for p in platforms],
                      tuple(self._plan.args if extra_args is None else extra_args))
            self._request = run
            self._cond.notify_all()
            return run

    def __call__(self, timeout: float = 30.0) -> None:
        self.stop(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the schedule; a collect in progress is ended (its browser closed)."""
        with self._cond:
            self._stop.set()
            self._request = None
            proc = self._proc
            self._cond.notify_all()
        if proc is not None and proc.poll() is None:
            proc.terminate()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(5)
        _live.discard(self)

    # The worker.

    def _schedule_next(self, initial: bool = False) -> None:
        """Set ``_next`` from the plan (the caller holds the lock)."""
        plan = self._plan
        if not plan.active:
            self._next = None
        elif plan.daily_at:
            self._next = next_daily(plan.daily_at, now())
        elif initial and self._run_at_start:
            self._next = now()
        else:
            base = self._last_started or now()
            self._next = base + timedelta(minutes=plan.minutes)

    def _take(self) -> Run | None:
        """Wait for the next run (asked for, or due); None when stopping."""
        with self._cond:
            while not self._stop.is_set():
                if self._request is not None:
                    run, self._request = self._request, None
                    self._current = run
                    return run
                if self._next is not None and self._plan.active:
                    wait = (self._next - now()).total_seconds()
                    if wait <= 0:
                        run = Run("scheduled", [PlatformRun(p) for p in self._plan.platforms], self._plan.args)
                        self._current = run
                        return run
                    self._cond.wait(min(wait, 60))  # a minute at most: a clock change is noticed
                else:
                    self._cond.wait()
            return None

    def _loop(self) -> None:
        while True:
            run = self._take()
            if run is None:
                return
            self._last_started = now()
            for part in run.platforms:
                if self._stop.is_set():
                    break
                with self._cond:
                    part.state = "running"
                    part.started_at = iso(now())
                result = self._run_one(part.platform, run.args)
                with self._cond:
                    part.result = result
                    part.state = "done" if result is not None else "waiting"
            with self._cond:
                run.finished_at = iso(now())
                self._last, self._current = run, None
                if self._plan.active and not self._plan.daily_at:
                    self._next = self._last_started + timedelta(minutes=self._plan.minutes)
                elif self._plan.daily_at:
                    self._next = next_daily(self._plan.daily_at, now())

    def _command(self, platform: str, extra_args=None) -> list[str]:
        args = self._plan.args if extra_args is None else extra_args
        return [sys.executable, "-m", "server.cli", "collect", "--platform", platform,
                "--db", self.db_path, "--json", *args]

    def _run_one(self, platform: str, extra_args=None) -> RunResult | None:
        started = iso(now())
        try:
            with self._cond:
                if self._stop.is_set():
                    return None
                self._proc = subprocess.Popen(
                    self._command(platform, extra_args),
                    cwd=ROOT,
                    env=os.environ.copy(),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                proc = self._proc
            out, err = proc.communicate()
            code = proc.returncode
        except OSError as exc:
            out, err, code = "", str(exc), -1
        finally:
            with self._cond:
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
        with self._cond:
            self.results.append(result)
            del self.results[: -self.keep]
        return result


class _Off:
    """The stop function of a schedule that is off (same attributes as a Scheduler)."""

    results: list = []
    running = False
    busy = False
    platforms: list = []
    interval = None
    every_text = ""

    def __call__(self, timeout: float = 30.0) -> None:
        return None

    stop = __call__


_noop = _Off()


def start(db_path, settings: dict | None):
    """Start collecting on a schedule if the settings ask for it; returns a stop function.

    When ``collect_interval_minutes`` (and ``collect_daily_at``) is missing, 0 or
    null, or ``collect_enabled`` is false, the schedule is off and the returned
    function does nothing.
    """
    plan = plan_from(settings)
    if not plan.active:
        return _noop
    return Scheduler.from_settings(db_path, settings).start()
