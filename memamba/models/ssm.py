"""The Mamba-1 selective scan in pure PyTorch (chunked, no Python loop over positions).

Recurrence, per channel d and state n:  h_t = exp(delta_t * A) * h_{t-1} + delta_t * B_t * u_t,
y_t = <C_t, h_t> + D * u_t, optionally gated by silu(z_t). Shapes follow ``mamba_ssm``'s
``selective_scan_fn``: u, delta, z (batch, d_inner, L); A (d_inner, d_state); B, C (batch, d_state, L).

The torch backend splits the sequence into chunks of ``chunk`` positions and scans each chunk in
log2(chunk) parallel rounds (Hillis-Steele) instead of a loop over positions; the state at the end
of a chunk is carried into the next, which bounds the memory autograd keeps per chunk.
"""

from __future__ import annotations

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
                         chunk: int = 256) -> torch.Tensor:
    """Chunked parallel selective scan; same arguments and result as :func:`selective_scan_reference`."""
    delta = _prepare_delta(delta, delta_bias, delta_softplus)
    length = u.shape[-1]
    state = u.new_zeros(u.shape[0], u.shape[1], A.shape[1])
    outputs = []
    for start in range(0, length, chunk):
        stop = min(start + chunk, length)
        dt = delta[:, :, None, start:stop]                                       # (b, d, 1, l)
        decay = torch.exp(dt * A[None, :, :, None])                              # (b, d, n, l)
        drive = (dt * u[:, :, None, start:stop]) * B[:, None, :, start:stop]     # (b, d, n, l)
        decay_product, states = _hillis_steele(decay, drive)
        states = states + decay_product * state[..., None]
        outputs.append((states * C[:, None, :, start:stop]).sum(dim=2))
        state = states[..., -1]
    return _finish(torch.cat(outputs, dim=-1), u, D, z)


def _hillis_steele(decay: torch.Tensor, drive: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Inclusive scan of h_t = decay_t * h_{t-1} + drive_t (h_{-1} = 0) along the last axis.

    log2(length) rounds of the associative combine (a1, b1) o (a2, b2) = (a1 * a2, a2 * b1 + b2);
    returns the running decay products and the states. Decays are <= 1, so nothing overflows.
    """
    offset = 1
    length = decay.shape[-1]
    while offset < length:
        drive = drive + decay * F.pad(drive[..., :-offset], (offset, 0))
        decay = decay * F.pad(decay[..., :-offset], (offset, 0), value=1.0)
        offset *= 2
    return decay, drive


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
