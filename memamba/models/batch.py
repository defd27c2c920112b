"""A batch of patients: right-padded patch bags with a mask, and genomic feature rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass
class Batch:
    """What every model's ``forward`` receives.

    ``patches`` (b, N, D) holds each patient's bag from position 0 on, padded at the end to the
    longest bag; ``patch_mask`` (b, N) is True on real patches. ``genomics`` is (b, F). Either
    modality is None when the model does not use it.
    """

    patches: torch.Tensor | None
    patch_mask: torch.Tensor | None
    genomics: torch.Tensor | None

    def __len__(self) -> int:
        return len(self.patches if self.patches is not None else self.genomics)

    def bag(self, row: int) -> torch.Tensor:
        """The real patches (N_i, D) of the patient at ``row``."""
        return self.patches[row, self.patch_mask[row]]

    def to(self, device: torch.device | str) -> Batch:
        """The same batch on ``device``."""
        def move(tensor: torch.Tensor | None) -> torch.Tensor | None:
            return None if tensor is None else tensor.to(device, non_blocking=True)
        return Batch(move(self.patches), move(self.patch_mask), move(self.genomics))

    def pin_memory(self) -> Batch:
        """The same batch in page-locked memory (what a DataLoader with ``pin_memory`` calls), for fast copies to a GPU."""
        def pin(tensor: torch.Tensor | None) -> torch.Tensor | None:
            return None if tensor is None else tensor.pin_memory()
        return Batch(pin(self.patches), pin(self.patch_mask), pin(self.genomics))


def collate(bags: Sequence[torch.Tensor] | None, genomics: Sequence[torch.Tensor] | torch.Tensor | None) -> Batch:
    """Stack patients into a Batch: bags (each (N_i, D), N_i >= 1) are right-padded with zeros."""
    patches = mask = None
    if bags is not None:
        if any(len(bag) == 0 for bag in bags):
            raise ValueError("every bag needs at least one patch (the cohort gives an empty bag one neutral patch)")
        longest = max(len(bag) for bag in bags)
        patches = bags[0].new_zeros((len(bags), longest, bags[0].shape[1]))
        mask = torch.zeros((len(bags), longest), dtype=torch.bool)
        for row, bag in enumerate(bags):
            patches[row, : len(bag)] = bag
            mask[row, : len(bag)] = True
    rows = None if genomics is None else torch.stack(list(genomics))
    return Batch(patches, mask, rows)


def single(patches: torch.Tensor | None = None, genomics: torch.Tensor | None = None) -> Batch:
    """A batch of one patient: ``patches`` (N, D) and/or ``genomics`` (F,)."""
    return collate(None if patches is None else [patches], None if genomics is None else [genomics])
