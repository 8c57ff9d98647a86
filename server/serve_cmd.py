"""``ghostwatch serve`` and ``ghostwatch token`` (filled in by the server work)."""


def register(cli):
    pass
