"""``ghostwatch serve`` for the extension's tests, with the extension's
blueprints (``server.states``, ``server.pairing``) registered when
``server.app.create_app`` does not register them yet.

    python tests/ext_serve.py serve --port PORT --no-open
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import server.app  # noqa: E402
from server import pairing, states  # noqa: E402

_create_app = server.app.create_app


def create_app(*args, **kwargs):
    app = _create_app(*args, **kwargs)
    for blueprint in (states.bp, pairing.bp):
        if blueprint.name not in app.blueprints:
            app.register_blueprint(blueprint)
    return app


server.app.create_app = create_app

if __name__ == "__main__":
    from server.cli import cli

    cli()
