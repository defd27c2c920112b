"""One registry helper for models and encoders: metadata as data, duplicates refused, filtered listing, and the
settings' defaults read without importing the model (checked against the imported signature)."""

from __future__ import annotations

import inspect
import subprocess
import sys
from dataclasses import dataclass

import pytest

from memamba.errors import MemambaError, UnknownNameError
from memamba.models.registry import MODELS, ModelEntry, list_models, model_defaults
from memamba.registry import Registry, resolve, signature_defaults
from memamba.slides.encoder_registry import ENCODERS, EncoderEntry, list_encoders


@dataclass(frozen=True)
class Thing:
    name: str
    factory: str
    colour: str
    modalities: tuple[str, ...] = ()


def test_registering_a_name_twice_is_refused_and_keeps_the_first() -> None:
    things: Registry[Thing] = Registry("thing", "things.name")
    things.register(Thing("a", "m:f", "red"))
    with pytest.raises(MemambaError, match=r"thing 'a' is registered twice \(m:f and m:g\)\. Fix: give the second thing"):
        things.register(Thing("a", "m:g", "blue"))
    assert things.get("a").colour == "red"


def test_the_real_registries_refuse_a_second_model_or_encoder_of_a_known_name() -> None:
    with pytest.raises(MemambaError, match="model 'mcat' is registered twice"):
        MODELS.register(ModelEntry("mcat", "elsewhere:mcat", ("slides",), "another MCAT"))
    with pytest.raises(MemambaError, match="encoder 'uni' is registered twice"):
        ENCODERS.register(EncoderEntry("uni", "elsewhere:uni", 1024, 224, None, "none"))
    assert MODELS.get("mcat").factory == "memamba.models.coattention:mcat"


def test_listing_filters_on_metadata_and_an_unknown_name_lists_the_known_ones() -> None:
    things: Registry[Thing] = Registry("thing", "things.name")
    for thing in (Thing("b", "m:b", "red", ("slides",)), Thing("a", "m:a", "blue", ("slides", "genomics"))):
        things.register(thing)
    assert things.names() == ["a", "b"] and things.names(colour="red") == ["b"]
    assert things.names(modalities="genomics") == ["a"]
    with pytest.raises(TypeError, match="no field"):
        things.names(size=3)
    with pytest.raises(UnknownNameError, match=r"unknown thing 'c'\. Fix: use one of \['a', 'b'\] \(config key things.name\)"):
        things.get("c")


def test_model_and_encoder_listings_filter() -> None:
    assert list_models(trainer="sksurv") == ["coxnet"]
    assert set(list_models(modalities="genomics")) == {"snn", "coxnet", "abmil-snn", "mcat", "motcat", "survpath", "cmta", "porpoise", "memamba",
                                                       "memamba-genomics"}
    assert "uni" in list_encoders(dim=1024) and "conch" not in list_encoders(dim=1024)


@pytest.mark.parametrize("name", list_models())
def test_the_defaults_read_from_the_source_equal_the_imported_signatures(name: str) -> None:
    entry = MODELS.get(name)
    target = resolve(entry.settings or entry.factory)
    signature = inspect.signature(target)
    imported = {key: p.default for key, p in signature.parameters.items() if p.default is not inspect.Parameter.empty}
    assert signature_defaults(entry.settings or entry.factory).keys() >= imported.keys()
    if "genomics" in entry.modalities:
        imported["tokens"] = entry.tokens
    assert model_defaults(name) == imported


def test_every_factory_resolves_and_every_encoder_builds_at_its_registered_width() -> None:
    import torch

    from memamba.slides.encoders import build_encoder

    for entry in MODELS:
        assert callable(resolve(entry.factory))
    encoder = build_encoder("demo-stats")
    assert encoder.model(torch.rand(2, 3, 32, 32)).shape == (2, ENCODERS.get("demo-stats").dim)
    assert build_encoder("resnet50-trunc", random_weights=True).input_size == ENCODERS.get("resnet50-trunc").input_size


def test_reading_the_registries_imports_no_torch() -> None:
    probe = ("import sys; from memamba.models.registry import list_models, model_defaults, has_patch_scores; "
             "from memamba.slides.encoder_registry import encoder_dim; "
             "[model_defaults(m) for m in list_models()]; encoder_dim('uni'); has_patch_scores('memamba', {}); "
             "print('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip() == "False"
