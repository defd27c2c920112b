"""One fold's inputs with its fitted transforms, and the batches read from them while training.

Patch features stay in their files: the patch scaler is fitted by one streaming pass over the training
patients' files, and every batch reads, scales and pads its patients' bags when it is needed, in DataLoader
workers that prefetch the next batches while the model works on the current one. A job's memory is then set
by the model and the largest batches in flight, not by the number of patients.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from memamba.data.bags import PatchBags
from memamba.errors import MemambaError
from memamba.models import Batch, collate
from memamba.train.transforms import RunningMoments, Standardiser

log = logging.getLogger(__name__)

PREFETCH_BATCHES = 2
"""Batches each reading worker keeps ready ahead of the model."""


@dataclass
class FoldData:
    """One fold's inputs, rows being the cohort's patients, with every fitted transform: bags scaled by
    ``patch_scaler`` as they are read (a patient without patches gets one neutral patch, the training mean)."""

    bags: PatchBags | None
    patch_scaler: Standardiser | None
    genomics: torch.Tensor
    labels: torch.Tensor
    censored: torch.Tensor
    train_rows: np.ndarray
    inner_val_rows: np.ndarray
    val_rows: np.ndarray
    state: dict[str, Any]

    @property
    def patch_dim(self) -> int:
        """Features per patch (0 for a cohort without patch features)."""
        return 0 if self.bags is None else self.bags.dim

    def bag(self, row: int) -> torch.Tensor:
        """The scaled bag of the patient at ``row``, read from its feature files."""
        raw = self.bags.read(row)
        return torch.from_numpy(self.patch_scaler(raw) if len(raw) else np.zeros((1, self.bags.dim), np.float32))

    def batch(self, rows: np.ndarray) -> Batch:
        """The patients at ``rows`` as one padded batch."""
        return collate(None if self.bags is None else [self.bag(row) for row in rows], self.genomics[rows])


class _Loaded(Dataset):
    """Item k: ``produce(items[k])`` with ``items[k]``, a MemambaError returned (not raised) so that the main process
    raises it with its own message rather than as a worker's traceback."""

    def __init__(self, produce: Any, items: Sequence[Any]) -> None:
        self.produce, self.items = produce, items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, k: int) -> tuple[Any, Any]:
        try:
            return self.items[k], self.produce(self.items[k])
        except MemambaError as exc:
            return self.items[k], exc


def _as_is(item: Any) -> Any:
    return item


def _loaded(produce: Any, items: Sequence[Any], workers: int, pin: bool = False) -> Iterator[tuple[Any, Any]]:
    """(item, produce(item)) for every item in order, computed by ``workers`` processes ahead of the consumer
    (in this process with 0)."""
    loader = DataLoader(_Loaded(produce, items), batch_size=None, shuffle=False, num_workers=workers, collate_fn=_as_is,
                        pin_memory=pin, prefetch_factor=PREFETCH_BATCHES if workers else None,
                        generator=torch.Generator().manual_seed(0))      # its own seed source: the model's random stream is untouched
    for item, result in loader:
        if isinstance(result, MemambaError):
            raise result
        yield item, result


def fold_batches(data: FoldData, batches: Sequence[np.ndarray], workers: int, device: torch.device) -> Iterator[tuple[np.ndarray, Batch]]:
    """(rows, batch on ``device``) for each array of patient rows in ``batches``, in order."""
    for rows, batch in _loaded(data.batch, batches, workers, pin=device.type == "cuda"):
        yield rows, batch.to(device)


def fit_patch_scaler(bags: PatchBags, rows: np.ndarray, workers: int) -> Standardiser:
    """Column means and standard deviations of every patch of the patients at ``rows`` (the training part), exact,
    from one streaming pass over their feature files."""
    moments = RunningMoments()
    for _, patient in _loaded(functools.partial(_moments_of, bags), list(rows), workers):
        moments = moments.merge(patient)
    if not moments.count:
        raise MemambaError("no training patient has a patch. Fix: check the feature files (every bag is empty).")
    return moments.standardiser()


def _moments_of(bags: PatchBags, row: int) -> RunningMoments:
    return RunningMoments.of(bags.read(row))


def reading_workers(requested: int | None, device: torch.device) -> int:
    """Reading processes per training job: ``requested``, or with None 4 on a GPU (so that reading keeps up with
    it) and 0 on the CPU (where workers would take cores from the model)."""
    if requested is not None:
        return requested
    return 4 if device.type == "cuda" else 0
