"""Patch encoders in a registry: one small function per encoder, looked up by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Encoder:
    """A built patch encoder with the input it expects."""

    name: str
    model: nn.Module
    dim: int
    input_size: int | None
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


_ENCODERS: dict[str, Callable[[str | None], Encoder]] = {}


def register_encoder(name: str) -> Callable[[Callable[[str | None], Encoder]], Callable[[str | None], Encoder]]:
    """Decorator adding an encoder factory ``fn(weights_path) -> Encoder`` under ``name``."""

    def add(fn: Callable[[str | None], Encoder]) -> Callable[[str | None], Encoder]:
        _ENCODERS[name] = fn
        return fn

    return add


def list_encoders() -> list[str]:
    """Names of every registered encoder."""
    return sorted(_ENCODERS)


def build_encoder(name: str, weights: str | None = None) -> Encoder:
    """Build encoder ``name``, loading ``weights`` from a local path where the encoder has weights."""
    if name not in _ENCODERS:
        raise KeyError(f"unknown encoder {name!r}. Fix: use one of {list_encoders()} (config key extract.encoder).")
    return _ENCODERS[name](weights)


class ColourTextureStats(nn.Module):
    """A weight-free encoder of colour and texture statistics (16 values per patch).

    Per patch: RGB mean and standard deviation, grey-level quantiles (10/25/50/75/90 %), the
    fraction of dark pixels at two thresholds, gradient energy at two scales and mean saturation.
    It costs microseconds per patch on a CPU, which makes it the demo cohort's encoder.
    """

    dim = 16

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        rgb = images.float()
        flat = rgb.flatten(2)
        mean, std = flat.mean(-1), flat.std(-1)
        grey = (0.299 * rgb[:, 0] + 0.587 * rgb[:, 1] + 0.114 * rgb[:, 2]).flatten(1)
        quantiles = torch.quantile(grey, torch.tensor([0.1, 0.25, 0.5, 0.75, 0.9], device=rgb.device), dim=1).T
        dark = torch.stack([(grey < 0.35).float().mean(1), (grey < 0.5).float().mean(1)], 1)
        grey_image = grey.view(-1, 1, rgb.shape[2], rgb.shape[3])
        energies = []
        for step in (1, 2):
            dx = grey_image[..., :, step:] - grey_image[..., :, :-step]
            dy = grey_image[..., step:, :] - grey_image[..., :-step, :]
            energies.append(dx.abs().flatten(1).mean(1) + dy.abs().flatten(1).mean(1))
        high, low = rgb.max(1).values, rgb.min(1).values
        saturation = ((high - low) / high.clamp_min(1e-6)).flatten(1).mean(1, keepdim=True)
        return torch.cat([mean, std, quantiles, dark, torch.stack(energies, 1), saturation], 1)


@register_encoder("demo-stats")
def demo_stats(weights: str | None = None) -> Encoder:
    """Colour/texture statistics: no weights, 16-d, any input size, inputs in [0, 1]."""
    if weights is not None:
        raise ValueError("encoder 'demo-stats' has no weights. Fix: set extract.weights to null.")
    return Encoder("demo-stats", ColourTextureStats().eval(), ColourTextureStats.dim, None, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
