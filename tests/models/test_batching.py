"""Several patients share a batch: padding and masks must not change any patient's outputs or gradients."""

import pytest
import torch

from memamba.models import ModelInputs, build_model, collate, list_models, single
from memamba.models.registry import model_entry

INPUTS = ModelInputs(patch_dim=16, token_sizes=[5, 0, 7, 3], n_bins=4)
BAG_SIZES = (7, 40, 1, 13)


def _patients(uses_slides: bool) -> tuple[list[torch.Tensor] | None, torch.Tensor]:
    torch.manual_seed(1)
    bags = [torch.randn(n, 16, requires_grad=True) for n in BAG_SIZES] if uses_slides else None
    return bags, torch.randn(len(BAG_SIZES), 15)


@pytest.mark.parametrize("name", [m for m in list_models() if model_entry(m).trainer == "torch"])
def test_a_patients_logits_and_gradients_do_not_depend_on_its_batch(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(name, INPUTS, {"mmd_max_patches": 8} if name == "memamba" else {}).eval()
    uses_slides = "slides" in model_entry(name).modalities
    bags, genomics = _patients(uses_slides)
    batch = collate(bags, genomics)
    if uses_slides:
        batch.patches = batch.patches + 1e3 * (~batch.patch_mask)[..., None]
    batched_logits, batched_auxiliary = model(batch)
    singles = [model(single(bags[i] if uses_slides else None, genomics[i])) for i in range(len(BAG_SIZES))]
    torch.testing.assert_close(batched_logits, torch.cat([logits for logits, _ in singles]), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(batched_auxiliary, torch.stack([aux for _, aux in singles]).mean(), rtol=1e-4, atol=1e-6)
    if uses_slides:
        batched_grads = torch.autograd.grad(batched_logits.sum(), bags)
        single_grads = [torch.autograd.grad(logits.sum(), bag)[0] for (logits, _), bag in zip(singles, bags)]
        for batched, alone in zip(batched_grads, single_grads):
            torch.testing.assert_close(batched, alone, rtol=1e-3, atol=1e-5)


def test_collate_pads_at_the_end_and_refuses_empty_bags() -> None:
    batch = collate([torch.ones(2, 3), torch.ones(4, 3)], torch.zeros(2, 5))
    assert batch.patches.shape == (2, 4, 3) and batch.patch_mask.tolist() == [[True, True, False, False], [True] * 4]
    assert batch.patches[0, 2:].abs().sum() == 0 and len(batch) == 2
    with pytest.raises(ValueError, match="at least one patch"):
        collate([torch.ones(0, 3)], None)
