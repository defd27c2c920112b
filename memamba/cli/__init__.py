"""The ``memamba`` command line: one sub-command per pipeline stage.

``main`` (the console script) and the error boundary live in :mod:`memamba.cli.main`; each stage's commands, their
parsers beside their handlers, in its own module. Heavy libraries are imported inside each handler, so that
``--help`` and the light stages start fast.
"""

from memamba.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
