"""Per-patch scores a trained model computes itself, for heatmaps: one score per patch per head.

- ``abmil``, ``abmil-snn``: ``attention_scores``, the gated-attention weights of the pool (softmax over the bag).
- ``mambamil``: ``attention_scores``, its final attention pool's weights, one per patch position after the scans.
- ``mcat``: per genomic family, the co-attention weights of that family's query over the patches (``coattention``).
- ``motcat``: per genomic family, the transport plan's mass on each patch (``transport``), as MOTCat weights them.
- ``porpoise``: ``attention_scores``, the gated-attention weights of its attention MIL (softmax over the bag).
- ``survpath``: ``pathway_attention``, the attention the pathway tokens give each patch, averaged over the pathways
  (each pathway's softmax runs over the pathways and the patches together, so a patch's share is what it takes from
  the pathways).
- ``cmta``: per genomic token, the weights of that token's query over the patch tokens in the genomics-in-patches
  attention (``coattention``); the copies that square the bag add their weight to the patch they copy.
- ``memamba``: ``attention_scan_layer_k``, sigmoid of each pathology dual-scan layer's learned score (what orders the
  attention-based scan and weights its output), and per genomic family the transport weights of its summary.
- ``transmil`` and genomics-only models: no patch score of their own (TransMIL's class token attends to the patches
  through Nyström landmarks, an approximation with no per-patch weight); :func:`patch_scores` says so.
"""

from __future__ import annotations

import torch
from torch import nn

from memamba.errors import MemambaError
from memamba.models.baselines import AttentionMILEncoder, EmbeddingSurvivalModel
from memamba.models.batch import Batch
from memamba.models.cmta import CMTA
from memamba.models.coattention import CoAttentionSurvival, motcat_plan
from memamba.models.memamba_model import MEMamba
from memamba.models.mil import MambaMIL
from memamba.models.porpoise import PorpoiseMMF
from memamba.models.survpath import SurvPath


def _attention_mil(model: EmbeddingSurvivalModel | PorpoiseMMF, batch: Batch) -> dict[str, torch.Tensor]:
    encoder: AttentionMILEncoder = model.slides
    scores = encoder.pool.scores(encoder.project(batch.patches), batch.patch_mask)
    return {"attention_scores": torch.softmax(scores, dim=-1)[0]}


def _coattention(model: CoAttentionSurvival, batch: Batch, families: list[str]) -> dict[str, torch.Tensor]:
    parts = torch.split(batch.genomics[0], model.token_sizes)
    genomic_tokens = torch.stack([embed(parts[i]) for embed, i in zip(model.token_embed, model.present)])
    patch_tokens = model.patch_embed(batch.bag(0))
    if model.coattention is not None:
        weights = model.coattention(genomic_tokens[None], patch_tokens[None], patch_tokens[None], need_weights=True)[1][0]
        kind = "coattention"
    else:
        weights, kind = motcat_plan(genomic_tokens, patch_tokens, model.ot_epsilon, model.ot_tau), "transport"
    return {f"{kind}/{families[i]}": weights[row] for row, i in enumerate(model.present)}


def _survpath(model: SurvPath, batch: Batch) -> dict[str, torch.Tensor]:
    pathway_tokens = model.pathways(batch.genomics[0])
    weights = model.attention(pathway_tokens, model.patch_project(batch.bag(0)))[2]
    return {"pathway_attention": weights.mean(0)}


def _cmta(model: CMTA, batch: Batch, families: list[str]) -> dict[str, torch.Tensor]:
    patches = batch.bag(0)
    weights = model.translations(patches, model.token_embed(batch.genomics[0]))["weights"][0]     # (M, side^2)
    real = len(patches)
    scores = weights[:, :real].clone()
    scores[:, : weights.shape[1] - real] += weights[:, real:]
    return {f"coattention/{families[i]}": scores[row] for row, i in enumerate(model.token_embed.present)}


def _memamba(model: MEMamba, batch: Batch, families: list[str]) -> dict[str, torch.Tensor]:
    if model.pathology is None:
        raise MemambaError("this ME-Mamba variant reads no slides, so it has no patch scores.")
    captured: list[torch.Tensor] = []
    hooks = [layer.score.register_forward_hook(lambda _m, _i, out: captured.append(torch.sigmoid(out[0, :, 0])))
             for layer in model.pathology.layers if layer.score is not None]
    try:
        patch_tokens = model.pathology(batch.patches, batch.patch_mask)
    finally:
        for hook in hooks:
            hook.remove()
    scores = {f"attention_scan_layer_{k}": score for k, score in enumerate(captured)}
    if model.synergy is not None:
        weights = model.synergy.transport_weights(patch_tokens, batch.patch_mask, model.genomics(batch.genomics))[0]
        scores.update({f"transport/{families[i]}": weights[row] for row, i in enumerate(model.genomics.present)})
    return scores


@torch.no_grad()
def patch_scores(model: nn.Module, batch: Batch, families: list[str]) -> dict[str, torch.Tensor]:
    """Each head's score (N,) for the N real patches of the one patient in ``batch``, the model in eval mode;
    ``families`` names the genomic tokens in order. A MemambaError for a model without patch scores."""
    if len(batch) != 1:
        raise ValueError("patch scores are computed one patient at a time")
    model.eval()
    if isinstance(model, (EmbeddingSurvivalModel, PorpoiseMMF)) and isinstance(model.slides, AttentionMILEncoder):
        scores = _attention_mil(model, batch)
    elif isinstance(model, SurvPath):
        scores = _survpath(model, batch)
    elif isinstance(model, CMTA):
        scores = _cmta(model, batch, families)
    elif isinstance(model, MambaMIL):
        scores = {"attention_scores": model.pooled(batch.bag(0))[0]}
    elif isinstance(model, CoAttentionSurvival):
        scores = _coattention(model, batch, families)
    elif isinstance(model, MEMamba):
        scores = _memamba(model, batch, families)
    else:
        raise MemambaError(f"{type(model).__name__} computes no per-patch score of its own. "
                           "Fix: draw heatmaps with abmil, abmil-snn, porpoise, mambamil, mcat, motcat, cmta, survpath or memamba.")
    real = int(batch.patch_mask[0].sum())
    return {head: score[:real].float().cpu() for head, score in scores.items()}
