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
from typing import Any

import pandas as pd

from memamba.config import ConfigError


def _problem(path: Path, exc: BaseException) -> str:
    if isinstance(exc, IsADirectoryError) or path.is_dir():
        return "is a directory, not a file"
    if isinstance(exc, FileNotFoundError):
        return "does not exist"
    if isinstance(exc, UnicodeDecodeError):
        return f"is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start})"
    if isinstance(exc, pd.errors.EmptyDataError) or (path.is_file() and path.stat().st_size == 0):
        return "is empty"
    if isinstance(exc, zipfile.BadZipFile):
        return "is not a readable zip archive"
    if isinstance(exc, json.JSONDecodeError):
        return f"is not valid JSON ({exc.msg}; line {exc.lineno}, column {exc.colno})"
    return f"cannot be parsed ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"


def read_table(path: str | os.PathLike, what: str, fix: str, **read_csv: Any) -> pd.DataFrame:
    """``pd.read_csv(path, **read_csv)``, or a ConfigError naming ``path``, ``what`` it should be, the problem and ``fix``."""
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)          # rows longer than the header
            return pd.read_csv(path, **read_csv)
    except (OSError, UnicodeDecodeError, ValueError, zipfile.BadZipFile, pd.errors.ParserError,
            pd.errors.ParserWarning) as exc:
        raise ConfigError(f"{path}: this {what} {_problem(path, exc)}. Fix: {fix}.") from exc


def read_text(path: str | os.PathLike, what: str, fix: str) -> str:
    """The file's UTF-8 text, or a ConfigError naming ``path``, the problem and ``fix``."""
    path = Path(path)
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
