"""The error type every stage raises for bad input: its message names the file, the problem and the fix."""


class MemambaError(Exception):
    """Input that cannot be used, with a message saying how to fix it."""
