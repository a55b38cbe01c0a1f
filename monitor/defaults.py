"""Defaults the configuration shares with the command line, importable without pydantic (the CLI
shows them in ``--help`` before it loads anything heavy)."""

#: Port of the HTTP endpoints (``/metrics``, ``/healthz``, ``/readyz``, ``/status``).
DEFAULT_HTTP_PORT = 8000
