"""Command-line interface: ``cxr-explain <subcommand>``.

Each subcommand is a module exposing ``COMMAND: Subcommand``; ``engine.cli.main.REGISTRY`` is
the explicit registry (modules imported only when their command runs). Exit codes: 0 success,
2 bad input or usage (one ``error: ...`` line on stderr, nothing on stdout), 1 unexpected
internal failure.
"""
