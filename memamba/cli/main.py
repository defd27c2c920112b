"""The entry point: the parser of every sub-command, and the boundary that turns expected errors into one line."""

from __future__ import annotations

import argparse
import errno
import logging
import os
import sys

from memamba.cli import cohorts, evaluate, interpret, slides, train
from memamba.cpu_kernels import pin_cpu_kernels
from memamba.errors import MemambaError

STAGES = (cohorts, slides, train, interpret, evaluate)
"""The command modules, in the order their commands are listed by ``memamba --help``."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    from memamba import __version__

    parser = argparse.ArgumentParser(prog="memamba", description="The ``memamba`` command line: one sub-command per pipeline stage.")
    parser.add_argument("--version", action="version", version=f"memamba {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for stage in STAGES:
        stage.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``memamba`` console script: 0 on success, 2 with one line on stderr for a known problem."""
    pin_cpu_kernels()
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        args.func(args)
    except MemambaError as exc:
        print(f"memamba {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno not in SYSTEM_FIXES:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"memamba {args.command}: error: {where}{os.strerror(exc.errno)}. Fix: {SYSTEM_FIXES[exc.errno]}.", file=sys.stderr)
        return 2
    return 0


SYSTEM_FIXES = {
    errno.ENOSPC: "free space on that file system (or point the output elsewhere) and rerun; no partial output was kept",
    errno.EDQUOT: "free space within your quota (or point the output elsewhere) and rerun; no partial output was kept",
    errno.EACCES: "give yourself permission to read or write it, or use another path",
    errno.EPERM: "give yourself permission to read or write it, or use another path",
    errno.EROFS: "write the output to a writable file system",
    errno.EISDIR: "give the path of a file, not of a directory",
    errno.ENOTDIR: "a part of that path is a file, not a directory: correct the path",
    errno.ENOENT: "correct the path, or run the stage that writes it first",
    errno.EFBIG: "raise the file-size limit (ulimit -f) or write the output elsewhere; no partial output was kept",
    errno.ENAMETOOLONG: "use shorter names (slide ids of at most 100 characters) or a shorter folder path",
}
"""What to do about each operating-system error a command may meet; others keep their traceback."""
