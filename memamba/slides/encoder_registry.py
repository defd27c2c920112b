"""The patch-encoder registry: every encoder's metadata as data (feature width, input size, where its weights come
from, their licence), its factory referenced by name; other packages add theirs as plug-ins (entry point group
``memamba.encoders``). Nothing here imports torch, so the workflow checks ``extract:`` while it parses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from memamba.config import ConfigError
from memamba.errors import MemambaError, UnknownNameError, not_a_file
from memamba.provenance import sha256_of
from memamba.registry import Registry


@dataclass(frozen=True)
class EncoderEntry:
    """A registered encoder: ``factory(weights, sha256=None, random_weights=False, **architecture) -> Encoder``
    (``"module:function"``, or the function itself for a plug-in), its feature width, the side of the square patch
    it reads (None: any), how to get its published weights (None: it has none), their licence, and the entry point
    of the plug-in that provides it (None: built in)."""

    name: str
    factory: str | Callable[..., Any]
    dim: int
    input_size: int | None
    weights_from: str | None
    licence: str
    plugin: str | None = None


_GATED_NC = "CC-BY-NC-ND-4.0, gated"
ENCODERS: Registry[EncoderEntry] = Registry("encoder", "extract.encoder")
for _entry in (
    EncoderEntry("demo-stats", "memamba.slides.encoders:demo_stats", 16, None, None, "none (no weights)"),
    EncoderEntry("resnet50-trunc", "memamba.slides.encoders:resnet50_trunc", 1024, 224,
                 "save torchvision's or timm's ImageNet ResNet-50 state dict to a file", "BSD-3-Clause (torchvision)"),
    EncoderEntry("uni", "memamba.slides.encoders:uni", 1024, 224,
                 "download pytorch_model.bin from the MahmoodLab/UNI model page", _GATED_NC),
    EncoderEntry("uni2-h", "memamba.slides.encoders:uni2_h", 1536, 224,
                 "download pytorch_model.bin from the MahmoodLab/UNI2-h model page", _GATED_NC),
    EncoderEntry("virchow2", "memamba.slides.encoders:virchow2", 2560, 224,
                 "download pytorch_model.bin from the paige-ai/Virchow2 model page (gated, CC-BY-NC-ND 4.0)", _GATED_NC),
    EncoderEntry("h-optimus-0", "memamba.slides.encoders:h_optimus_0", 1536, 224,
                 "download pytorch_model.bin from the bioptimus/H-optimus-0 model page (Apache-2.0)", "Apache-2.0"),
    EncoderEntry("gigapath", "memamba.slides.encoders:gigapath", 1536, 224,
                 "download pytorch_model.bin from the prov-gigapath/prov-gigapath model page (gated)", "Apache-2.0, gated"),
    EncoderEntry("conch", "memamba.slides.encoders:conch", 512, 448,
                 "download pytorch_model.bin from the MahmoodLab/CONCH model page (gated, CC-BY-NC-ND 4.0)", _GATED_NC),
    EncoderEntry("conch-v1.5", "memamba.slides.encoders:conch_v15", 768, 448,
                 "download pytorch_model_vision.bin from the MahmoodLab/conchv1_5 model page (gated, CC-BY-NC-ND 4.0; "
                 "hf-hub:MahmoodLab/conchv1_5/pytorch_model_vision.bin)", _GATED_NC),
    EncoderEntry("ctranspath", "memamba.slides.encoders:ctranspath", 768, 224,
                 "download ctranspath.pth from the TransPath repository (Xiyue-Wang/TransPath)",
                 "not stated in the files we read: see the TransPath repository"),
):
    ENCODERS.register(_entry)

PLUGIN_GROUP = "memamba.encoders"
"""The entry-point group of encoder plug-ins: ``NAME = "package.module:factory"``, where importing the module
registers ``factory`` under NAME with :func:`register_encoder`."""
_PLUGINS: dict[str, str] = {}
HUB_PREFIX = "hf-hub:"


def register_encoder(name: str, dim: int, weights_from: str | None, input_size: int | None = None,
                     licence: str = "see the plug-in") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator adding a plug-in's ``fn(weights, sha256=None, random_weights=False, **architecture) -> Encoder`` under
    ``name``, with its feature width ``dim`` and where its published weights come from (None: it has none)."""

    def add(fn: Callable[..., Any]) -> Callable[..., Any]:
        ENCODERS.register(EncoderEntry(name, fn, dim, input_size, weights_from, licence))
        return fn

    return add


def load_plugins() -> None:
    """Import every installed encoder plug-in not imported yet; a MemambaError names one that fails to import, that
    registers no encoder of its entry point's name, or that would replace a built-in encoder."""
    for entry in entry_points(group=PLUGIN_GROUP):
        if _PLUGINS.get(entry.name) == entry.value:
            continue
        origin = f"encoder plug-in {entry.name!r} ({entry.value}, entry point group {PLUGIN_GROUP})"
        if entry.name in ENCODERS:
            raise MemambaError(f"{origin} would replace the encoder of that name. Fix: rename the plug-in's entry point.")
        try:
            entry.load()
        except Exception as exc:  # noqa: BLE001 - any failure of third-party code ends in the same advice
            raise MemambaError(f"{origin} failed to import ({type(exc).__name__}: {exc}). Fix: repair or uninstall "
                               "the package that provides it.") from exc
        if entry.name not in ENCODERS:
            raise MemambaError(f"{origin} registered no encoder named {entry.name!r}. Fix: decorate its factory with "
                               f"@memamba.slides.encoders.register_encoder({entry.name!r}, dim=..., weights_from=...).")
        _PLUGINS[entry.name] = entry.value


def encoder_entry(name: str) -> EncoderEntry:
    """The entry of encoder ``name`` (plug-ins loaded when it is not built in), or an UnknownNameError."""
    if name not in ENCODERS:
        load_plugins()
    if name not in ENCODERS:
        raise UnknownNameError(f"unknown encoder {name!r}. Fix: use one of {list_encoders()} (config key extract.encoder), "
                               f"or install a plug-in that provides it (entry point group {PLUGIN_GROUP}).")
    return ENCODERS.get(name)


def weights_source(name: str) -> str | None:
    """How to get encoder ``name``'s published weights (an instruction), or None if it has none."""
    return encoder_entry(name).weights_from


def encoder_dim(name: str) -> int:
    """Feature width of registered encoder ``name``."""
    return encoder_entry(name).dim


def list_encoders(**where: Any) -> list[str]:
    """Names of the registered encoders whose metadata match ``where`` (e.g. ``dim=1024``), plug-ins included."""
    load_plugins()
    return ENCODERS.names(**where)


def encoder_table() -> list[tuple[str, int, str]]:
    """Every encoder's name, feature width and where its weights come from (or "no weights"; plug-ins say so)."""
    return [(name, encoder_dim(name), (weights_source(name) or "no weights")
             + (f" [plug-in {_PLUGINS[name]}]" if name in _PLUGINS else "")) for name in list_encoders()]


def check_weights_setting(extract: dict[str, Any], verify_sha256: bool = True) -> None:
    """Check the ``extract`` config section's encoder and weights before any job runs: a registered encoder, a
    weights file that exists (``hf-hub:`` references are fetched by the jobs), and, with ``verify_sha256``, its
    SHA-256 equal to ``weights_sha256``. A ConfigError names the key and the fix."""
    name, weights, expected = extract["encoder"], extract.get("weights"), extract.get("weights_sha256")
    if name not in ENCODERS:
        try:
            load_plugins()
        except MemambaError as error:
            raise ConfigError(f"extract.encoder: {error}") from error
    if name not in ENCODERS:
        raise ConfigError(f"extract.encoder: unknown encoder {name!r}. Fix: use one of {list_encoders()}, or install a "
                          f"plug-in that provides it (entry point group {PLUGIN_GROUP}).")
    source = ENCODERS.get(name).weights_from
    if source is None:
        if weights is not None:
            raise ConfigError(f"extract.weights is {weights!r}, but encoder {name!r} has no weights. Fix: set extract.weights to null.")
        return
    if weights is None:
        raise ConfigError(f"extract.weights is null, but encoder {name!r} needs its published weights. "
                          f"Fix: {source}, and set extract.weights to its path (or hf-hub:ORG/REPO).")
    if str(weights).startswith(HUB_PREFIX):
        return
    path = Path(weights)
    problem = not_a_file(path)
    if problem:
        raise ConfigError(f"extract.weights: {weights} {problem} (looked for {path.absolute()}). "
                          f"Fix: {source}, and set extract.weights to its path (relative paths start where snakemake runs).")
    if expected is not None and verify_sha256:
        actual = sha256_of(path)
        if actual != expected.lower():
            raise ConfigError(f"extract.weights_sha256: {path} has SHA-256 {actual}, not {expected}. Fix: the file is incomplete "
                              f"or another release: {source} again, or correct extract.weights_sha256.")
