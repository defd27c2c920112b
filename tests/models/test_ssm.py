import pytest
import torch

from memamba.models.mamba import MambaBlock
from memamba.models.ssm import selective_scan_reference, selective_scan_torch

# float64 on CPU: the blocked two-level chunked scan (with its analytic backward) and the sequential loop agree to
# rounding error.
TOLERANCE = {"rtol": 1e-9, "atol": 1e-10}


def _inputs(length: int, seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    batch, d_inner, d_state = 2, 6, 4

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator, dtype=torch.float64).requires_grad_()

    return {"u": randn(batch, d_inner, length), "delta": randn(batch, d_inner, length),
            "A": (-torch.rand(d_inner, d_state, generator=generator, dtype=torch.float64) * 2).requires_grad_(),
            "B": randn(batch, d_state, length), "C": randn(batch, d_state, length), "D": randn(d_inner),
            "z": randn(batch, d_inner, length), "delta_bias": randn(d_inner)}


@pytest.mark.parametrize("length,chunk,block", [(1, 64, 1024), (37, 8, 1024), (130, 64, 1024), (64, 64, 1024), (200, None, 1024),
                                               (37, 4, 16), (200, None, 64), (64, 8, 32)])
def test_chunked_scan_matches_the_sequential_reference_with_gradients(length: int, chunk: int, block: int,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import memamba.models.ssm as ssm

    monkeypatch.setattr(ssm, "BLOCK", block)
    args = _inputs(length)
    fast = selective_scan_torch(**args, delta_softplus=True, chunk=chunk)
    slow = selective_scan_reference(**args, delta_softplus=True)
    torch.testing.assert_close(fast, slow, **TOLERANCE)
    weights = torch.randn_like(fast)
    fast_grads = torch.autograd.grad((fast * weights).sum(), list(args.values()))
    slow_grads = torch.autograd.grad((slow * weights).sum(), list(args.values()))
    for name, a, b in zip(args, fast_grads, slow_grads):
        torch.testing.assert_close(a, b, **TOLERANCE, msg=lambda m, name=name: f"gradient of {name}: {m}")


def test_mamba_block_is_causal_and_keeps_the_mamba_ssm_state_dict_layout() -> None:
    torch.manual_seed(0)
    block = MambaBlock(d_model=16).double()
    x = torch.randn(1, 20, 16, dtype=torch.float64)
    changed = x.clone()
    changed[:, 15:] += 1.0
    torch.testing.assert_close(block(x)[:, :15], block(changed)[:, :15])
    shapes = {k: tuple(v.shape) for k, v in block.state_dict().items()}
    assert shapes == {"A_log": (32, 16), "D": (32,), "in_proj.weight": (64, 16), "conv1d.weight": (32, 1, 4),
                      "conv1d.bias": (32,), "x_proj.weight": (33, 32), "dt_proj.weight": (32, 1),
                      "dt_proj.bias": (32,), "out_proj.weight": (16, 32)}


def test_backend_dispatch(monkeypatch: pytest.MonkeyPatch) -> None:
    import memamba.models.ssm as ssm
    from memamba.errors import MemambaError

    args = {k: v.detach() for k, v in _inputs(9).items()}
    monkeypatch.setattr(ssm, "mamba_ssm_scan", lambda: None)
    torch.testing.assert_close(ssm.selective_scan(**args, delta_softplus=True),
                               selective_scan_reference(**args, delta_softplus=True), **TOLERANCE)
    with pytest.raises(MemambaError, match=r"mamba-ssm does not import. Fix: pip install 'memamba\[cuda\]'"):
        ssm.selective_scan(**args, backend="mamba_ssm")
    with pytest.raises(MemambaError, match="unknown ssm backend 'triton'"):
        ssm.selective_scan(**args, backend="triton")
    calls = []

    def fused(*positional):
        calls.append(positional)
        return torch.zeros(1)

    monkeypatch.setattr(ssm, "mamba_ssm_scan", lambda: fused)
    ssm.selective_scan(**args, delta_softplus=True)
    assert calls == []  # auto keeps CPU tensors on the torch backend
    assert ssm.selective_scan(**args, delta_softplus=True, backend="mamba_ssm").shape == (1,)
    assert len(calls) == 1 and calls[0][0] is args["u"] and calls[0][-1] is True


def test_scan_under_bf16_autocast_widens_bf16_inputs_and_returns_float32_gradients() -> None:
    args = {name: tensor.detach().float() for name, tensor in _inputs(50).items()}
    low = {name: (t.bfloat16() if name in ("u", "delta", "B", "C", "z") else t).requires_grad_() for name, t in args.items()}
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = selective_scan_torch(**low, delta_softplus=True)
    assert out.dtype == torch.float32
    out.sum().backward()
    assert {name: t.grad.dtype for name, t in low.items()} == {name: t.dtype for name, t in low.items()}
    exact = {name: t.detach().double().requires_grad_() for name, t in low.items()}
    reference = selective_scan_reference(**exact, delta_softplus=True)
    reference.sum().backward()
    torch.testing.assert_close(out.double(), reference, rtol=1e-4, atol=1e-4)
    for name in low:
        torch.testing.assert_close(low[name].grad.double(), exact[name].grad.to(low[name].dtype).double(), rtol=2e-2, atol=2e-2)
