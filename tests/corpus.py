"""The page corpus (tests/fixtures/corpus, a copy of the team's shared corpus).

Each page is ``<platform>/<name>.html`` with ``<name>.json`` (its URL, capture
instant and expected reading) and, optionally, ``<name>.responses.json`` (the
same-origin JSON captured with it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(__file__).parent / "fixtures" / "corpus"
SITE_RESPONSES = CORPUS / "lancers" / "_site.responses.json"


@dataclass(frozen=True)
class Page:
    html: Path
    meta: dict
    responses: Path | None

    @property
    def name(self) -> str:
        return f"{self.html.parent.name}/{self.html.stem}"

    @property
    def url(self) -> str:
        return self.meta["url"]

    @property
    def expected(self) -> dict:
        return self.meta["expected"]

    def responses_list(self) -> list[dict]:
        return json.loads(self.responses.read_text(encoding="utf-8")) if self.responses else []

    def args(self) -> list[str]:
        """The arguments of ``ghostwatch parse`` / ``ingest`` for this capture."""
        args = [str(self.html), "--url", self.url, "--captured-at", self.meta["captured_at"]]
        if self.responses:
            args += ["--responses", str(self.responses)]
        return args


def pages() -> list[Page]:
    found = []
    for meta_path in sorted(CORPUS.glob("*/*.json")):
        if meta_path.name.endswith(".responses.json"):
            continue
        responses = meta_path.with_name(f"{meta_path.stem}.responses.json")
        found.append(Page(meta_path.with_suffix(".html"), json.loads(meta_path.read_text(encoding="utf-8")),
                          responses if responses.exists() else None))
    return found


def page(name: str) -> Page:
    return next(p for p in pages() if p.name == name)
