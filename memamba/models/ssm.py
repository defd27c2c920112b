"""The Mamba-1 selective scan in pure PyTorch (chunked, no Python loop over positions).

Recurrence, per channel d and state n:  h_t = exp(delta_t * A) * h_{t-1} + delta_t * B_t * u_t,
y_t = <C_t, h_t> + D * u_t, optionally gated by silu(z_t). Shapes follow ``mamba_ssm``'s
``selective_scan_fn``: u, delta, z (batch, d_inner, L); A (d_inner, d_state); B, C (batch, d_state, L).

The torch backend (:func:`selective_scan_torch`) is a two-level chunked scan (:func:`linear_scan`) with an
analytic backward, so autograd keeps no per-position intermediates.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def selective_scan_reference(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor,
                             D: torch.Tensor | None = None, z: torch.Tensor | None = None,
                             delta_bias: torch.Tensor | None = None, delta_softplus: bool = False) -> torch.Tensor:
    """Sequential loop over positions: slow, obviously correct; the tests compare the fast path with it."""
    delta = _prepare_delta(delta, delta_bias, delta_softplus)
    batch, d_inner, length = u.shape
    state = u.new_zeros(batch, d_inner, A.shape[1])
    outputs = []
    for t in range(length):
        decay = torch.exp(delta[:, :, t, None] * A)
        state = decay * state + (delta[:, :, t] * u[:, :, t])[..., None] * B[:, None, :, t]
        outputs.append(torch.einsum("bdn,bn->bd", state, C[:, :, t]))
    return _finish(torch.stack(outputs, dim=-1), u, D, z)


def selective_scan_torch(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor,
                         D: torch.Tensor | None = None, z: torch.Tensor | None = None,
                         delta_bias: torch.Tensor | None = None, delta_softplus: bool = False,
                         chunk: int | None = None) -> torch.Tensor:
    """Two-level chunked selective scan; same arguments and result as :func:`selective_scan_reference`.

    ``chunk`` positions per chunk (default about sqrt(L), which makes the scan's two loops equally short).
    """
    delta = _prepare_delta(delta, delta_bias, delta_softplus)
    return _finish(_SelectiveScan.apply(u, delta, A, B, C, chunk), u, D, z)


class _SelectiveScan(torch.autograd.Function):
    """y_t = <C_t, h_t> with h_t = exp(delta_t A) h_{t-1} + delta_t u_t B_t, with an analytic backward.

    The backward runs the adjoint recurrence g_t = exp(delta_{t+1} A) g_{t+1} + C_t dy_t through the same
    two-level scan (reversed) and forms every gradient from g and the recomputed states h; only the
    inputs are kept between forward and backward.
    """

    @staticmethod
    def forward(ctx, u, delta, A, B, C, chunk):  # noqa: ANN001, ANN205 - autograd's signature
        ctx.save_for_backward(u, delta, A, B, C)
        ctx.chunk = chunk
        states = linear_scan(*_decay_and_drive(u, delta, A, B), chunk)
        return torch.einsum("bdnl,bnl->bdl", states, C)

    @staticmethod
    def backward(ctx, dy):  # noqa: ANN001, ANN205 - autograd's signature
        u, delta, A, B, C = ctx.saved_tensors
        decay, drive = _decay_and_drive(u, delta, A, B)
        states = linear_scan(decay, drive, ctx.chunk)
        del drive
        next_decay = F.pad(decay[..., 1:], (0, 1)).flip(-1)
        adjoint = linear_scan(next_decay, (dy[:, :, None, :] * C[:, None, :, :]).flip(-1), ctx.chunk).flip(-1)
        del next_decay
        d_C = torch.einsum("bdnl,bdl->bnl", states, dy)
        through_decay = adjoint * F.pad(states[..., :-1], (1, 0)) * decay           # dLoss / d(delta_t A)
        del states, decay
        adjoint_B = torch.einsum("bdnl,bnl->bdl", adjoint, B)
        d_delta = torch.einsum("bdnl,dn->bdl", through_decay, A) + adjoint_B * u
        d_A = torch.einsum("bdnl,bdl->dn", through_decay, delta)
        d_B = torch.einsum("bdnl,bdl->bnl", adjoint, delta * u)
        return adjoint_B * delta, d_delta, d_A, d_B, d_C, None


def _decay_and_drive(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """exp(delta_t A) and delta_t u_t B_t, both (batch, d_inner, d_state, L)."""
    decay = torch.exp(delta[:, :, None, :] * A[None, :, :, None])
    drive = (delta * u)[:, :, None, :] * B[:, None, :, :]
    return decay, drive


def linear_scan(decay: torch.Tensor, drive: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
    """States of h_t = decay_t * h_{t-1} + drive_t (h_{-1} = 0) along the last axis, in two levels.

    The sequence is cut into chunks laid side by side; one loop over the positions of a chunk scans every
    chunk at once from a zero state (keeping each chunk's running decay product), a short loop over the
    chunks carries the true state across chunk boundaries, and one fused update adds each chunk's incoming
    state times the running products. About 2 sqrt(L) Python steps and O(L) work; decays are <= 1, so
    the running products never overflow.
    """
    length = decay.shape[-1]
    step = chunk or max(1, math.isqrt(length))
    chunks = -(-length // step)
    pad = chunks * step - length
    decay = F.pad(decay, (0, pad), value=1.0).unflatten(-1, (chunks, step)).transpose(-1, -2).contiguous()
    states = F.pad(drive, (0, pad)).unflatten(-1, (chunks, step)).transpose(-1, -2).contiguous()
    for t in range(1, step):
        states[..., t, :].addcmul_(decay[..., t, :], states[..., t - 1, :])
        decay[..., t, :].mul_(decay[..., t - 1, :])
    incoming = torch.zeros_like(states[..., 0, :])
    for c in range(1, chunks):
        incoming[..., c] = decay[..., -1, c - 1] * incoming[..., c - 1] + states[..., -1, c - 1]
    states.addcmul_(decay, incoming[..., None, :])
    return states.transpose(-1, -2).flatten(-2)[..., :length]


def _prepare_delta(delta: torch.Tensor, bias: torch.Tensor | None, softplus: bool) -> torch.Tensor:
    if bias is not None:
        delta = delta + bias[None, :, None]
    return F.softplus(delta) if softplus else delta


def _finish(y: torch.Tensor, u: torch.Tensor, D: torch.Tensor | None, z: torch.Tensor | None) -> torch.Tensor:
    if D is not None:
        y = y + D[None, :, None] * u
    if z is not None:
        y = y * F.silu(z)
    return y
