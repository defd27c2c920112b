"""The model registry: every model's metadata as data, its factory referenced by name (imported when built).

Reading a name, its modalities, its trainer, its settings and their defaults, or whether it draws patch scores
imports neither torch nor the model's module, so the workflow can check a config while it parses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from memamba.registry import Registry, resolve, signature_defaults

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class ModelInputs:
    """What a model is built for: patch feature width, genomic token sizes, number of time bins."""

    patch_dim: int
    token_sizes: list[int] = field(default_factory=list)
    n_bins: int = 4


@dataclass(frozen=True)
class ModelEntry:
    """A registered model.

    ``factory`` (``"module:function"``) builds it as ``factory(inputs: ModelInputs, **settings)``; a ``torch`` model's
    ``forward(batch)`` returns (hazard logits (b, n_bins), auxiliary loss). ``trainer``: ``torch`` (gradient descent in
    :mod:`memamba.train.loop`) or ``sksurv`` (a scikit-survival estimator). ``settings``: the callable whose signature
    lists the hyper-parameters and their defaults, when the factory passes ``**settings`` on to it. ``patch_scores``:
    whether :mod:`memamba.models.patch_scores` reads per-patch scores from it (heatmaps). ``tokens``: the genomic tokens
    it reads by default (``families``: the cohort's gene families; ``pathways``: its pathway compositions), which the
    ``tokens`` setting of a model that reads genomics overrides."""

    name: str
    factory: str
    modalities: tuple[str, ...]
    summary: str
    trainer: str = "torch"
    settings: str | None = None
    patch_scores: bool = False
    tokens: str = "families"


TOKEN_SETS = ("families", "pathways")
"""The genomic token sets a cohort can give: its gene families (always), its pathways (with ``cohorts.NAME.pathways``)."""


MODELS: Registry[ModelEntry] = Registry("model", "train.models")
for _entry in (
    ModelEntry("snn", "memamba.models.baselines:snn", ("genomics",), "MCAT's genomics-only SNN"),
    ModelEntry("coxnet", "memamba.models.coxnet:coxnet", ("genomics",), "elastic-net Cox (scikit-survival)",
               trainer="sksurv", settings="memamba.models.coxnet:CoxnetSpec"),
    ModelEntry("abmil", "memamba.models.baselines:abmil", ("slides",), "gated attention MIL", patch_scores=True),
    ModelEntry("abmil-snn", "memamba.models.baselines:abmil_snn", ("slides", "genomics"), "attention MIL + SNN, concatenated",
               patch_scores=True),
    ModelEntry("transmil", "memamba.models.mil:transmil", ("slides",), "TransMIL (Nystrom attention, PPEG)"),
    ModelEntry("mambamil", "memamba.models.mil:mambamil", ("slides",), "MambaMIL (SR-Mamba)", patch_scores=True),
    ModelEntry("mcat", "memamba.models.coattention:mcat", ("slides", "genomics"), "MCAT genomic-guided co-attention",
               patch_scores=True),
    ModelEntry("motcat", "memamba.models.coattention:motcat", ("slides", "genomics"), "MOTCat optimal transport",
               patch_scores=True),
    ModelEntry("survpath", "memamba.models.survpath:survpath", ("slides", "genomics"),
               "SurvPath pathway tokens, modality-aware attention", patch_scores=True, tokens="pathways"),
    ModelEntry("cmta", "memamba.models.cmta:cmta", ("slides", "genomics"), "CMTA cross-modal translation and alignment",
               patch_scores=True),
    ModelEntry("porpoise", "memamba.models.porpoise:porpoise", ("slides", "genomics"),
               "PORPOISE MMF: attention MIL + SNN, gated bilinear fusion", patch_scores=True),
    ModelEntry("memamba", "memamba.models.memamba_model:memamba", ("slides", "genomics"), "ME-Mamba, three experts",
               settings="memamba.models.memamba_model:MEMamba", patch_scores=True),
    ModelEntry("memamba-genomics", "memamba.models.memamba_model:memamba_genomics", ("genomics",),
               "ME-Mamba's Genomics Expert alone", settings="memamba.models.memamba_model:MEMamba"),
    ModelEntry("memamba-pathology", "memamba.models.memamba_model:memamba_pathology", ("slides",),
               "ME-Mamba's Pathology Expert alone", settings="memamba.models.memamba_model:MEMamba", patch_scores=True),
):
    MODELS.register(_entry)


def list_models(**where: Any) -> list[str]:
    """Names of the registered models whose metadata match ``where`` (e.g. ``modalities="slides"``, ``trainer="torch"``)."""
    return MODELS.names(**where)


def model_entry(name: str) -> ModelEntry:
    """The registry entry of ``name``, or an UnknownNameError listing the known names (variants: pass their ``base``)."""
    return MODELS.get(name)


def variant_entry(name: str, params: dict[str, Any] | None) -> ModelEntry:
    """The entry behind ``name``: its ``base`` when ``params`` (the config's ``models.NAME``) names one."""
    return model_entry((params or {}).get("base", name))


def model_defaults(name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every hyper-parameter of model ``name`` (a variant's: its base's) with its default, the variant's own values
    (``params``, the config's ``models.NAME``) in place; a model that reads genomics also has ``tokens``."""
    entry = variant_entry(name, params)
    defaults = {key: value for key, value in signature_defaults(entry.settings or entry.factory).items() if key != "inputs"}
    if "genomics" in entry.modalities:
        defaults["tokens"] = entry.tokens
    return {**defaults, **{key: value for key, value in (params or {}).items() if key != "base"}}


def token_set(name: str, params: dict[str, Any] | None = None) -> str:
    """The genomic token set model ``name`` (with the config's ``models.NAME``) reads: ``families`` or ``pathways``."""
    return model_defaults(name, params).get("tokens", "families")


def has_patch_scores(name: str, params: dict) -> bool:
    """Whether model ``name`` (registered, or a variant with ``params['base']``) computes patch scores."""
    return variant_entry(name, params).patch_scores and params.get("experts", "all") != "genomics"


def build_model(name: str, inputs: ModelInputs, params: dict[str, Any] | None = None) -> nn.Module:
    """Build model ``name`` for ``inputs`` with hyper-parameters ``params``.

    A ``base`` key in ``params`` makes ``name`` a variant of that registered model (an ablation in the
    config, e.g. ``memamba-no-ot: {base: memamba, use_ot: false}``)."""
    settings = dict(params or {})
    base = settings.pop("base", name)
    tokens = settings.pop("tokens", "families")
    if tokens not in TOKEN_SETS:
        raise ValueError(f"model {name!r}: tokens is {tokens!r}, not one of {list(TOKEN_SETS)}. Fix: edit models.{name}.tokens "
                         "in the config.")
    factory = resolve(model_entry(base).factory)
    try:
        return factory(inputs, **settings)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"model {name!r}: bad hyper-parameters {params} ({exc}). Fix: edit models.{name} in the config.") from exc
