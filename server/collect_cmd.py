"""``ghostwatch login`` and ``ghostwatch collect`` (filled in by the collector work)."""


def register(cli):
    pass
