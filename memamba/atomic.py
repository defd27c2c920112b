"""Atomic file writing: a file (or a stage's set of files) either exists complete or not at all."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"


def _temp_prefix(final: Path) -> str:
    """``.NAME.tmp-HOST-PID-``: a temporary file says which writer (host, process) it belongs to."""
    return f".{final.name}.tmp-{_HOST}-{os.getpid()}-"


def _remove_stale(final: Path) -> None:
    """Remove temporary files of ``final`` whose writer on this host is no longer running (a SIGKILLed run).

    Files of a live writer, or of a writer on another host (a shared file system), are left alone.
    """
    pattern = re.compile(rf"^\.{re.escape(final.name)}\.tmp-{re.escape(_HOST)}-(\d+)-")
    for candidate in final.parent.iterdir():
        match = pattern.match(candidate.name)
        if match and not _running(int(match.group(1))):
            candidate.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (one of another user's counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


@contextlib.contextmanager
def atomic_paths(finals: Sequence[str | os.PathLike], suffixes: Sequence[str | None] | None = None) -> Iterator[list[Path]]:
    """Yield one temporary path beside each of ``finals``; rename them all onto ``finals`` only if the block succeeds.

    Each temporary file lives in its final file's directory (so each rename is atomic on POSIX), keeps the final
    suffix (so writers that infer a format from the name keep working) and is unique to this writer. On any error,
    including KeyboardInterrupt, every temporary file is removed and no final file is touched; the renames happen
    only after the whole block has written everything. Temporary files left by a killed earlier writer on this host
    are removed first. An OSError of the block names the final file, not its temporary one; one that names no file
    (a write on a full disk) is given the final file, or for several their folder.
    """
    paths = [Path(final) for final in finals]
    temps: list[Path] = []
    try:
        for index, final in enumerate(paths):
            final.parent.mkdir(parents=True, exist_ok=True)
            _remove_stale(final)
            suffix = suffixes[index] if suffixes is not None and suffixes[index] is not None else final.suffix
            fd, name = tempfile.mkstemp(prefix=_temp_prefix(final), suffix=suffix, dir=final.parent)
            os.close(fd)
            temps.append(Path(name))
        yield temps
        mode = 0o666 & ~_current_umask()
        for tmp, final in zip(temps, paths):
            os.chmod(tmp, mode)
            os.replace(tmp, final)
    except BaseException as exc:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            exc.filename = _final_name(exc.filename, paths)
        raise


def _final_name(filename: object, finals: list[Path]) -> object:
    """The file an OSError should name: the final file for a temporary file of one, the final file (or folder of
    several) when it names none, else its own."""
    name = os.path.basename(os.fspath(filename)) if isinstance(filename, (str, os.PathLike)) else None
    for final in finals:
        if name is not None and name.startswith(f".{final.name}.tmp-"):
            return str(final)
    if filename or not finals:
        return filename
    return str(finals[0] if len(finals) == 1 else os.path.commonpath(finals))


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; rename it onto ``final`` only if the block succeeds (see atomic_paths)."""
    with atomic_paths([final], [suffix]) as temps:
        yield temps[0]


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(final: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``final`` atomically."""
    with atomic_path(final) as tmp:
        tmp.write_text(text)
