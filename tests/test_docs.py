"""The docs say what the code does: the README's command table lists every
command of the CLI, and docs/server.md every route of the app."""

import re

import click
from pathlib import Path

from server.app import create_app
from server.cli import cli

ROOT = Path(__file__).resolve().parent.parent


def table_rows(markdown: str) -> list[str]:
    """The first cell of every row of every table."""
    return [line.split("|")[1].strip() for line in markdown.splitlines()
            if line.startswith("|") and not set(line) <= set("|- :")]


def test_the_readme_command_table_lists_every_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## The command line"):]
    section = section[: section.index("\n## ", 3)]
    documented = {name for cell in table_rows(section) for name in re.findall(r"ghostwatch ([a-z-]+)", cell)}
    with click.Context(cli) as ctx:
        commands = set(cli.list_commands(ctx))
    assert commands == {name for name in commands if cli.get_command(ctx, name) is not None}
    assert documented == commands


def _normalise(route: str) -> str:
    return re.sub(r"<[^>]+>", "<>", route)


def test_docs_server_lists_every_route_of_the_app(tmp_path, monkeypatch):
    monkeypatch.setenv("GHOSTWATCH_HOME", str(tmp_path / "home"))
    doc = (ROOT / "docs" / "server.md").read_text(encoding="utf-8")
    documented = set()
    for cell in table_rows(doc):
        m = re.match(r"`(?:(GET|POST|DELETE|PUT|PATCH) )?(/(?:<[^>]*>|[^`?\s<])*)", cell)
        if m:
            documented.add((m.group(1) or "GET", _normalise(m.group(2))))
    app = create_app(db_path=tmp_path / "routes.db", token="t" * 32)
    routes = {
        (method, _normalise(rule.rule))
        for rule in app.url_map.iter_rules() if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes == documented
