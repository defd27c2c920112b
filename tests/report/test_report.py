from pathlib import Path

import numpy as np
import pandas as pd

from memamba.report.summary import ORACLE, cohort_summary, write_report


def _predictions(folds: int = 3, n: int = 30, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for k in range(folds):
        time = rng.exponential(20, n)
        frames.append(pd.DataFrame({"patient_id": [f"P{i}" for i in range(n)], "role": ["val"] * 10 + ["train"] * (n - 10),
                                    "survival_months": time, "event": 1, "risk": -time, "fold": k}))
    return pd.concat(frames, ignore_index=True)


def test_summary_and_html_report(tmp_path: Path) -> None:
    for model, offset in (("m1", 0.0), ("m2", 0.1)):
        out = tmp_path / "demo" / "eval" / model
        out.mkdir(parents=True)
        pd.DataFrame({"fold": ["0", "1", "mean", "sd"], "c_index": [0.6 + offset, 0.7 + offset, 0, 0]}).to_csv(
            out / "metrics.tsv", sep="\t", index=False)
    clinical = tmp_path / "clinical.tsv"
    pd.DataFrame({"patient_id": ["A", "B", "C", "D"], "survival_months": [1, 2, 3, 4], "event": [1, 1, 1, 1]}).to_csv(
        clinical, sep="\t", index=False)
    truth = tmp_path / "truth.tsv"
    pd.DataFrame({"patient_id": ["A", "B", "C", "D"], "risk": [4, 3, 2, 1]}).to_csv(truth, sep="\t", index=False)
    splits = []
    for k, val in enumerate((["A", "B"], ["C", "D"])):
        path = tmp_path / f"fold_{k}.tsv"
        pd.DataFrame({"patient_id": list("ABCD"), "role": ["val" if p in val else "train" for p in "ABCD"]}).to_csv(
            path, sep="\t", index=False)
        splits.append(path)
    metrics = sorted((tmp_path / "demo" / "eval").glob("*/metrics.tsv"))
    summary = cohort_summary("demo", metrics, splits, truth, clinical)
    assert summary["model"].tolist() == ["m1", "m2", ORACLE]
    np.testing.assert_allclose(summary["c_index_mean"], [0.65, 0.75, 1.0])
    summary.to_csv(tmp_path / "s.tsv", sep="\t", index=False)
    table = write_report([tmp_path / "s.tsv"], tmp_path / "summary.tsv", tmp_path / "report.html")
    assert "eval_dir" not in table.columns
    html = (tmp_path / "report.html").read_text()
    assert "<h2>demo</h2>" in html and "0.750" in html and ORACLE in html


def test_km_plot_is_a_png(tmp_path: Path) -> None:
    from PIL import Image

    from memamba.report.plots import plot_km
    from memamba.survival.evaluate import risk_groups

    plot_km(risk_groups(_predictions()), "test", tmp_path / "km.png")
    with Image.open(tmp_path / "km.png") as image:
        assert image.format == "PNG" and image.size == (500, 400)


def test_cohorts_and_models_named_na_or_null_stay_names_in_the_report(tmp_path: Path) -> None:
    summary = pd.DataFrame({"cohort": ["NA", "NA", "null"], "model": ["null", "snn", "NA"], "folds": [5, 5, 5],
                            "c_index_mean": [0.61, np.nan, 0.55], "c_index_sd": [0.05, np.nan, 0.04]})
    summary.to_csv(tmp_path / "s.tsv", sep="\t", index=False)
    table = write_report([tmp_path / "s.tsv"], tmp_path / "summary.tsv", tmp_path / "report.html")
    assert table["cohort"].tolist() == ["NA", "NA", "null"] and table["model"].tolist() == ["null", "snn", "NA"]
    assert np.isnan(table.loc[1, "c_index_mean"]) and table.loc[2, "c_index_mean"] == 0.55
    assert "<h2>NA</h2>" in (tmp_path / "report.html").read_text()


def test_each_model_is_compared_with_memamba_fold_by_fold(tmp_path: Path) -> None:
    for model, per_fold in (("memamba", [0.60, 0.70, 0.65]), ("abmil", [0.62, 0.66, 0.70]), ("snn", [0.5, 0.5, 0.5])):
        out = tmp_path / "eval" / model
        out.mkdir(parents=True)
        pd.DataFrame({"fold": ["0", "1", "2", "mean", "sd", "n_folds"], "c_index": [*per_fold, 0, 0, 3]}).to_csv(
            out / "metrics.tsv", sep="\t", index=False)
    summary = cohort_summary("demo", sorted((tmp_path / "eval").glob("*/metrics.tsv"))).set_index("model")
    np.testing.assert_allclose(summary.loc["abmil", "c_index_minus_memamba_mean"], (0.02 - 0.04 + 0.05) / 3)
    np.testing.assert_allclose(summary.loc["abmil", "c_index_minus_memamba_sd"], np.std([0.02, -0.04, 0.05], ddof=1))
    assert summary.loc["abmil", "folds_ahead_of_memamba"] == 2 and summary.loc["snn", "folds_ahead_of_memamba"] == 0
    assert np.isnan(summary.loc["memamba", "c_index_minus_memamba_mean"])
    half = 4.302653 * np.sqrt((1 / 3 + 1 / 2) * np.var([0.02, -0.04, 0.05], ddof=1))      # t(2) quantile, k = 3 folds
    np.testing.assert_allclose(summary.loc["abmil", ["c_index_minus_memamba_ci_low", "c_index_minus_memamba_ci_high"]].to_numpy(float),
                               [0.01 - half, 0.01 + half], rtol=1e-6)
    summary.reset_index().to_csv(tmp_path / "s.tsv", sep="\t", index=False)
    write_report([tmp_path / "s.tsv"], tmp_path / "summary.tsv", tmp_path / "report.html")
    assert f"+0.010 [{0.01 - half:+.3f}, {0.01 + half:+.3f}] (2 of 3)" in (tmp_path / "report.html").read_text()


def test_the_report_shows_the_comparison_training_curves_and_heatmaps_self_contained(tmp_path: Path) -> None:
    import re

    from PIL import Image

    from memamba.report.figures import comparison_plot

    cohort = tmp_path / "demo"
    (cohort / "eval" / "m1").mkdir(parents=True)
    pd.DataFrame({"fold": ["0", "1", "mean", "sd"], "c_index": [0.6, 0.7, 0.65, 0.07]}).to_csv(
        cohort / "eval" / "m1" / "metrics.tsv", sep="\t", index=False)
    for fold in (0, 1):
        history = cohort / "models" / "m1" / f"fold_{fold}"
        history.mkdir(parents=True)
        pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [1.0, 0.8, 0.7], "train_c_index": [0.5, 0.6, 0.7],
                      "val_c_index": [0.5, 0.55, 0.6]}).to_csv(history / "history.tsv", sep="\t", index=False)
    heatmaps = cohort / "heatmaps" / "m1" / "fold_0"
    heatmaps.mkdir(parents=True)
    Image.new("RGB", (40, 30), "red").save(heatmaps / "S1.attention_scores.png")
    pd.DataFrame({"patient_id": ["P1"], "group": ["highest risk"], "slide": ["S1"], "h5": ["S1.h5"],
                  "pictures": ["S1.attention_scores.png;S1.attention_scores.gallery.png"]}).to_csv(
        heatmaps / "index.tsv", sep="\t", index=False)
    pd.DataFrame({"head": ["attention_scores"], "planted_auc": [0.81234], "slides": [7], "patients": [5], "patches": [90],
                  "tumour_patches": [30]}).to_csv(heatmaps / "planted_auc.tsv", sep="\t", index=False)
    cohort_summary("demo", [cohort / "eval" / "m1" / "metrics.tsv"]).to_csv(tmp_path / "s.tsv", sep="\t", index=False)
    write_report([tmp_path / "s.tsv"], tmp_path / "summary.tsv", tmp_path / "report.html")
    page = (tmp_path / "report.html").read_text()
    alts = re.findall(r'<img alt="([^"]+)"', page)
    assert alts == ["per-fold c-index of every model", "training curves", "heatmap of S1"]      # no KM plot was made
    assert "src=\"data:image/png;base64," in page and "file:" not in page
    assert re.search(r"<td>attention_scores</td>\s*<td>0.812</td>\s*<td>7</td>", page)
    assert comparison_plot(pd.read_csv(tmp_path / "s.tsv", sep="\t"), "t")[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_report_shows_an_earlier_runs_cohorts_and_says_they_are_earlier(tmp_path: Path) -> None:
    for cohort, c in (("now", 0.7), ("before", 0.6)):
        pd.DataFrame({"cohort": [cohort], "model": ["snn"], "folds": [1], "c_index_mean": [c], "c_index_sd": [0.0]}).to_csv(
            tmp_path / f"{cohort}.tsv", sep="\t", index=False)
    table = write_report([tmp_path / "now.tsv"], tmp_path / "summary.tsv", tmp_path / "report.html", earlier=[tmp_path / "before.tsv"])
    assert table["cohort"].tolist() == ["now", "before"]
    assert pd.read_csv(tmp_path / "summary.tsv", sep="\t")["cohort"].tolist() == ["now", "before"]
    html = (tmp_path / "report.html").read_text()
    assert "<h2>before</h2>" in html and "for cohorts not in this run's configuration (before)" in html

