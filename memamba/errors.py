"""The error type every stage raises for bad input: its message names the file, the problem and the fix."""

import os
from pathlib import Path


class MemambaError(Exception):
    """Input that cannot be used, with a message saying how to fix it."""


class UnknownNameError(MemambaError, KeyError):
    """A name that is not in a registry (encoder, model); the message lists the known names."""

    def __str__(self) -> str:
        return str(self.args[0])


def require_file(path: str | os.PathLike, what: str, fix: str) -> Path:
    """``path`` as a Path if it is an existing file, else a MemambaError naming it, ``what`` it is and the ``fix``."""
    path = Path(path)
    if not path.is_file():
        raise MemambaError(f"{path}: {what} not found. Fix: {fix}.")
    return path
