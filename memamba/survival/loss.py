"""The discrete-time negative log-likelihood survival loss (as in MCAT/PORPOISE)."""

from __future__ import annotations

import torch


def survival_from_logits(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Hazards ``sigmoid(logits)`` and survival ``S_k = prod_{j<=k} (1 - h_j)``."""
    hazards = torch.sigmoid(logits)
    return hazards, torch.cumprod(1 - hazards, dim=-1)


def nll_survival_loss(logits: torch.Tensor, label: torch.Tensor, censored: torch.Tensor, alpha: float = 0.0,
                      eps: float = 1e-7) -> torch.Tensor:
    """Mean discrete-time NLL over a batch.

    ``logits``: (B, K) hazard logits; ``label``: (B,) bin of the event or censoring time;
    ``censored``: (B,) 1 if censored. An uncensored patient contributes
    ``-log S_{y-1} - log h_y``; a censored one ``-log S_y``. ``alpha`` up-weights the
    uncensored terms: loss = (1 - alpha) * full + alpha * uncensored-only.
    """
    hazards, survival = survival_from_logits(logits)
    label = label.long().view(-1, 1)
    censored = censored.float().view(-1, 1)
    padded = torch.cat([torch.ones_like(survival[:, :1]), survival], dim=1)
    s_before = padded.gather(1, label).clamp_min(eps)
    s_at = padded.gather(1, label + 1).clamp_min(eps)
    h_at = hazards.gather(1, label).clamp_min(eps)
    uncensored_loss = -(1 - censored) * (torch.log(s_before) + torch.log(h_at))
    censored_loss = -censored * torch.log(s_at)
    full = censored_loss + uncensored_loss
    return ((1 - alpha) * full + alpha * uncensored_loss).mean()


def risk_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """Risk score ``-sum_k S_k`` (higher = shorter expected survival)."""
    return -survival_from_logits(logits)[1].sum(dim=-1)
