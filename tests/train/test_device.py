"""Choosing the device: ``cuda`` where torch sees no card is one clear error, ``auto`` falls back to the CPU."""

from __future__ import annotations

import pytest
import torch

from memamba.errors import MemambaError
from memamba.train.device import pick_device

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")


@no_cuda
def test_cuda_without_a_card_says_so_and_how_to_choose_instead() -> None:
    with pytest.raises(MemambaError, match=r"device 'cuda' was asked for, but torch .* sees no CUDA device here .*"
                                           r"Fix: .* set the device \(train.device, extract.device, --device\) to auto"):
        pick_device("cuda")


@no_cuda
def test_auto_is_the_cpu_without_a_card() -> None:
    assert pick_device("auto") == torch.device("cpu") and pick_device("cpu") == torch.device("cpu")
