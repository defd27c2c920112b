from pathlib import Path

import h5py

from memamba.config import load_config
from memamba.demo import generate_cohort
from memamba.sheets import read_sheet
from memamba.slides.in_process import extract_sheet

REPO = Path(__file__).resolve().parents[2]


def test_every_slide_of_the_sheet_gets_a_feature_file_with_the_configs_tiling(tmp_path: Path) -> None:
    cohort = generate_cohort(tmp_path / "demo", patients=3, seed=4)
    sheet = read_sheet(cohort / "slides.tsv", "slides")
    config = load_config(REPO / "config" / "config.yaml")
    out = extract_sheet(cohort / "slides.tsv", tmp_path / "features", config)
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{slide}.h5" for slide in sheet["slide_id"])   # no patch files left
    for slide in sheet["slide_id"]:
        with h5py.File(out / f"{slide}.h5") as h5:
            assert h5["features"].shape == (len(h5["coords"]), 16) and len(h5["coords"]) > 5
            assert h5["coords"].attrs["patch_size"] == config["tile"]["patch_size"]
            assert h5["coords"].attrs["target_mpp"] == config["tile"]["target_mpp"]
            assert h5["features"].attrs["encoder"] == "demo-stats"
