from pathlib import Path

import numpy as np
import openslide
import pandas as pd

from memamba.demo.cohort import SIGNAL_FAMILIES, _genomics, survival_times
from memamba.sheets import read_sheet
from memamba.survival.metrics import harrell_c


def test_slides_are_aperio_svs_with_mpp_and_pyramid(demo_dir: Path) -> None:
    sheet = read_sheet(demo_dir / "slides.tsv", "slides")
    assert len(sheet) >= 8
    with openslide.OpenSlide(sheet.loc[0, "path"]) as slide:
        assert slide.properties["openslide.vendor"] == "aperio"
        assert float(slide.properties["openslide.mpp-x"]) == 0.5
        assert slide.properties["openslide.objective-power"] == "20"
        assert slide.level_count >= 2
        assert slide.level_dimensions[0] == (512, 512)


def test_every_sheet_validates_and_points_at_real_files(demo_dir: Path) -> None:
    clinical = read_sheet(demo_dir / "clinical.tsv", "clinical")
    genomics = read_sheet(demo_dir / "genomics.tsv", "genomics")
    assert set(genomics["modality"]) == {"rna", "cnv", "mut"}
    counts = pd.read_csv(demo_dir / "rna_counts.tsv", sep="\t", index_col=0)
    assert list(counts.columns) == clinical["patient_id"].tolist()
    assert (counts.to_numpy() >= 0).all() and np.issubdtype(counts.to_numpy().dtype, np.integer)
    truth = pd.read_csv(demo_dir / "truth.tsv", sep="\t")
    assert truth["patient_id"].tolist() == clinical["patient_id"].tolist()


def test_survival_carries_the_planted_risk() -> None:
    rng = np.random.default_rng(0)
    risk = rng.normal(size=2000)
    time, event = survival_times(rng, risk)
    assert 0.3 < event.mean() < 0.9
    assert harrell_c(time, event, risk) > 0.7
    assert abs(harrell_c(time, event, rng.normal(size=2000)) - 0.5) < 0.05


def test_signal_families_follow_risk_and_noise_families_do_not() -> None:
    rng = np.random.default_rng(1)
    risk = rng.normal(size=400)
    frames = _genomics(rng, risk, [f"P{i}" for i in range(400)])
    cnv = frames["cnv"]
    correlation = cnv.T.corrwith(pd.Series(risk, index=cnv.columns)).abs()
    signal = correlation[[g for g in cnv.index if g.startswith(("TSG", "O", "PK"))]]
    noise = correlation[[g for g in cnv.index if g.startswith(("CDM", "TF", "CaGF"))]]
    assert len(SIGNAL_FAMILIES) == 3
    assert signal.mean() > 0.4 and noise.mean() < 0.1


def test_the_risk_has_a_slide_part_and_an_independent_genomic_part(tmp_path: Path) -> None:
    from memamba.demo.cohort import generate_cohort

    out = generate_cohort(tmp_path / "demo", patients=200, seed=5, slide_size=256)
    truth = pd.read_csv(out / "truth.tsv", sep="\t").set_index("patient_id")
    np.testing.assert_allclose(truth["risk"], (truth["slide_risk"] + truth["genomic_risk"]) / np.sqrt(2), atol=2e-6)
    assert abs(np.corrcoef(truth["slide_risk"], truth["genomic_risk"])[0, 1]) < 0.15
    cnv = pd.read_csv(out / "cnv.tsv", sep="\t", index_col=0)[truth.index]
    signal = [g for g in cnv.index if g.startswith(("TSG", "O", "PK"))]
    with_genomic = cnv.loc[signal].T.corrwith(truth["genomic_risk"]).abs().mean()
    with_slide = cnv.loc[signal].T.corrwith(truth["slide_risk"]).abs().mean()
    assert with_genomic > 0.4 and with_slide < 0.1
    clinical = pd.read_csv(out / "clinical.tsv", sep="\t").set_index("patient_id").loc[truth.index]
    c = {part: harrell_c(clinical["survival_months"], clinical["event"], truth[part]) for part in truth.columns}
    assert c["risk"] > max(c["slide_risk"], c["genomic_risk"]) + 0.03, c


def test_a_planted_mechanism_cohort_goes_through_the_slide_stage_one_feature_row_per_planted_patch(tmp_path: Path) -> None:
    import h5py

    from memamba.config import load_config
    from memamba.demo.cohort import generate_cohort
    from memamba.demo.mechanisms import TUMOUR, planted_patients
    from memamba.slides.in_process import extract_sheet

    out = generate_cohort(tmp_path / "demo", patients=6, seed=2, mechanism="arrangement")
    planted = planted_patients("arrangement", 6, 2)
    truth = read_sheet(out / "truth.tsv", "truth", check_paths=False)
    np.testing.assert_allclose(truth["slide_risk"], planted.slide_part, atol=1e-6)
    assert read_sheet(out / "genomics.tsv", "genomics")["kind"].tolist() == ["log2ratio"]
    features = extract_sheet(out / "slides.tsv", tmp_path / "features", load_config(Path(__file__).parents[2] / "config" / "config.yaml"))
    for patient, kinds in zip(planted.patient_ids, planted.patch_types):
        with h5py.File(features / f"{patient}-01.h5") as h5:
            rows, coords = h5["features"][:], h5["coords"][:]
        order = np.lexsort((coords[:, 0], coords[:, 1]))
        assert len(rows) == len(kinds) and (order == np.arange(len(rows))).all()       # one patch per block, row by row
        centroids = np.stack([rows[kinds != TUMOUR].mean(0), rows[kinds == TUMOUR].mean(0)])
        nearest = np.argmin(np.linalg.norm(rows[:, None] - centroids[None], axis=2), axis=1)
        assert np.mean(nearest == (kinds == TUMOUR)) > 0.9                 # the demo encoder tells the kinds apart


def test_the_demo_pathways_are_survpaths_layout_and_cross_the_families(demo_dir: Path) -> None:
    from memamba.genomics.pathways import read_pathways
    from memamba.genomics.tables import read_gene_families

    table = pd.read_csv(demo_dir / "pathways.csv")
    assert table.columns[0] == "gene" and set(np.unique(table.iloc[:, 1:])) == {0, 1}
    pathways = read_pathways(demo_dir / "pathways.csv")
    families = read_gene_families(demo_dir / "gene_families.csv")
    family_of = {gene: family for family, genes in families.items() for gene in genes}
    assert len(pathways) == 12 and all(len(genes) == 12 for genes in pathways.values())
    assert all(len({family_of[g] for g in genes}) == 2 for genes in pathways.values())
    assert set().union(*pathways.values()) == set(family_of)              # every demo gene is in a pathway
