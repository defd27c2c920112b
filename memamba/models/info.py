"""Parameter counts per part of a model and a FLOP estimate per patient, for ``memamba model-info``."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from memamba.models.batch import single
from memamba.models.mamba import MambaBlock
from memamba.models.registry import ModelInputs, build_model, variant_entry

# Per position, channel and state of a selective scan: exp and product of the decay, the drive product,
# the state update (multiply-add) and the read-out (multiply-add).
SCAN_FLOPS_PER_STATE = 7


@dataclass
class ModelInfo:
    """Parameters per top-level part, and per bag size the forward FLOPs (matrix products and scans)."""

    parameters: dict[str, int]
    forward_gflops: dict[int, float]


def count_scan_flops(model: nn.Module) -> tuple[list[int], list[torch.utils.hooks.RemovableHandle]]:
    """Hooks adding each Mamba block's scan FLOPs (not seen by torch's FLOP counter) to a one-element list."""
    total = [0]

    def add(block: MambaBlock, args: tuple[torch.Tensor, ...]) -> None:
        batch, length, _ = args[0].shape
        total[0] += SCAN_FLOPS_PER_STATE * batch * length * block.d_inner * block.A_log.shape[1]

    handles = [m.register_forward_pre_hook(add) for m in model.modules() if isinstance(m, MambaBlock)]
    return total, handles


@torch.no_grad()
def model_info(name: str, inputs: ModelInputs, params: dict, bag_sizes: list[int]) -> ModelInfo:
    """Build model ``name`` and measure one forward pass per bag size on random inputs (CPU)."""
    model = build_model(name, inputs, params).eval()
    parts = {child: sum(p.numel() for p in module.parameters()) for child, module in model.named_children()}
    parts["total"] = sum(p.numel() for p in model.parameters())
    uses_slides = "slides" in variant_entry(name, params).modalities
    genomics = torch.randn(sum(inputs.token_sizes)) if inputs.token_sizes else None
    gflops = {}
    for n in bag_sizes:
        scan, handles = count_scan_flops(model)
        with FlopCounterMode(display=False) as counter:
            model(single(torch.randn(n, inputs.patch_dim) if uses_slides else None, genomics))
        for handle in handles:
            handle.remove()
        gflops[n] = (counter.get_total_flops() + scan[0]) / 1e9
    return ModelInfo(parts, gflops)
