"""Writing tensors to disk: ``torch.save`` into memory, then one plain file write, so that a full disk or a file-size
limit is an OSError that names the file (``torch.save`` to a path raises a RuntimeError without one)."""

from __future__ import annotations

import io
import os
from typing import Any

import torch


def save_tensors(value: Any, path: str | os.PathLike) -> None:
    """``torch.save(value, path)``, failing with the OSError of the write itself (errno and file name set)."""
    buffer = io.BytesIO()
    torch.save(value, buffer)
    try:
        with open(path, "wb") as file:
            file.write(buffer.getbuffer())
    except OSError as exc:
        exc.filename = exc.filename or os.fspath(path)
        raise
