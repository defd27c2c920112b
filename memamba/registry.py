"""One registry helper for everything looked up by name (models, patch encoders), timm style.

An entry is a frozen dataclass holding its metadata as data and its factory as a ``"package.module:attribute"``
reference, so that names, modalities, widths and settings are known without importing the factory's module (and
torch with it): the workflow reads them when it parses. Registering a name twice is an error; listing filters on
any metadata field.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from memamba.errors import MemambaError, UnknownNameError


class Entry(Protocol):
    """What every registry entry has: its name and its factory (a ``"module:attribute"`` reference, or a plug-in's
    function)."""

    name: str
    factory: str | Callable[..., Any]


E = TypeVar("E", bound=Entry)


def resolve(reference: str | Callable[..., Any]) -> Callable[..., Any]:
    """The object ``"package.module:attribute"`` names (importing its module); a callable stands for itself."""
    if callable(reference):
        return reference
    module, _, attribute = reference.partition(":")
    target: Any = importlib.import_module(module)
    for part in attribute.split("."):
        target = getattr(target, part)
    return target


@dataclass
class Registry(Generic[E]):
    """Entries of one kind by name; ``kind`` and ``config_key`` word the errors (e.g. "model", "train.models")."""

    kind: str
    config_key: str

    def __post_init__(self) -> None:
        self._entries: dict[str, E] = {}

    def register(self, entry: E) -> E:
        """Add ``entry``; a MemambaError when its name is taken (an entry is never silently replaced)."""
        if entry.name in self._entries:
            taken = self._entries[entry.name].factory
            raise MemambaError(f"{self.kind} {entry.name!r} is registered twice ({taken} and {entry.factory}). "
                               f"Fix: give the second {self.kind} another name.")
        self._entries[entry.name] = entry
        return entry

    def unregister(self, name: str) -> None:
        """Remove ``name`` (plug-ins that failed part-way, tests)."""
        self._entries.pop(name, None)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[E]:
        return iter(sorted(self._entries.values(), key=lambda entry: entry.name))

    def get(self, name: str) -> E:
        """The entry of ``name``, or an UnknownNameError listing the known names and the config key."""
        if name not in self._entries:
            raise UnknownNameError(f"unknown {self.kind} {name!r}. Fix: use one of {self.names()} (config key {self.config_key}).")
        return self._entries[name]

    def names(self, **where: Any) -> list[str]:
        """Sorted names of the entries whose metadata fields equal ``where`` (a tuple field: contains the value)."""
        if unknown := set(where) - {f.name for e in self._entries.values() for f in fields(e)}:
            raise TypeError(f"{self.kind} entries have no field {sorted(unknown)}")
        return [entry.name for entry in self if all(_matches(getattr(entry, key), value) for key, value in where.items())]


def _matches(field_value: Any, wanted: Any) -> bool:
    return wanted in field_value if isinstance(field_value, tuple) and not isinstance(wanted, tuple) else field_value == wanted


@cache
def signature_defaults(reference: str) -> dict[str, Any]:
    """The keyword defaults of the function, class (its ``__init__``) or dataclass (its fields) ``"module:name"``
    names, read from the module's source without importing it; every default must be a literal."""
    module, _, name = reference.partition(":")
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise MemambaError(f"{reference}: module {module} not found. Fix: reinstall memamba.")
    tree = ast.parse(Path(spec.origin).read_text())
    node = next((n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == name), None)
    if node is None:
        raise MemambaError(f"{reference}: {module} defines no {name}. Fix: correct the registry entry.")
    if isinstance(node, ast.ClassDef):
        init = next((n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
        if init is None:
            return {n.target.id: ast.literal_eval(n.value) for n in node.body
                    if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name) and n.value is not None}
        node = init
    arguments = node.args
    positional = arguments.posonlyargs + arguments.args
    pairs = list(zip(positional[len(positional) - len(arguments.defaults):], arguments.defaults))
    pairs += [(arg, default) for arg, default in zip(arguments.kwonlyargs, arguments.kw_defaults) if default is not None]
    return {arg.arg: ast.literal_eval(default) for arg, default in pairs}
