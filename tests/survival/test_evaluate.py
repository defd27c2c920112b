import numpy as np
import pandas as pd
import pytest

from memamba.survival.evaluate import OPTIMISTIC, fold_metrics, survival_at

ENDS = [5.0, 15.0, 30.0, np.inf]


def _fold_predictions(seed: int, informed: bool, folds: int = 3, n: int = 60) -> pd.DataFrame:
    """Patients with exponential times; an informed model knows each time exactly, an uninformed one knows nothing."""
    rng = np.random.default_rng(seed)
    frames = []
    for k in range(folds):
        time = rng.exponential(20, n)
        event = (rng.random(n) < 0.7).astype(int)
        if informed:
            survival = np.where(np.array(ENDS)[None, :] < time[:, None], 0.99, 0.01)
            risk = -time
        else:
            survival = np.tile([0.8, 0.5, 0.25, 0.05], (n, 1))
            risk = rng.normal(size=n)
        frame = pd.DataFrame({"patient_id": [f"P{i}" for i in range(n)], "role": ["val"] * 20 + ["train"] * (n - 20),
                              "survival_months": time, "event": event, "risk": risk, "fold": k})
        for b, end in enumerate(ENDS):
            frame[f"survival_bin_{b}"] = survival[:, b]
            frame[f"bin_end_{b}"] = end
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def test_a_model_that_knows_every_time_scores_perfectly_and_beats_an_uninformed_one() -> None:
    informed = fold_metrics(_fold_predictions(0, informed=True)).set_index("fold")
    uninformed = fold_metrics(_fold_predictions(0, informed=False)).set_index("fold")
    assert informed.index.tolist() == ["0", "1", "2", "mean", "sd", "n_folds"]
    assert (informed.loc[["0", "1", "2"], "n_patients"] == 20).all()
    assert informed.loc["mean", "c_index"] == pytest.approx(1.0) and informed.loc["sd", "c_index"] == pytest.approx(0.0)
    assert informed.loc["mean", "uno_c"] == pytest.approx(1.0)
    assert informed.loc["mean", "mean_auc"] == pytest.approx(1.0)
    assert informed.loc["mean", "ibs"] < 0.7 * uninformed.loc["mean", "ibs"], (informed.loc["mean", "ibs"], uninformed.loc["mean", "ibs"])
    assert informed.loc["mean", "logrank_p"] < 0.05
    assert abs(uninformed.loc["mean", "c_index"] - 0.5) < 0.1


def test_survival_curve_is_a_step_at_the_bin_ends() -> None:
    frame = _fold_predictions(1, informed=False, folds=1)
    np.testing.assert_allclose(survival_at(frame, np.array([1.0, 5.0, 20.0, 100.0]))[0], [1.0, 0.8, 0.5, 0.25])


def test_the_best_epoch_figure_is_a_separate_column_labelled_optimistic() -> None:
    histories = [pd.DataFrame({"epoch": [1, 2, 3], "val_c_index": [0.5, 0.9, 0.6]}) for _ in range(3)]
    table = fold_metrics(_fold_predictions(2, informed=False), histories).set_index("fold")
    assert OPTIMISTIC == "c_index_best_epoch_optimistic"
    assert table.loc["mean", OPTIMISTIC] == pytest.approx(0.9)
    assert table.loc["mean", OPTIMISTIC] != table.loc["mean", "c_index"]


def test_external_metrics_take_censoring_and_times_from_the_training_cohort() -> None:
    from memamba.survival.evaluate import external_metrics, one_fold

    fold = _fold_predictions(1, informed=True, folds=1).drop(columns="fold")
    scored, training = fold[fold["role"] == "val"].drop(columns="role"), fold[fold["role"] == "train"]
    table, groups = external_metrics(scored, training[["survival_months", "event"]])
    assert table["fold"].tolist() == ["external"] and table["n_patients"].iloc[0] == 20
    groups_as_fold = fold[fold["role"] == "val"].assign(group=groups["group"].to_numpy())
    expected = one_fold(fold, groups_as_fold)                                  # the same numbers as a fold of that split
    for metric in ("tau", "c_index", "uno_c", "mean_auc", "ibs", "logrank_p"):
        assert table[metric].iloc[0] == pytest.approx(expected[metric], nan_ok=True), metric
    assert table["c_index"].iloc[0] == pytest.approx(1.0)
    assert (groups["group"] == "high").sum() == 10 and groups.loc[groups["group"] == "high", "risk"].min() > groups["risk"].median()


def test_a_fold_without_events_gets_nan_metrics_and_a_line_saying_why() -> None:
    from memamba.survival.evaluate import undefined_metrics

    predictions = _fold_predictions(0, informed=False)
    censored = (predictions["fold"] == 1) & (predictions["role"] == "val")
    predictions.loc[censored, "event"] = 0
    table = fold_metrics(predictions)
    assert np.isnan(table.set_index("fold").loc["1", "c_index"]) and table.set_index("fold").loc["n_folds", "c_index"] == 2
    lines = undefined_metrics(table)
    assert lines == ["fold 1: undefined c_index, uno_c, mean_auc, logrank_p: no event among the 20 validation patients; "
                     "the mean and sd leave it out"]
    assert table.set_index("fold").loc["1", "undefined"] == "c_index, uno_c, mean_auc, logrank_p: no event among the 20 validation patients"
    assert undefined_metrics(fold_metrics(_fold_predictions(0, informed=True))) == []


def test_ibs_is_finite_on_every_fold_of_repeated_random_splits() -> None:
    from memamba.data.splits import make_splits

    undefined = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        n = 60
        event_time, censor_time = rng.exponential(30, n), rng.uniform(5, 80, n)
        clinical = pd.DataFrame({"patient_id": [f"P{i}" for i in range(n)], "survival_months": np.round(np.minimum(event_time, censor_time), 1),
                                 "event": (event_time <= censor_time).astype(int)})
        frames = []
        for k, split in enumerate(make_splits(clinical, 5, seed, 4)):
            frame = clinical.merge(split, on="patient_id").assign(risk=rng.normal(size=n), fold=k)
            for b, end in enumerate(ENDS):
                frame[f"survival_bin_{b}"], frame[f"bin_end_{b}"] = [0.9, 0.7, 0.5, 0.3][b], end
            frames.append(frame)
        table = fold_metrics(pd.concat(frames, ignore_index=True))
        undefined += int(table.loc[~table["fold"].isin(["mean", "sd", "n_folds"]), "ibs"].isna().sum())
    assert undefined == 0


def test_external_metrics_of_an_event_free_cohort_are_nan_with_the_reason() -> None:
    from memamba.survival.evaluate import external_metrics, undefined_metrics

    fold = _fold_predictions(2, informed=True, folds=1).drop(columns="fold")
    scored, training = fold[fold["role"] == "val"].drop(columns="role").assign(event=0), fold[fold["role"] == "train"]
    table, _ = external_metrics(scored, training[["survival_months", "event"]])
    assert np.isnan(table["c_index"].iloc[0]) and np.isnan(table["logrank_p"].iloc[0])
    assert undefined_metrics(table) == ["fold external: undefined c_index, uno_c, mean_auc, logrank_p: no event among the 20 "
                                        "validation patients; the mean and sd leave it out"]
