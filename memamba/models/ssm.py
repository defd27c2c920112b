"""The Mamba-1 selective scan in pure PyTorch (chunked, no Python loop over positions).

Recurrence, per channel d and state n:  h_t = exp(delta_t * A) * h_{t-1} + delta_t * B_t * u_t,
y_t = <C_t, h_t> + D * u_t, optionally gated by silu(z_t). Shapes follow ``mamba_ssm``'s
``selective_scan_fn``: u, delta, z (batch, d_inner, L); A (d_inner, d_state); B, C (batch, d_state, L).

Backends (:func:`selective_scan`): ``torch`` (:func:`selective_scan_torch`, a blocked two-level chunked scan with
an analytic backward, so autograd keeps no per-position intermediates) and ``mamba_ssm`` (the package's fused
CUDA kernel, same arguments); ``auto`` takes ``mamba_ssm`` for CUDA tensors when it imports, else ``torch``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from memamba.errors import MemambaError

SCAN_BACKENDS = ("auto", "torch", "mamba_ssm")


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


def selective_scan(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor,
                   D: torch.Tensor | None = None, z: torch.Tensor | None = None, delta_bias: torch.Tensor | None = None,
                   delta_softplus: bool = False, backend: str = "auto") -> torch.Tensor:
    """The selective scan on the chosen backend (``auto``, ``torch`` or ``mamba_ssm``)."""
    if backend not in SCAN_BACKENDS:
        raise MemambaError(f"unknown ssm backend {backend!r}. Fix: use one of {list(SCAN_BACKENDS)} (models.NAME.ssm_backend).")
    fused = mamba_ssm_scan()
    if backend == "mamba_ssm" and fused is None:
        raise MemambaError("ssm backend 'mamba_ssm' was asked for but mamba-ssm does not import. Fix: pip install "
                           "'memamba[cuda]' on a CUDA machine, or set models.NAME.ssm_backend to auto or torch.")
    if resolved_backend(backend, u.device) == "mamba_ssm":
        return fused(u, delta, A.float(), B, C, None if D is None else D.float(), z,
                     None if delta_bias is None else delta_bias.float(), delta_softplus)
    return selective_scan_torch(u, delta, A, B, C, D, z, delta_bias, delta_softplus)


def resolved_backend(backend: str, device: torch.device | str) -> str:
    """The backend ``backend`` runs on for tensors on ``device``: ``auto`` is ``mamba_ssm`` on CUDA when it imports."""
    if backend == "auto":
        return "mamba_ssm" if torch.device(device).type == "cuda" and mamba_ssm_scan() is not None else "torch"
    return backend


@functools.cache
def mamba_ssm_scan() -> Callable[..., torch.Tensor] | None:
    """mamba-ssm's fused ``selective_scan_fn``, or None where the package does not import."""
    try:
        from mamba_ssm.ops.selective_scan_interface import selective_scan_fn
    except ImportError:
        return None
    return selective_scan_fn


def selective_scan_torch(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor,
                         D: torch.Tensor | None = None, z: torch.Tensor | None = None,
                         delta_bias: torch.Tensor | None = None, delta_softplus: bool = False,
                         chunk: int | None = None) -> torch.Tensor:
    """Two-level chunked selective scan; same arguments and result as :func:`selective_scan_reference`.

    ``chunk`` positions per chunk (default about sqrt(L), which makes the scan's two loops equally short).
    The scan runs in float64 when any input is float64, else in float32 (bf16/fp16 inputs, as autocast gives
    them, are widened first, as mamba-ssm's kernel does internally), with autocast off; the result has that dtype.
    """
    tensors = [t for t in (u, delta, A, B, C, D, z, delta_bias) if t is not None]
    dtype = torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32
    u, delta, A, B, C, D, z, delta_bias = (None if t is None else t.to(dtype) for t in (u, delta, A, B, C, D, z, delta_bias))
    with torch.autocast(u.device.type, enabled=False):
        delta = _prepare_delta(delta, delta_bias, delta_softplus)
        return _finish(_SelectiveScan.apply(u, delta, A, B, C, chunk), u, D, z)


BLOCK = 256
"""Positions per block: the scan walks the sequence block by block, so its per-position tensors
(decays, drives, states: block x batch x d_inner x d_state) stay this short whatever the length."""


class _SelectiveScan(torch.autograd.Function):
    """y_t = <C_t, h_t> with h_t = exp(delta_t A) h_{t-1} + delta_t u_t B_t, with an analytic backward.

    The sequence is processed in blocks of :data:`BLOCK` positions, each scanned from the state the
    previous block ended with; only the inputs and the state entering each block are kept between
    forward and backward. The backward walks the blocks in reverse, recomputes a block's states from
    its entry state, and runs the adjoint recurrence g_t = exp(delta_{t+1} A) g_{t+1} + C_t dy_t through
    the same chunked scan (backwards in time), carrying the adjoint across block edges; every gradient
    comes from g and h by einsum contractions. Time is the leading axis inside, (L, b, d, n), so that
    every step of the scan works on contiguous memory.
    """

    @staticmethod
    def forward(ctx, u, delta, A, B, C, chunk):  # noqa: ANN001, ANN205 - autograd's signature
        state = u.new_zeros(u.shape[0], u.shape[1], A.shape[1])
        entry_states, outputs = [], []
        for block in _blocks(u.shape[-1]):
            decay, drive = _decay_and_drive(u[..., block], delta[..., block], A, B[..., block])
            entry_states.append(state)
            drive[0].addcmul_(decay[0], state)
            states = linear_scan(decay, drive, chunk)
            outputs.append(torch.einsum("lbdn,lbn->bdl", states, _time_first(C[..., block])))
            state = states[-1].clone()
        ctx.save_for_backward(u, delta, A, B, C, torch.stack(entry_states))
        ctx.chunk = chunk
        return torch.cat(outputs, dim=-1)

    @staticmethod
    def backward(ctx, dy):  # noqa: ANN001, ANN205 - autograd's signature
        with torch.autocast(dy.device.type, enabled=False):
            return _SelectiveScan._backward(ctx, dy.to(ctx.saved_tensors[0].dtype))

    @staticmethod
    def _backward(ctx, dy):  # noqa: ANN001, ANN205 - autograd's signature
        u, delta, A, B, C, entry_states = ctx.saved_tensors
        carried = torch.zeros_like(entry_states[0])          # q at the first position of the following block
        d_A = torch.zeros_like(A)
        grads: list[tuple[torch.Tensor, ...]] = []
        for index, block in reversed(list(enumerate(_blocks(u.shape[-1])))):
            entry = entry_states[index]
            decay, drive = _decay_and_drive(u[..., block], delta[..., block], A, B[..., block])
            drive[0].addcmul_(decay[0], entry)
            states = linear_scan(decay.clone(), drive, ctx.chunk)                              # h_t
            dy_t, delta_t, u_t = _time_first(dy[..., block]), _time_first(delta[..., block]), _time_first(u[..., block])
            adjoint = dy_t[..., None] * _time_first(C[..., block])[:, :, None, :]                 # C_t dy_t
            # q_t = exp(delta_t A) g_t obeys q_t = a_t q_{t+1} + a_t C_t dy_t, a reverse scan of the unshifted
            # decays; then g_t = q_{t+1} + C_t dy_t and dLoss/d(delta_t A) = q_t h_{t-1}, with slices, not copies.
            drive_back = adjoint * decay
            drive_back[-1].addcmul_(decay[-1], carried)
            through_decay = linear_scan(decay, drive_back, ctx.chunk, reverse=True)
            adjoint[:-1].add_(through_decay[1:])
            adjoint[-1].add_(carried)                                                             # g_t
            carried = through_decay[0].clone()
            d_C = torch.einsum("lbdn,lbd->bnl", states, dy_t)
            through_decay[1:].mul_(states[:-1])
            through_decay[0].mul_(entry)
            del states
            adjoint_B = torch.einsum("lbdn,lbn->lbd", adjoint, _time_first(B[..., block]))
            d_B = torch.einsum("lbdn,lbd->bnl", adjoint, delta_t * u_t)
            d_delta = torch.einsum("lbdn,dn->lbd", through_decay, A) + adjoint_B * u_t
            d_A += torch.einsum("lbdn,lbd->dn", through_decay, delta_t)
            grads.append(((adjoint_B * delta_t).permute(1, 2, 0), d_delta.permute(1, 2, 0), d_B, d_C))
        d_u, d_delta, d_B, d_C = (torch.cat(parts[::-1], dim=-1) for parts in zip(*grads))
        return d_u, d_delta, d_A, d_B, d_C, None


def _blocks(length: int) -> list[slice]:
    return [slice(start, min(start + BLOCK, length)) for start in range(0, length, BLOCK)]


def _decay_and_drive(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """exp(delta_t A) and delta_t u_t B_t, both (L, batch, d_inner, d_state)."""
    delta_t = _time_first(delta)[..., None]
    decay = torch.exp(delta_t * A)
    drive = (delta_t * _time_first(u)[..., None]) * _time_first(B)[:, :, None, :]
    return decay, drive


def _time_first(x: torch.Tensor) -> torch.Tensor:
    """(batch, channels, L) as a contiguous (L, batch, channels), so that products built from it are time-major."""
    return x.permute(2, 0, 1).contiguous()


def linear_scan(decay: torch.Tensor, drive: torch.Tensor, chunk: int | None = None, reverse: bool = False) -> torch.Tensor:
    """States of h_t = decay_t * h_{t-1} + drive_t along the leading (time) axis, h_{-1} = 0; with ``reverse``,
    h_t = decay_t * h_{t+1} + drive_t, h_L = 0. Both inputs are overwritten (the result lives in ``drive``).

    The sequence is cut into chunks; one loop over the positions of a chunk scans every chunk at once from
    a zero state (keeping each chunk's running decay product), a short loop over the chunks carries the
    true state across chunk boundaries, and one fused update adds each chunk's incoming state times the
    running products. About 2 sqrt(L) Python steps and O(L) work; decays are <= 1, so the running
    products never overflow.
    """
    length, rest = decay.shape[0], decay.shape[1:]
    step = chunk or max(1, math.isqrt(length))
    chunks = -(-length // step)
    pad = chunks * step - length
    if pad:
        ones, zeros = decay.new_ones(pad, *rest), drive.new_zeros(pad, *rest)
        decay = torch.cat([ones, decay] if reverse else [decay, ones])
        drive = torch.cat([zeros, drive] if reverse else [drive, zeros])
    decay, states = decay.view(chunks, step, -1), drive.view(chunks, step, -1)
    order = range(step - 2, -1, -1) if reverse else range(1, step)
    for t in order:
        before = t + 1 if reverse else t - 1
        states[:, t].addcmul_(decay[:, t], states[:, before])
        decay[:, t].mul_(decay[:, before])
    incoming = torch.zeros_like(states[:, 0])
    edge = 0 if reverse else -1
    for c in range(chunks - 2, -1, -1) if reverse else range(1, chunks):
        before = c + 1 if reverse else c - 1
        incoming[c] = decay[before, edge] * incoming[before] + states[before, edge]
    states.addcmul_(decay, incoming[:, None])
    states = states.view(chunks * step, *rest)
    return states[pad:] if reverse else states[:length]


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
