"""Encoders from other packages: an entry point of group ``memamba.encoders`` registers one by name."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from conftest import write_encoder_plugin
from memamba.errors import MemambaError
from memamba.slides import encoder_registry, encoders


@pytest.fixture
def registry() -> Iterator[None]:
    """Put back the registry as it was: a plug-in registered by one test is not installed for the next."""
    saved = [dict(table) for table in (encoder_registry.ENCODERS._entries, encoder_registry._PLUGINS)]
    yield
    for table, copy in zip((encoder_registry.ENCODERS._entries, encoder_registry._PLUGINS), saved):
        table.clear()
        table.update(copy)


def _install(folder: Path, monkeypatch: pytest.MonkeyPatch, **plugin: str) -> None:
    write_encoder_plugin(folder, **plugin)
    monkeypatch.syspath_prepend(str(folder))


def test_an_installed_plugin_is_listed_and_builds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry: None) -> None:
    _install(tmp_path, monkeypatch)
    assert "toy-means" in encoder_registry.list_encoders()
    assert ("toy-means", 3, "no weights [plug-in toy_encoder:toy_means]") in encoder_registry.encoder_table()
    encoder = encoders.build_encoder("toy-means")
    images = torch.rand(2, 3, 8, 8)
    torch.testing.assert_close(encoder.model(images), images.mean((2, 3)))
    assert encoder_registry.encoder_dim("toy-means") == 3 and encoder_registry.weights_source("toy-means") is None


@pytest.mark.parametrize("plugin,message", [
    ({"module": "broken", "source": "raise RuntimeError('no GPU driver')", "entry": "toy-means = broken:factory"},
     r"encoder plug-in 'toy-means' \(broken:factory, entry point group memamba.encoders\) failed to import "
     r"\(RuntimeError: no GPU driver\)\. Fix: repair or uninstall"),
    ({"module": "silent", "source": "def factory(): pass", "entry": "toy-means = silent:factory"},
     r"registered no encoder named 'toy-means'\. Fix: decorate its factory with "
     r"@memamba.slides.encoders.register_encoder\('toy-means'"),
    ({"module": "usurper", "source": "def factory(): pass", "entry": "demo-stats = usurper:factory"},
     r"encoder plug-in 'demo-stats' .* would replace the encoder of that name\. Fix: rename"),
])
def test_a_broken_plugin_is_an_error_naming_it(plugin: dict[str, str], message: str, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch, registry: None) -> None:
    _install(tmp_path, monkeypatch, **plugin)
    with pytest.raises(MemambaError, match=message):
        encoder_registry.list_encoders()


def test_an_unknown_encoder_says_where_plugins_come_from(registry: None) -> None:
    with pytest.raises(MemambaError, match=r"unknown encoder 'virchow7'\. Fix: use one of .*'demo-stats'.* or install a "
                                           r"plug-in that provides it \(entry point group memamba.encoders\)"):
        encoder_registry.encoder_dim("virchow7")


def test_the_cli_lists_every_encoder_with_its_width_and_weights(tmp_path: Path) -> None:
    write_encoder_plugin(tmp_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))}
    listing = subprocess.run([sys.executable, "-m", "memamba.cli", "extract", "--list-encoders"], capture_output=True,
                             text=True, env=env, check=True).stdout.splitlines()
    assert listing[0].split() == ["encoder", "width", "weights"]
    rows = {line.split()[0]: line.split(maxsplit=2)[1:] for line in listing[1:]}
    assert rows["toy-means"] == ["3", "no weights [plug-in toy_encoder:toy_means]"]
    assert rows["demo-stats"] == ["16", "no weights"] and rows["uni"][0] == "1024"


def test_the_readmes_worked_example_is_a_working_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry: None) -> None:
    readme = (Path(__file__).resolve().parents[2] / "docs" / "pages" / "encoders.md").read_text()
    example = readme.split("An encoder of your own")[1]
    source = example.split("```python\n")[1].split("```")[0]
    entry = example.split('[project.entry-points."memamba.encoders"]\n')[1].split("\n")[0]
    assert entry == 'my-vit-s = "my_encoders.vit_s:my_vit_s"'
    _install(tmp_path, monkeypatch, module="vit_s", source=source, entry="my-vit-s = vit_s:my_vit_s")
    encoder = encoders.build_encoder("my-vit-s", random_weights=True, depth=1)
    assert encoder.model(torch.rand(2, 3, 224, 224)).shape == (2, 384) and encoder_registry.encoder_dim("my-vit-s") == 384
    state = tmp_path / "my-vit-s.pth"
    torch.save(encoder.model.state_dict(), state)
    assert encoders.build_encoder("my-vit-s", weights=state, depth=1).weights_sha256 != "none"
    torch.save({**encoder.model.state_dict(), "head.extra": torch.zeros(1)}, state)
    with pytest.raises(MemambaError, match="head.extra"):
        encoders.build_encoder("my-vit-s", weights=state, depth=1)
