"""The error type every stage raises for bad input: its message names the file, the problem and the fix."""

import os
import re
import stat
from pathlib import Path


class MemambaError(Exception):
    """Input that cannot be used, with a message saying how to fix it."""


class UnknownNameError(MemambaError, KeyError):
    """A name that is not in a registry (encoder, model); the message lists the known names."""

    def __str__(self) -> str:
        return str(self.args[0])


def printable(value: object) -> str:
    """``value`` as text with control characters written as escapes (``\\n``), so that a message naming it stays on
    one line."""
    return re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", lambda match: ascii(match.group())[1:-1], str(value))


_SPECIAL_KINDS = {stat.S_ISFIFO: "a FIFO (named pipe)", stat.S_ISCHR: "a character device", stat.S_ISBLK: "a block device",
                  stat.S_ISSOCK: "a socket"}


def not_a_file(path: str | os.PathLike) -> str | None:
    """Why ``path`` is not a regular file to read ("does not exist", "is a directory", "is a FIFO (named pipe), not a
    regular file", ...), or None when it is one. Symbolic links are followed."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "does not exist"
    except OSError as exc:
        return f"cannot be inspected ({exc.strerror})"
    if stat.S_ISDIR(mode):
        return "is a directory, not a file"
    kind = next((name for test, name in _SPECIAL_KINDS.items() if test(mode)), None)
    return f"is {kind}, not a regular file" if kind else None


def require_file(path: str | os.PathLike, what: str, fix: str) -> Path:
    """``path`` as a Path if it is an existing regular file, else a MemambaError naming it, ``what`` it is, why it
    cannot be read and the ``fix``."""
    path = Path(path)
    problem = not_a_file(path)
    if problem == "does not exist":
        raise MemambaError(f"{path}: {what} not found. Fix: {fix}.")
    if problem:
        raise MemambaError(f"{path}: this {what} {problem}. Fix: {fix}.")
    return path
