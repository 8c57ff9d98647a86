"""ghostwatch's server side: the store, the escalation rules, the Flask app and the CLI."""

__version__ = "0.1.0"
