"""Encoder weights: a local file or a Hugging Face hub reference, checked by SHA-256 and loaded strictly, never
unpickled (``weights_only=True``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from pathlib import Path

import torch
from torch import nn

from memamba.errors import MemambaError, require_file
from memamba.provenance import sha256_of
from memamba.slides.encoder_registry import HUB_PREFIX, weights_source

HUB_FILENAME = "pytorch_model.bin"


def fetch_from_hub(reference: str, name: str) -> Path:
    """The local copy of ``hf-hub:ORG/REPO[/FILE]`` (default file pytorch_model.bin), downloaded once into the
    Hugging Face cache. Gated models (UNI, UNI2-h) need their terms accepted and ``huggingface-cli login``."""
    from huggingface_hub import hf_hub_download

    parts = reference[len(HUB_PREFIX):].split("/")
    if len(parts) < 2:
        raise MemambaError(f"weights {reference!r}: a hub reference is hf-hub:ORG/REPO or hf-hub:ORG/REPO/FILE. "
                           "Fix: correct extract.weights.")
    repo_id, filename = "/".join(parts[:2]), "/".join(parts[2:]) or HUB_FILENAME
    try:
        return Path(hf_hub_download(repo_id, filename))
    except Exception as exc:  # noqa: BLE001 - offline, gated, missing: all end in the same advice
        raise MemambaError(
            f"weights of encoder {name!r}: cannot fetch {filename} from the Hugging Face hub repository {repo_id} "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no detail'}). Fix: without network "
            "access, download the file elsewhere and give its local path in extract.weights; for a gated model, "
            "accept its terms on the model page and run 'huggingface-cli login'."
        ) from exc


def resolve_weights(name: str, weights: str | os.PathLike) -> Path:
    """The local file of ``weights``: a path that must exist, or ``hf-hub:ORG/REPO[/FILE]`` fetched (or cached)."""
    if str(weights).startswith(HUB_PREFIX):
        return fetch_from_hub(str(weights), name)
    return require_file(weights, f"weights file of encoder {name!r}", "correct extract.weights (a local file, or hf-hub:ORG/REPO)")


@cache
def _digest(path: str, inode: int, size: int, mtime_ns: int, ctime_ns: int) -> str:
    return sha256_of(path)


def checked_digest(path: Path, sha256: str | None, where_to_get: str) -> str:
    """The SHA-256 of the weights file ``path`` (hashed once per process while its inode, size, mtime and ctime hold:
    rewriting it changes its ctime, whatever its mtime), which must
    equal ``sha256`` when one is configured; a MemambaError otherwise."""
    stat = path.stat()
    actual = _digest(str(path.resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    if sha256 is not None and actual != sha256.lower():
        raise MemambaError(f"{path}: SHA-256 {actual} differs from the expected {sha256} (extract.weights_sha256). "
                           f"Fix: the file is incomplete or a different release; {where_to_get}.")
    return actual


def weights_digest(name: str, weights: str | os.PathLike | None, sha256: str | None) -> str:
    """What feature files record as ``weights_sha256`` for these settings: the weights file's SHA-256 (checked against
    ``sha256`` when given), or "none" without a weights file."""
    if weights is None:
        return "none"
    return checked_digest(resolve_weights(name, weights), sha256, weights_source(name) or "see --list-encoders")


def _tensor_state(path: Path, name: str, where_to_get: str) -> dict[str, torch.Tensor]:
    """The checkpoint's name -> tensor mapping (inside a ``state_dict`` / ``model`` wrapper if there is one), read
    without running any pickled code; anything else is a MemambaError naming the file."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - text, a pickle of objects, a truncated zip: all are "not tensors"
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MemambaError(f"{path}: not a PyTorch checkpoint of tensors ({type(exc).__name__}: {detail[:160]}); it was "
                           f"not unpickled. Fix: give the published weights of encoder {name!r}: {where_to_get}.") from exc
    for wrapper in ("state_dict", "model"):
        if isinstance(state, dict) and wrapper in state and isinstance(state[wrapper], dict):
            state = state[wrapper]
    if not isinstance(state, dict) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        held = type(state).__name__ if not isinstance(state, dict) else \
            next(type(v).__name__ for v in state.values() if not isinstance(v, torch.Tensor))
        raise MemambaError(f"{path}: holds a {held}, not a mapping of parameter names to tensors. "
                           f"Fix: give the published weights of encoder {name!r}: {where_to_get}.")
    return state


def load_weights(model: nn.Module, name: str, weights: str | os.PathLike | None, sha256: str | None,
                 random_weights: bool, where_to_get: str,
                 convert: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]] | None = None) -> str:
    """Load a checkpoint (a local path, or ``hf-hub:ORG/REPO[/FILE]``) strictly into ``model``, after checking
    its SHA-256 when one is given.

    ``convert`` maps the published key names onto the model's (e.g. an old timm release's onto today's).
    Returns the file's SHA-256 ("none" for random weights), which feature files record.
    """
    if weights is None:
        if random_weights:
            return "none"
        raise MemambaError(f"encoder {name!r} needs its weights and none were given. Fix: {where_to_get}, "
                           "then pass --weights PATH (config: extract.weights).")
    path = resolve_weights(name, weights)
    actual = checked_digest(path, sha256, where_to_get)
    state = _tensor_state(path, name, where_to_get)
    if convert is not None:
        state = convert(state)
    expected = model.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    misshapen = [key for key in expected if key in state and tuple(state[key].shape) != tuple(expected[key].shape)]
    if missing or unexpected or misshapen:
        raise MemambaError(
            f"{path}: not a checkpoint of encoder {name!r}: {len(missing)} missing key(s) {missing[:3]}, "
            f"{len(unexpected)} unexpected key(s) {unexpected[:3]}, {len(misshapen)} key(s) of another shape "
            f"{misshapen[:3]}. Fix: {where_to_get}."
        )
    model.load_state_dict(state, strict=True)
    return actual
