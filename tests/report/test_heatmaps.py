import json
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from memamba.data.bags import PatchBags
from memamba.data.cohort import Cohort
from memamba.errors import MemambaError
from memamba.report.heatmaps import FoldScorer, extreme_patients, write_slide_scores
from memamba.train.checkpoint import fold_checkpoint
from memamba.train.loop import train_fold
from memamba.train.transforms import GenomicTransform

TRAIN = {"epochs": 1, "lr": 1e-3, "weight_decay": 1e-4, "alpha": 0.15, "n_bins": 2, "seed": 0, "batch_size": 4,
         "accumulate": 1, "optimizer": "adam", "weighted_sampling": False, "amp": False, "inner_val_fraction": 0.0,
         "early_stopping_patience": 0}


def _cohort(folder: Path, n: int = 16) -> Cohort:
    """Patients with two slides each (feature files with coords) and two CNV families."""
    rng = np.random.default_rng(0)
    patients = [f"P{i:02d}" for i in range(n)]
    files = []
    for patient in patients:
        paths = []
        for slide in (1, 2):
            path = folder / f"{patient}-{slide}.h5"
            with h5py.File(path, "w") as h5:
                count = int(rng.integers(3, 9))
                h5["features"] = rng.normal(size=(count, 6)).astype(np.float32)
                h5["coords"] = np.stack([np.arange(count) * 256, np.zeros(count, int)], axis=1)
                h5["coords"].attrs["patch_size_level0"] = 256
            paths.append(path)
        files.append(paths)
    genes = {f"C{j}_cnv": rng.normal(size=n) for j in range(6)}
    return Cohort(patients, rng.uniform(5, 50, n), (rng.random(n) < 0.7).astype(int), PatchBags.from_files(files),
                  pd.DataFrame(genes, index=patients), [{"name": "cell/cycle", "features": ["C0_cnv", "C1_cnv", "C2_cnv"]},
                                                        {"name": "immune", "features": ["C3_cnv", "C4_cnv", "C5_cnv"]}],
                  {"cnv": "gistic"})


def test_memamba_heatmap_files_hold_every_head_for_each_slide(tmp_path: Path) -> None:
    cohort = _cohort(tmp_path)
    split = pd.DataFrame({"patient_id": cohort.patients, "role": ["val"] * 4 + ["train"] * 12})
    transform = GenomicTransform()
    result = train_fold(cohort, split, "memamba", {"d_model": 8}, TRAIN, transform, progress=False)
    checkpoint = fold_checkpoint("memamba", {"d_model": 8}, result.model.state_dict(), result.state, cohort, transform)
    scorer = FoldScorer(checkpoint, cohort, torch.device("cpu"))
    written = [write_slide_scores(slide, "memamba", "P03", tmp_path / "heatmaps") for slide in scorer.slides("P03")]
    assert [p.name for p in written] == ["P03-1.h5", "P03-2.h5"]
    transport_total = 0.0
    for path in written:
        with h5py.File(path) as h5:
            n = len(h5["coords"])
            assert json.loads(h5.attrs["heads"]) == ["attention_scan_layer_0", "transport/cell/cycle", "transport/immune"]
            assert h5["attention_scan_layer_0"].shape == (n,) and h5["transport/cell_cycle"].shape == (n,)
            assert h5["coords"].attrs["patch_size_level0"] == 256 and h5.attrs["patient"] == "P03"
            transport_total += float(h5["transport/immune"][:].sum())
    assert transport_total == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(MemambaError, match="patient P99 is not in the cohort"):
        scorer.slides("P99")


def test_the_extreme_patients_are_the_validation_patients_of_highest_and_lowest_risk() -> None:
    predictions = pd.DataFrame({"patient_id": list("abcdef"), "role": ["val", "train", "val", "val", "val", "val"],
                                "risk": [0.5, 9.0, -1.0, 2.0, 0.1, 2.0]})
    assert extreme_patients(predictions, 2) == {"f": "highest risk", "d": "highest risk", "c": "lowest risk", "e": "lowest risk"}
    assert extreme_patients(predictions, 3) == {"f": "highest risk", "d": "highest risk", "a": "highest risk",
                                                "c": "lowest risk", "e": "lowest risk"}


@pytest.mark.parametrize("coords, problem", [
    (np.zeros((2, 2), int), r"2 coords for \d+ feature rows"),
    (np.array([[b"0", b"0"]] * 3), r"`coords` is \|S1 of shape \(3, 2\), not N x 2 numbers"),
])
def test_coords_that_do_not_match_the_features_stop_the_heatmaps_before_any_file(tmp_path: Path, coords: np.ndarray,
                                                                                 problem: str) -> None:
    from memamba.report.fold_heatmaps import draw_patients
    from memamba.report.heatmap_render import RenderSettings

    cohort = _cohort(tmp_path)
    split = pd.DataFrame({"patient_id": cohort.patients, "role": ["val"] * 4 + ["train"] * 12})
    result = train_fold(cohort, split, "abmil", {"hidden": 8, "attention": 8}, TRAIN, GenomicTransform(), progress=False)
    checkpoint = fold_checkpoint("abmil", {"hidden": 8, "attention": 8}, result.model.state_dict(), result.state, cohort,
                                 GenomicTransform())
    with h5py.File(tmp_path / "P02-2.h5", "a") as h5:
        del h5["coords"]
        h5["coords"] = coords
    out = tmp_path / "heatmaps"
    with pytest.raises(MemambaError, match=rf"P02-2\.h5: {problem}\. Fix: re-extract this slide's features"):
        draw_patients(FoldScorer(checkpoint, cohort, torch.device("cpu")), {"P01": "highest risk", "P02": "lowest risk"},
                      None, out, RenderSettings())
    assert not out.exists() or not any(out.iterdir())
