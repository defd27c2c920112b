import numpy as np
import torch

from memamba.survival.bins import discretise, fit_bin_edges
from memamba.survival.loss import nll_survival_loss, risk_from_logits
from memamba.survival.metrics import harrell_c, logrank_p


def test_bin_edges_come_from_uncensored_quantiles() -> None:
    time = np.array([1, 2, 3, 4, 5, 6, 7, 8, 100, 200.0])
    event = np.array([1, 1, 1, 1, 1, 1, 1, 1, 0, 0])
    edges = fit_bin_edges(time, event, 4)
    assert edges[0] == 0 and np.isinf(edges[-1])
    np.testing.assert_allclose(edges[1:-1], np.quantile(time[:8], [0.25, 0.5, 0.75]))
    assert discretise(np.array([0.5, 2.75, 5.0, 1000]), edges).tolist() == [0, 1, 2, 3]


def test_nll_matches_the_formula() -> None:
    logits = torch.tensor([[0.0, 1.0, -1.0, 0.5]])
    h = torch.sigmoid(logits)[0]
    s = torch.cumprod(1 - h, 0)
    uncensored = nll_survival_loss(logits, torch.tensor([2]), torch.tensor([0]), alpha=0.0)
    assert torch.isclose(uncensored, -(torch.log(s[1]) + torch.log(h[2])))
    censored = nll_survival_loss(logits, torch.tensor([2]), torch.tensor([1]), alpha=0.0)
    assert torch.isclose(censored, -torch.log(s[2]))
    assert torch.isclose(nll_survival_loss(logits, torch.tensor([2]), torch.tensor([1]), alpha=1.0), torch.tensor(0.0))


def test_risk_is_minus_summed_survival() -> None:
    logits = torch.tensor([[-3.0, -3, -3, -3], [3.0, 3, 3, 3]])
    risk = risk_from_logits(logits)
    assert risk[1] > risk[0]


def test_harrell_c_extremes_and_logrank() -> None:
    time = np.arange(1, 41, dtype=float)
    event = np.ones(40, int)
    assert harrell_c(time, event, -time) == 1.0
    assert harrell_c(time, event, time) == 0.0
    group = np.where(time < 20, "high", "low")
    assert logrank_p(time, event, group) < 1e-4
    assert np.isnan(logrank_p(time, event, np.full(40, "low")))
