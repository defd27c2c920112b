"""Nested cross-validation: each outer fold chooses a model's settings by an inner cross-validation on its own training
part, then refits on the whole training part and reports the outer fold.

Every model gets the same budget: ``candidates`` settings (the configured one first, then distinct draws from the
model's search space) times ``inner_folds`` inner fits. Inner fits see the outer fold's training patients only: they
run on a cohort cut down to them (:meth:`memamba.data.cohort.Cohort.subset`), so the outer validation patients are
not even predicted. A setting's score is the mean of its inner folds' Harrell c-indices (each on that inner fold's
held-out patients); ties go to the earlier candidate, so the configured setting wins a tie.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold

from memamba.atomic import write_text_atomic
from memamba.data.cohort import Cohort
from memamba.errors import MemambaError
from memamba.models.registry import model_defaults
from memamba.survival.metrics import harrell_c
from memamba.train.loop import FoldResult, train_fold
from memamba.train.search_space import applied, candidate_settings
from memamba.train.transforms import GenomicTransform

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class TuneSettings:
    """The tuning budget: ``candidates`` settings x ``inner_folds`` inner fits per model and outer fold."""

    candidates: int = 8
    inner_folds: int = 3
    seed: int = 0

    @property
    def inner_fits(self) -> int:
        """Inner fits per model and outer fold (the budget the report states)."""
        return self.candidates * self.inner_folds


def inner_splits(cohort: Cohort, folds: int, seed: int) -> list[pd.DataFrame]:
    """``folds`` splits of ``cohort``'s patients, each a table of patient_id and role: stratified by event, or (with
    fewer events or censored patients than folds, logged) not stratified."""
    events, patients = cohort.event, np.array(cohort.patients)
    if len(patients) < 2 * folds:
        raise MemambaError(f"train.tune: the outer fold's training part has {len(patients)} patients, too few for "
                           f"{folds} inner folds. Fix: lower train.tune.inner_folds, or tune on a larger cohort.")
    if np.bincount(events, minlength=2).min() >= folds:
        held_out = [held for _, held in StratifiedKFold(folds, shuffle=True, random_state=seed).split(patients, events)]
    else:
        log.warning("train.tune: %d events in %d training patients, too few to stratify %d inner folds by event; "
                    "the inner folds are not stratified", int(events.sum()), len(patients), folds)
        held_out = [held for _, held in KFold(folds, shuffle=True, random_state=seed).split(patients)]
    return [pd.DataFrame({"patient_id": patients, "role": np.where(np.isin(np.arange(len(patients)), held), "val", "train")})
            for held in held_out]


def inner_score(result: FoldResult) -> tuple[float, str]:
    """Harrell's c on the inner fold's held-out patients, and why it is undefined (NaN) where it is: no event among
    them, or no comparable pair (tiny cohorts); an empty reason where it is defined."""
    held = result.predictions[result.predictions["role"] == "val"]
    value = harrell_c(held["survival_months"].to_numpy(float), held["event"].to_numpy(int), held["risk"].to_numpy(float))
    if not np.isnan(value):
        return value, ""
    events = int(held["event"].sum())
    return value, (f"no event among its {len(held)} held-out patients" if events == 0 else
                   f"no comparable pair among its {len(held)} held-out patients ({events} events)")


@dataclass
class Tuning:
    """One outer fold's inner cross-validation: every inner fit's score, and the chosen setting."""

    scores: pd.DataFrame
    chosen: dict[str, Any]
    candidate: int


SCORE_COLUMNS = ["candidate", "inner_fold", "c_index", "undefined", "setting"]


def _recorded(record: Path | None, candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Inner fits already done (resuming), kept only where their setting is still candidate ``candidate``."""
    if record is None or not record.exists():
        return []
    table = pd.read_csv(record, sep="\t", dtype={"setting": str})
    done = table.assign(undefined=table.get("undefined", pd.Series("", index=table.index)).fillna("")).to_dict("records")
    return [row for row in done if 0 <= row["candidate"] < len(candidates)
            and json.loads(row["setting"]) == candidates[row["candidate"]]]


def tune_fold(cohort: Cohort, split: pd.DataFrame, model_name: str, model_params: dict[str, Any],
              train_params: dict[str, Any], transform: GenomicTransform, space: dict[str, list[Any]],
              settings: TuneSettings, device: str = "cpu", record: str | Path | None = None) -> Tuning:
    """Choose ``model_name``'s setting for the outer fold ``split`` by inner cross-validation on its training part.

    With ``record``, every finished inner fit is added to that TSV at once, and a rerun skips the fits it holds.
    """
    present = set(cohort.patients)
    training = [p for p in split.loc[split["role"] == "train", "patient_id"] if p in present]
    inner_cohort = cohort.subset(training)
    configured = {**train_params, **model_defaults(model_name, model_params)}
    candidates = candidate_settings(space, configured, settings.candidates, settings.seed)
    record = None if record is None else Path(record)
    rows = _recorded(record, candidates)
    done = {(row["candidate"], row["inner_fold"]) for row in rows}
    for inner, inner_split in enumerate(inner_splits(inner_cohort, settings.inner_folds, settings.seed)):
        for number, setting in enumerate(candidates):
            if (number, inner) in done:
                continue
            params, train = applied(setting, model_params, train_params)
            result = train_fold(inner_cohort, inner_split, model_name, params, train, transform, device, progress=False)
            score, undefined = inner_score(result)
            rows.append({"candidate": number, "inner_fold": inner, "c_index": score, "undefined": undefined,
                         "setting": json.dumps(setting, sort_keys=True)})
            if undefined:
                log.warning("%s: candidate %d, inner fold %d: Harrell's c undefined (%s); the candidate's mean leaves it out",
                            model_name, number, inner, undefined)
            if record is not None:
                write_text_atomic(record, pd.DataFrame(rows, columns=SCORE_COLUMNS).to_csv(sep="\t", index=False))
            log.info("%s: candidate %d, inner fold %d: c-index %.3f", model_name, number, inner, rows[-1]["c_index"])
    scores = pd.DataFrame(rows, columns=SCORE_COLUMNS)
    means = scores.groupby("candidate")["c_index"].mean().reindex(range(len(candidates)))
    best = int(np.nanargmax(means.to_numpy())) if means.notna().any() else 0
    return Tuning(scores.sort_values(["candidate", "inner_fold"]).reset_index(drop=True), candidates[best], best)
