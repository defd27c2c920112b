"""Reading user files as text tables, text or JSON: any way the file cannot be read becomes one MemambaError line.

The message names the file, says what is wrong with it (not UTF-8, empty, a directory, a zip with several
members, malformed rows or JSON) and how to fix it, instead of a Python traceback from pandas or the codec.
"""

from __future__ import annotations

import json
import os
import warnings
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memamba.config import ConfigError
from memamba.errors import not_a_file

if TYPE_CHECKING:
    import pandas as pd


def _problem(path: Path, exc: BaseException) -> str:
    import pandas as pd

    if isinstance(exc, (IsADirectoryError, FileNotFoundError)):
        return not_a_file(path) or "does not exist"
    if isinstance(exc, UnicodeDecodeError):
        return f"is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start})"
    if isinstance(exc, pd.errors.EmptyDataError) or (path.is_file() and path.stat().st_size == 0):
        return "is empty"
    if isinstance(exc, zipfile.BadZipFile):
        return "is not a readable zip archive"
    if isinstance(exc, json.JSONDecodeError):
        return f"is not valid JSON ({exc.msg}; line {exc.lineno}, column {exc.colno})"
    return f"cannot be parsed ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"


def _regular_file(path: str | os.PathLike, what: str, fix: str) -> Path:
    """``path`` as a Path when it is a regular file; a ConfigError otherwise (a FIFO or a device would block or never end)."""
    path = Path(path)
    problem = not_a_file(path)
    if problem:
        raise ConfigError(f"{path}: this {what} {problem}. Fix: {fix}.")
    return path


_HEADER_OPTIONS = ("sep", "delimiter", "compression", "encoding", "comment", "skiprows", "quotechar")


def read_table(path: str | os.PathLike, what: str, fix: str, repeated_columns: str = "error", **read_csv: Any) -> pd.DataFrame:
    """``pd.read_csv(path, **read_csv)``, or a ConfigError naming ``path``, ``what`` it should be, the problem and ``fix``.

    The header is read as written: pandas would rename a repeated column ``A`` to ``A.1`` and use the first silently.
    With ``repeated_columns`` "error" a column name that appears twice (blanks aside, surrounding spaces ignored) is
    an error naming it; with "keep" the frame keeps the repeated names as written, for the caller's own policy.
    """
    import pandas as pd

    path = _regular_file(path, what, fix)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)          # rows longer than the header
            frame = pd.read_csv(path, **read_csv)
            if read_csv.get("header", "infer") is None:
                return frame
            options = {key: value for key, value in read_csv.items() if key in _HEADER_OPTIONS}
            header = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False, **options).iloc[0].tolist()
    except (OSError, UnicodeDecodeError, ValueError, zipfile.BadZipFile, pd.errors.ParserError,
            pd.errors.ParserWarning) as exc:
        raise ConfigError(f"{path}: this {what} {_problem(path, exc)}. Fix: {fix}.") from exc
    names = [str(name).strip() for name in header]
    if repeated_columns == "keep":
        frame.columns = names[len(names) - frame.shape[1]:]
        return frame
    repeated = sorted({name for name in names if name and names.count(name) > 1})
    if repeated:
        raise ConfigError(f"{path}: column(s) {repeated} appear more than once in the header of this {what}; each is read "
                          f"once or not at all. Fix: {fix}, with every column named once.")
    return frame


def read_text(path: str | os.PathLike, what: str, fix: str) -> str:
    """The file's UTF-8 text, or a ConfigError naming ``path``, the problem and ``fix``."""
    path = _regular_file(path, what, fix)
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: this {what} {_problem(path, exc)}. Fix: {fix}.") from exc


def read_json(path: str | os.PathLike, what: str, fix: str) -> Any:
    """The file parsed as JSON (bare ``NaN`` / ``Infinity`` refused), or a ConfigError naming ``path`` and ``fix``."""
    path = Path(path)
    text = read_text(path, what, fix)
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: this {what} {_problem(path, exc)}. Fix: {fix}.") from exc
    except ValueError as exc:
        raise ConfigError(f"{path}: this {what} holds {exc}, which is not JSON. Fix: {fix}.") from exc


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"a bare {name}")
