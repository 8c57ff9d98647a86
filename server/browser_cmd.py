"""``ghostwatch install-browser``: the browser the collector drives, set up by one command.

A Chromium already there is used as it is (``--browser-path`` /
``GHOSTWATCH_BROWSER``, Debian's ``chromium``, an installed Google Chrome);
otherwise Playwright's own Chromium is downloaded (``playwright install
chromium``), on Windows, macOS and Linux alike.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
from playwright.sync_api import sync_playwright

from collector.browser import BrowserNotFound, find_browser, find_chrome


def playwright_chromium() -> str | None:
    """Playwright's own Chromium, when it is installed."""
    with sync_playwright() as p:
        path = p.chromium.executable_path
    return path if path and Path(path).is_file() else None


def register(cli):
    @cli.command("install-browser")
    @click.option("--force", is_flag=True,
                  help="ほかの Chromium / Chrome が見つかっても、Playwright の Chromium をダウンロードします。")
    def install_browser(force):
        """収集（login / collect / doctor）に使うブラウザを用意します。

        見つかった Chromium / Chrome をそのまま使い、なければ Playwright の Chromium を
        ダウンロードします（Windows・macOS・Linux）。

        Set up the browser the collector drives."""
        if not force:
            try:
                found = find_browser() or find_chrome() or playwright_chromium()
            except BrowserNotFound as err:
                raise click.ClickException(str(err)) from None
            if found:
                click.echo(f"ブラウザは用意できています: {found}")
                click.echo("次は `ghostwatch login --platform lancers`（または crowdworks）でログインしてください。")
                return
        click.echo("Playwright の Chromium をダウンロードしています（100 MB ほど）…", err=True)
        result = subprocess.run([sys.executable, "-m", "playwright", "install", "chromium"])
        if result.returncode != 0:
            raise click.ClickException(
                "Chromium をダウンロードできませんでした。ネットワークを確かめるか、インストール済みの "
                "Chrome / Chromium を --browser-path（または環境変数 GHOSTWATCH_BROWSER）で指定してください。"
            )
        click.echo("ブラウザを用意しました。次は `ghostwatch login --platform lancers`（または crowdworks）でログインしてください。")
