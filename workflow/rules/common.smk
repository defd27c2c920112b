# Shared helpers: config and sample-sheet validation at start-up, cohort/slide look-ups, wildcards.
import json
from functools import cache
from pathlib import Path

from snakemake.exceptions import WorkflowError

from memamba.config import ConfigError, validate_config
from memamba.gpu_slots import visible_gpu_count
from memamba.models.registry import variant_entry
from memamba.sheets import read_sheet

try:
    validate_config(config, where="config (config/config.yaml merged with --config/--configfile)")
except ConfigError as error:
    raise WorkflowError(f"invalid configuration:\n{error}")

COHORTS = list(config["cohorts"])
ENCODER = config["extract"]["encoder"]
MODELS = config["train"]["models"]
FOLDS = list(range(config["splits"]["folds"]))


wildcard_constraints:
    cohort="|".join(COHORTS),
    slide=r"[A-Za-z0-9._-]+",
    encoder=r"[A-Za-z0-9._-]+",
    model="|".join(MODELS),
    fold=r"\d+",


def is_generated(cohort):
    """True for a synthetic demo cohort written by the demo_data checkpoint."""
    return "generate" in config["cohorts"][cohort]


def sheet_path(cohort, kind):
    """Path of a cohort's sheet: slides, clinical, genomics, gene_families or truth (None if absent)."""
    if is_generated(cohort):
        name = "gene_families.csv" if kind == "gene_families" else f"{kind}.tsv"
        return f"results/{cohort}/input/{name}"
    return config["cohorts"][cohort].get(kind)


@cache
def _sheet(cohort, kind):
    return read_sheet(sheet_path(cohort, kind), kind)


def sheet(cohort, kind):
    """A validated sheet; for a generated cohort this waits for the demo_data checkpoint."""
    if is_generated(cohort):
        checkpoints.demo_data.get(cohort=cohort)
    return _sheet(cohort, kind)


def slide_row(cohort, slide):
    """One row of the cohort's slide sheet."""
    rows = sheet(cohort, "slides").set_index("slide_id")
    if slide not in rows.index:
        raise WorkflowError(f"slide {slide!r} is not in {sheet_path(cohort, 'slides')}")
    return rows.loc[slide]


def slide_ids(cohort):
    """Every slide id of a cohort."""
    return sheet(cohort, "slides")["slide_id"].tolist()


def mpp_option(wildcards):
    """``--mpp X`` when the slide sheet overrides the slide's microns per pixel, else nothing."""
    mpp = slide_row(wildcards.cohort, wildcards.slide).get("mpp")
    return "" if mpp is None or mpp != mpp else f"--mpp {float(mpp)}"


def as_json(section):
    """A config section as canonical JSON, for a rule's params."""
    return json.dumps(section, sort_keys=True)


def model_params(model):
    """``models.NAME`` of the config; a variant (``base: OTHER``) starts from OTHER's entry and overrides it."""
    params = dict(config["models"].get(model, {}))
    base = params.get("base")
    return {**config["models"].get(base, {}), **params} if base else params


def uses_slides(model):
    """Whether a model (registered, or a config variant with a ``base``) consumes patch features."""
    return "slides" in variant_entry(model, model_params(model)).modalities


@cache
def gpus_per_job(section):
    """The ``gpu`` resource of a section's jobs: 1 when they will run on a card ('device: cuda', or 'auto' on a
    machine where nvidia-smi lists one), else 0. On Slurm the login node may have no card: set 'device: cuda'."""
    device = config[section]["device"]
    return 0 if device == "cpu" else 1 if device == "cuda" else int(visible_gpu_count() > 0)


def training_gpus(wildcards):
    """1 for a torch model on a GPU, 0 for the CPU and for scikit-survival models (coxnet)."""
    return 0 if variant_entry(wildcards.model, model_params(wildcards.model)).trainer != "torch" else gpus_per_job("train")


def genomic_matrices(wildcards):
    """Every matrix file the cohort's genomics sheet lists (so that editing one reruns this stage)."""
    return sheet(wildcards.cohort, "genomics")["path"].tolist()

def train_params():
    """The training section without the list of models (adding a model must not retrain the others)."""
    return as_json({k: v for k, v in config["train"].items() if k != "models"})


def train_features(wildcards):
    """The patch features of every slide of the cohort, if the model uses slides."""
    if not uses_slides(wildcards.model):
        return []
    return expand(
        "results/{cohort}/features/{encoder}/{slide}.h5",
        cohort=wildcards.cohort,
        encoder=ENCODER,
        slide=slide_ids(wildcards.cohort),
    )

def summary_inputs(wildcards):
    """Every model's metrics of the cohort; for a demo cohort also its splits, clinical sheet and true risk."""
    inputs = {"metrics": expand("results/{cohort}/eval/{model}/metrics.tsv", cohort=wildcards.cohort, model=MODELS)}
    if sheet_path(wildcards.cohort, "truth"):
        inputs["truth"] = sheet_path(wildcards.cohort, "truth")
        inputs["clinical"] = sheet_path(wildcards.cohort, "clinical")
        inputs["splits"] = expand("results/{cohort}/splits/fold_{fold}.tsv", cohort=wildcards.cohort, fold=FOLDS)
    return inputs


def oracle_options(wildcards, input):
    """``--truth/--clinical/--splits`` when the cohort has a true risk to compare with."""
    if "truth" not in input.keys():
        return ""
    return f"--truth {input.truth} --clinical {input.clinical} --splits {' '.join(input.splits)}"


def stage_files(stage):
    """Every file of one stage of every cohort: segment/tile/extract ('features'), 'genomics' or 'train'
    (the models' checkpoints, histories and predictions, and their evaluation)."""
    files = []
    for cohort in COHORTS:
        if stage == "features":
            for slide in slide_ids(cohort):
                files += [
                    f"results/{cohort}/tissue/{slide}.geojson",
                    f"results/{cohort}/tissue/{slide}.png",
                    f"results/{cohort}/patches/{slide}.h5",
                    f"results/{cohort}/features/{ENCODER}/{slide}.h5",
                ]
        elif stage == "genomics":
            files += expand("results/{cohort}/genomics/{name}", cohort=cohort, name=["features.parquet", "tokens.json", "qc.tsv", "patients.tsv"])
        elif stage == "train":
            files += expand("results/{cohort}/splits/fold_{fold}.tsv", cohort=cohort, fold=FOLDS)
            files += expand("results/{cohort}/models/{model}/fold_{fold}/{name}", cohort=cohort, model=MODELS, fold=FOLDS,
                            name=["checkpoint.pt", "history.tsv", "predictions.tsv", "config.yaml"])
            files += expand("results/{cohort}/eval/{model}/{name}", cohort=cohort, model=MODELS, name=["metrics.tsv", "km.png"])
    return files


def all_stage_outputs(wildcards):
    """Every per-slide, per-cohort and per-fold file of every cohort (the default target's intermediates)."""
    return stage_files("features") + stage_files("genomics") + stage_files("train")


# Fail at start-up, not hours later, when a user cohort's sheets are wrong.
for _cohort in COHORTS:
    if not is_generated(_cohort):
        try:
            for _kind in ("slides", "clinical", "genomics"):
                _sheet(_cohort, _kind)
            if not Path(sheet_path(_cohort, "gene_families")).exists():
                raise ConfigError(f"{sheet_path(_cohort, 'gene_families')}: gene-family table not found. "
                                  f"Fix: correct cohorts.{_cohort}.gene_families in the config.")
        except ConfigError as error:
            raise WorkflowError(f"cohort {_cohort}: invalid sample sheet:\n{error}")
for _model in MODELS:
    try:
        variant_entry(_model, model_params(_model))
    except KeyError as error:
        raise WorkflowError(str(error))
