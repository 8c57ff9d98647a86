"""The store of the current request: one SQLite connection per request,
closed when the request ends (as in Flask's tutorial app)."""

from __future__ import annotations

from flask import current_app, g

from server.store import Store


def get_store() -> Store:
    """The store for this request (one SQLite connection per request)."""
    if "store" not in g:
        g.store = Store(current_app.config["GHOSTWATCH_DB"])
    return g.store


def close_store(exc=None) -> None:
    store = g.pop("store", None)
    if store is not None:
        store.close()


def init_app(app) -> None:
    """Create the database (and its tables) once, before the first request,
    and close each request's connection when it ends."""
    Store(app.config["GHOSTWATCH_DB"]).close()
    app.teardown_appcontext(close_store)
