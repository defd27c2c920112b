# Shared helpers: config and sample-sheet validation at start-up, cohort/slide look-ups, wildcards.
import json
import re
from functools import cache
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger

import memamba.publish
from memamba.config import TUNED_SUFFIX, ConfigError, nulls_from_overrides, validate_config
from memamba.data.bags import feature_files
from memamba.data.splits import published_fold_files, read_published_fold
from memamba.demo.tiling import check_generated_tiling
from memamba.errors import MemambaError
from memamba.genomics.tables import read_gene_families
from memamba.gpu_slots import visible_gpu_count
from memamba.genomics.pathways import read_pathways
from memamba.models.registry import has_patch_scores, token_set, variant_entry
from memamba.models.settings import check_models_section, merged_settings
from memamba.provenance import cached_sha256
from memamba.sheets import read_sheet
from memamba.slides.encoder_registry import check_weights_setting
from memamba.slides.shard_layout import staged_slide_files
from memamba.train.search_space import check_tuning

CONFIG_SOURCE = (
    "--configfile " + ", ".join(map(str, workflow.overwrite_configfiles))
    if workflow.overwrite_configfiles
    else "config/config.yaml (the embedded demo)"
) + (" with --config overrides" if workflow.config_settings.config else "")
try:
    nulls_from_overrides(config, workflow.config_settings.config or {})
    validate_config(config, where=CONFIG_SOURCE)
    check_generated_tiling(config, CONFIG_SOURCE)
    if workflow.is_main_process:  # a cluster job re-reads this file: the run's main process has checked the models
        check_models_section(config["models"], CONFIG_SOURCE, config["train"]["n_bins"], build=False)
        check_tuning(config["train"], config["models"], CONFIG_SOURCE)
except ConfigError as error:
    raise WorkflowError(f"invalid configuration:\n{error}")

COHORTS = list(config["cohorts"])
ENCODER = config["extract"]["encoder"]
TUNED = {f"{model}{TUNED_SUFFIX}": model for model in config["train"]["tune"]["models"]}
"""Tuned model -> the configured model it is tuned from (train.tune.models); both are trained."""
MODELS = config["train"]["models"] + list(TUNED)


def one_of(names):
    """A regular expression matching exactly one of ``names`` (and nothing when there is none)."""
    return "|".join(re.escape(name) for name in names) or "(?!)"


def is_generated(cohort):
    """True for a synthetic demo cohort written by the demo_data checkpoint."""
    return "generate" in config["cohorts"][cohort]


def published_splits(cohort):
    """The cohort's folder of published folds (``cohorts.NAME.splits``), or None when the workflow splits it."""
    return config["cohorts"][cohort].get("splits")


def predict_only(cohort):
    """Whether the cohort is only scored by another cohort's folds (``predict_only`` with ``predict_with``)."""
    return bool(config["cohorts"][cohort].get("predict_only"))


def ready_features(cohort):
    """The cohort's folder of ready-made CLAM/TRIDENT features (``cohorts.NAME.features``), or None."""
    return config["cohorts"][cohort].get("features")


RESPLIT_COHORTS = [c for c in COHORTS if not published_splits(c)]
PUBLISHED_SPLIT_COHORTS = [c for c in COHORTS if published_splits(c)]


wildcard_constraints:
    cohort=one_of(COHORTS),
    slide=r"[A-Za-z0-9._-]+",
    encoder=r"[A-Za-z0-9._-]+",
    shard=r"[0-9]+",
    group=r"[0-9]+",
    model=one_of(MODELS),
    other=one_of(COHORTS),
    fold=r"\d+",


@cache
def folds(cohort):
    """The cohort's fold numbers: one per published fold file, else ``splits.folds``."""
    folder = published_splits(cohort)
    return list(range(len(published_fold_files(folder)) if folder else config["splits"]["folds"]))


def published_fold_file(wildcards):
    """The published file of one fold (fold_{k}.tsv or splits_{k}.csv)."""
    return published_fold_files(published_splits(wildcards.cohort))[int(wildcards.fold)]


def sheet_path(cohort, kind):
    """Path of a cohort's sheet: slides, clinical, genomics, gene_families, pathways or truth (None if absent)."""
    if is_generated(cohort):
        name = f"{kind}.csv" if kind in ("gene_families", "pathways") else f"{kind}.tsv"
        return f"results/{cohort}/input/{name}"
    return config["cohorts"][cohort].get(kind)


@cache
def _sheet(cohort, kind):
    needs_slide_files = not (kind == "slides" and ready_features(cohort))
    return read_sheet(sheet_path(cohort, kind), kind, check_paths=needs_slide_files)


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


@cache
def _ready_feature_files(cohort):
    return {slide: str(path) for slide, path in feature_files(ready_features(cohort), slide_ids(cohort)).items()}


def slide_feature_files(cohort):
    """Slide id -> its patch-feature file: the ready-made one, or the one the extract rule writes."""
    if ready_features(cohort):
        return _ready_feature_files(cohort)
    return {slide: f"results/{cohort}/features/{ENCODER}/{slide}.h5" for slide in slide_ids(cohort)}


def extraction_shards(cohort):
    """The cohort's slide ids in sheet order, cut into shards of ``extract.slides_per_job``."""
    slides, size = slide_ids(cohort), config["extract"]["slides_per_job"]
    return [slides[start : start + size] for start in range(0, len(slides), size)]


def shard_slides(wildcards):
    """The slide ids of shard ``wildcards.shard`` of ``wildcards.cohort``."""
    shards = extraction_shards(wildcards.cohort)
    if int(wildcards.shard) >= len(shards):
        raise WorkflowError(f"cohort {wildcards.cohort} has {len(shards)} slide shards, not shard {wildcards.shard}")
    return shards[int(wildcards.shard)]


SLIDE_STAGE_ENV = "../../envs/slides.yaml" if config["segment"]["method"].startswith("tiatoolbox") else "../../envs/features.yaml"
"""The slide shards' conda env: tiatoolbox's maskers live in the slides env (which also has torch and timm)."""


def staging_folder(cohort):
    """Where a cohort's slide shards stage each slide's files (tissue/, patches/, features/ENCODER/, stamps/)."""
    return f"results/{cohort}/.slide_stage"


def slide_manifest(wildcards):
    """The manifest of the slide shard that holds ``wildcards.slide``."""
    for index, shard in enumerate(extraction_shards(wildcards.cohort)):
        if wildcards.slide in shard:
            return f"results/{wildcards.cohort}/.slide_stage/{ENCODER}/shard_{index}.tsv"
    raise WorkflowError(f"slide {wildcards.slide!r} is not in {sheet_path(wildcards.cohort, 'slides')}")


def shard_jobs(wildcards):
    """``memamba slide-stage --shard``'s JSON: per slide its id, file and microns-per-pixel override (or null)."""
    cohort = wildcards.cohort
    return json.dumps(
        [
            {"slide_id": slide, "slide": str(slide_row(cohort, slide)["path"]), "mpp": mpp_override(cohort, slide)}
            for slide in shard_slides(wildcards)
        ]
    )


def staged_slide_pairs(wildcards, output):
    """(staged, final) for each file a take_slide job publishes."""
    staged = staged_slide_files(staging_folder(wildcards.cohort), wildcards.slide, ENCODER)
    return [(staged[key], output[key]) for key in ("geojson", "png", "patches", "features")]


PUBLISH = memamba.publish.__file__
"""The standard-library script a take_slide / take_fold job runs with ``python -S`` (20 ms, no workflow parse)."""
TAKE_FIXES = {
    "slide": "repair or replace the slide (or drop its row from the slide sheet) and rerun",
    "fold": "read the batch job's log (results/logs/train/), fix the cause and rerun",
}


def publish_options(what, pairs):
    """``memamba/publish.py``'s options: how the unit is named, what fixes its failure, its (staged, final) pairs."""
    return ["--what", what, "--fix", TAKE_FIXES[what.split()[0]]] + [str(item) for pair in pairs for item in ("--pair", *pair)]


def features_folder(cohort):
    """The folder ``memamba train --features-dir`` reads the cohort's patch features from."""
    return ready_features(cohort) or f"results/{cohort}/features/{ENCODER}"


def weights_input(wildcards):
    """The local encoder weights file, an input of extraction so that replacing it redoes the features; else none."""
    weights = config["extract"]["weights"]
    return [] if weights is None or str(weights).startswith("hf-hub:") else [weights]


@cache
def weights_content():
    """The local weights file's SHA-256 (a param of extraction: new content redoes the features even when the file's
    modification time is older than theirs); hashed once per change, remembered in results/.weights_sha256.json."""
    weights = weights_input(None)
    return cached_sha256(weights[0], "results/.weights_sha256.json") if weights else None


def mpp_override(cohort, slide):
    """The slide sheet's microns per pixel for the slide, or None when the sheet leaves it to the file."""
    mpp = slide_row(cohort, slide).get("mpp")
    return None if mpp is None or mpp != mpp else float(mpp)


def mpp_option(wildcards):
    """``["--mpp", X]`` when the slide sheet overrides the slide's microns per pixel, else no arguments."""
    mpp = mpp_override(wildcards.cohort, wildcards.slide)
    return [] if mpp is None else ["--mpp", str(mpp)]


def as_json(section):
    """A config section as canonical JSON, for a rule's params."""
    return json.dumps(section, sort_keys=True)


def model_params(model):
    """``models.NAME`` of the config; a variant (``base: OTHER``) starts from OTHER's entry and overrides it; a tuned
    model (NAME-tuned) starts from NAME's settings, as a variant of NAME's registered model."""
    if model in TUNED:
        params = model_params(TUNED[model])
        return params if "base" in params else {"base": TUNED[model], **params}
    return merged_settings(model, config["models"])


def uses_slides(model):
    """Whether a model (registered, or a config variant with a ``base``) consumes patch features."""
    return "slides" in variant_entry(model, model_params(model)).modalities


def uses_genomics(model):
    """Whether a model (registered, or a config variant with a ``base``) reads the genomic features."""
    return "genomics" in variant_entry(model, model_params(model)).modalities


GENOMICS_TRAIN = {key: value for key, value in config["genomics"].items() if key != "pathway_modalities"}
"""The genomics section as training reads it (the per-fold transforms); the pathway modalities shape the pathway
tokens, an input of their own, so changing them retrains only the models that read pathways."""


def model_tokens(cohort, model):
    """The token definition a model reads: the cohort's gene-family tokens, or its pathway tokens (``tokens: pathways``)."""
    if uses_genomics(model) and token_set(model, model_params(model)) == "pathways":
        return f"results/{cohort}/genomics/pathways/tokens.json"
    return f"results/{cohort}/genomics/tokens.json"


def tokens_input(wildcards):
    """The token definition of the rule's model in the rule's cohort."""
    return model_tokens(wildcards.cohort, wildcards.model)


@cache
def gpus_per_job(section):
    """The ``gpu`` resource of a section's jobs: 1 when they will run on a card ('device: cuda', or 'auto' on a
    machine where nvidia-smi lists one), else 0. On Slurm the login node may have no card: set 'device: cuda'."""
    device = config[section]["device"]
    return 0 if device == "cpu" else 1 if device == "cuda" else int(visible_gpu_count() > 0)


def earlier_summaries():
    """The summary.tsv files an earlier run (another configuration) left under results/ for cohorts outside this one:
    the report shows every cohort of the project, and says which results are earlier ones."""
    return sorted(str(path) for path in Path("results").glob("*/summary.tsv") if path.parent.name not in COHORTS)


def check_local_gpus():
    """Before the first job of a real local run (not a dry run, not a cluster, whose login node may lack a card): a
    section set to ``device: cuda`` on a machine without a GPU stops the run in one line."""
    wanted = [f"{section}.device" for section in ("extract", "train") if config[section]["device"] == "cuda"]
    if wanted and workflow.local_exec and not visible_gpu_count():
        raise WorkflowError(
            f"{' and '.join(wanted)}: cuda, but this machine shows no GPU (nvidia-smi lists none) and the "
            "jobs run here. Fix: set them to auto (CUDA where present, else the CPU) or cpu, or submit "
            "to GPU nodes (--workflow-profile workflow/profiles/slurm)."
        )


def training_gpus(wildcards):
    """1 for a torch model on a GPU, 0 for the CPU and for scikit-survival models (coxnet)."""
    if variant_entry(wildcards.model, model_params(wildcards.model)).trainer != "torch":
        return 0
    return gpus_per_job("train")


TRAIN_ENV = "../../envs/train-cuda.yaml" if gpus_per_job("train") else "../../envs/train.yaml"
"""The training jobs' conda env: with mamba-ssm's fused scan where they run on a card, else the pure-PyTorch scan."""


def genomic_matrices(wildcards):
    """Every matrix file the cohort's genomics sheet lists (so that editing one reruns this stage)."""
    return sheet(wildcards.cohort, "genomics")["path"].tolist()


def train_params():
    """The training section without the list of models, the tuning and the job grouping (adding a model, tuning one,
    or grouping folds differently must not retrain the others)."""
    return as_json({k: v for k, v in config["train"].items() if k not in ("models", "tune", "folds_per_job")})


def folds_per_job(model):
    """How many folds of ``model`` one training job fits: train.tune.folds_per_job for a tuned model, else
    train.folds_per_job."""
    return config["train"]["tune"]["folds_per_job"] if model in TUNED else config["train"]["folds_per_job"]


def fold_groups(cohort, model):
    """The cohort's folds cut into the groups that one training job of ``model`` fits."""
    size = folds_per_job(model)
    return [folds(cohort)[start : start + size] for start in range(0, len(folds(cohort)), size)]


def group_folds(wildcards):
    """The folds of group ``wildcards.group`` of a model."""
    groups = fold_groups(wildcards.cohort, wildcards.model)
    if int(wildcards.group) >= len(groups):
        raise WorkflowError(f"cohort {wildcards.cohort} has {len(groups)} groups of folds for {wildcards.model}, not {wildcards.group}")
    return groups[int(wildcards.group)]


def staged_fold(wildcards, fold=None):
    """The folder where a grouped training job stages one fold's files."""
    return f"results/{wildcards.cohort}/models/{wildcards.model}/.folds/fold_{wildcards.fold if fold is None else fold}"


def group_fold_jobs(wildcards):
    """``memamba train --folds``'s JSON: each fold's split and staging folder."""
    return json.dumps(
        [{"split": f"results/{wildcards.cohort}/splits/fold_{k}.tsv", "out": staged_fold(wildcards, k)} for k in group_folds(wildcards)]
    )


def fold_manifest(wildcards):
    """The manifest of the group of folds that holds ``wildcards.fold``."""
    for index, group in enumerate(fold_groups(wildcards.cohort, wildcards.model)):
        if int(wildcards.fold) in group:
            return f"results/{wildcards.cohort}/models/{wildcards.model}/.folds/group_{index}.tsv"
    raise WorkflowError(f"cohort {wildcards.cohort} has no fold {wildcards.fold}")


def staged_fold_pairs(wildcards, output):
    """(staged, final) for each file a take_fold job publishes."""
    return [(Path(staged_fold(wildcards)) / Path(path).name, path) for path in output]


def tune_params(wildcards):
    """The tuning budget and the search space of a tuned model (its configured model's space, if the config gives one)."""
    tune = config["train"]["tune"]
    spaces = tune["spaces"]
    space = {wildcards.model: spaces[TUNED[wildcards.model]]} if TUNED[wildcards.model] in spaces else {}
    return as_json({"candidates": tune["candidates"], "inner_folds": tune["inner_folds"], "seed": tune["seed"], "spaces": space})


def train_features(wildcards):
    """The patch features of every slide of the cohort, if the model uses slides."""
    if not uses_slides(wildcards.model):
        return []
    return list(slide_feature_files(wildcards.cohort).values())


def features_option(wildcards):
    """``["--features-dir", DIR]`` for a model that uses slides, else no arguments."""
    if not uses_slides(wildcards.model):
        return []
    return ["--features-dir", features_folder(wildcards.cohort)]


def fold_predictions(cohort, model):
    """The predictions of one model on every fold of the cohort."""
    return expand("results/{cohort}/models/{model}/fold_{fold}/predictions.tsv", cohort=cohort, model=model, fold=folds(cohort))


def cohort_fold_predictions(wildcards):
    """Every model's predictions on every fold of the cohort (the evaluation's inputs)."""
    return [path for model in MODELS for path in fold_predictions(wildcards.cohort, model)]


def evaluation_jobs(wildcards):
    """``memamba evaluate --models``'s JSON: per model its fold predictions, output folder and title."""
    cohort = wildcards.cohort
    return json.dumps(
        [
            {"predictions": fold_predictions(cohort, model), "out": f"results/{cohort}/eval/{model}", "title": f"{cohort} {model}"}
            for model in MODELS
        ]
    )


def summary_inputs(wildcards):
    """Every model's metrics of the cohort; for a demo cohort also its splits, clinical sheet and true risk."""
    cohort = wildcards.cohort
    own = [] if predict_only(cohort) else MODELS
    inputs = {"metrics": expand("results/{cohort}/eval/{model}/metrics.tsv", cohort=cohort, model=own), "external": external_files(cohort)}
    if sheet_path(cohort, "truth") and not predict_only(cohort):
        inputs["truth"] = sheet_path(cohort, "truth")
        inputs["clinical"] = sheet_path(cohort, "clinical")
        inputs["splits"] = expand("results/{cohort}/splits/fold_{fold}.tsv", cohort=cohort, fold=folds(cohort))
    return inputs


def oracle_options(wildcards, input):
    """``--truth/--clinical/--splits`` arguments when the cohort has a true risk to compare with, else none."""
    if "truth" not in input.keys():
        return []
    return ["--truth", input.truth, "--clinical", input.clinical, "--splits", *input.splits]


def stage_files(stage):
    """Every file of one stage of every cohort: segment/tile/extract ('features'; none for ready-made features),
    'genomics' or 'train' (splits, the models' checkpoints, histories and predictions, and their evaluation)."""
    files = []
    for cohort in COHORTS:
        if stage == "features" and not ready_features(cohort):
            for slide in slide_ids(cohort):
                files += [
                    f"results/{cohort}/tissue/{slide}.geojson",
                    f"results/{cohort}/tissue/{slide}.png",
                    f"results/{cohort}/patches/{slide}.h5",
                    f"results/{cohort}/features/{ENCODER}/{slide}.h5",
                ]
        elif stage == "genomics":
            names = ["features.parquet", "tokens.json", "qc.tsv", "patients.tsv"]
            files += expand("results/{cohort}/genomics/{name}", cohort=cohort, name=names)
            files += sorted({model_tokens(cohort, model) for model in MODELS} - set(files))
        elif stage == "train" and predict_only(cohort):
            files += external_files(cohort)
        elif stage == "train":
            names = ["checkpoint.pt", "history.tsv", "predictions.tsv", "config.yaml"]
            files += expand("results/{cohort}/splits/fold_{fold}.tsv", cohort=cohort, fold=folds(cohort))
            files += expand(
                "results/{cohort}/models/{model}/fold_{fold}/{name}",
                cohort=cohort,
                model=MODELS,
                fold=folds(cohort),
                name=names,
            )
            files += expand("results/{cohort}/eval/{model}/{name}", cohort=cohort, model=MODELS, name=["metrics.tsv", "km.png"])
            files += external_files(cohort)
    return files


def external_pairs():
    """(cohort, other) for every cohort the config has scored by another cohort's trained folds (``predict_with``)."""
    return [(c, config["cohorts"][c]["predict_with"]) for c in COHORTS if config["cohorts"][c].get("predict_with")]


def external_files(cohort):
    """The external-validation metrics of a cohort: one per model trained on the cohort it is scored by."""
    return [
        f"results/{cohort}/external/{other}/{model}/metrics.tsv" for scored, other in external_pairs() if scored == cohort for model in MODELS
    ]


def external_inputs(wildcards):
    """Every fold's checkpoint of the other cohort's model, and the scored cohort's sheets, genomics and features."""
    inputs = {
        "checkpoints": expand(
            "results/{other}/models/{model}/fold_{fold}/checkpoint.pt",
            other=wildcards.other,
            model=wildcards.model,
            fold=folds(wildcards.other),
        ),
        "slides": sheet_path(wildcards.cohort, "slides"),
        "clinical": sheet_path(wildcards.cohort, "clinical"),
        "genomics": f"results/{wildcards.cohort}/genomics/features.parquet",
        "tokens": model_tokens(wildcards.cohort, wildcards.model),
    }
    if uses_slides(wildcards.model):
        inputs["features"] = list(slide_feature_files(wildcards.cohort).values())
    return inputs


def heatmap_models():
    """The models the heatmaps target draws: ``heatmaps.models``, or every trained model with patch scores."""
    chosen = config["heatmaps"]["models"]
    if chosen is None:
        return [m for m in MODELS if has_patch_scores(m, model_params(m))]
    untrained = [m for m in chosen if m not in MODELS]
    if untrained:
        raise WorkflowError(
            f"{CONFIG_SOURCE}: heatmaps.models lists {untrained}, which train.models does not train. "
            "Fix: add them to train.models, or draw trained models only."
        )
    unscored = [m for m in chosen if not has_patch_scores(m, model_params(m))]
    if unscored:
        raise WorkflowError(
            f"{CONFIG_SOURCE}: heatmaps.models lists {unscored}, which compute no patch scores. "
            "Fix: draw abmil, abmil-snn, porpoise, mambamil, mcat, motcat, cmta, survpath or ME-Mamba (and its variants that read slides)."
        )
    return chosen


def heatmap_folders():
    """One folder of heatmaps per cohort with slides, drawn model and fold."""
    return [
        f"results/{cohort}/heatmaps/{model}/fold_{fold}"
        for cohort in COHORTS
        if sheet_path(cohort, "slides") and not predict_only(cohort)
        for model in heatmap_models()
        for fold in folds(cohort)
    ]


def heatmap_inputs(wildcards):
    """The cohort's slide sheet, and its planted tumour regions for a demo cohort that records them. (The features,
    known only once a generated cohort exists, are an input of their own, so that a dry run can name the others.)"""
    inputs = {"slides": sheet_path(wildcards.cohort, "slides")}
    if has_planted_tumours(wildcards.cohort):
        inputs["tumours"] = f"results/{wildcards.cohort}/input/tumour_regions.tsv"
    return inputs


def cohort_feature_files(wildcards):
    """Every slide's feature file of the cohort (after a generated cohort's checkpoint)."""
    return list(slide_feature_files(wildcards.cohort).values())


def has_planted_tumours(cohort):
    """Whether the cohort is a demo cohort whose slides show the risk in a recorded tumour region."""
    return is_generated(cohort) and config["cohorts"][cohort]["generate"]["slide_signal"] == "tumour"


def heatmap_tumours_option(wildcards, input):
    """``["--tumours", TSV]`` for a demo cohort with planted tumour regions (planted_auc.tsv), else no arguments."""
    return ["--tumours", input.tumours] if "tumours" in input.keys() else []


def heatmap_settings_options(wildcards):
    """The heatmaps section's drawing settings as arguments of ``memamba heatmap``."""
    settings = config["heatmaps"]
    options = {"--count": "patients", "--scaling": "scaling", "--blur": "blur", "--thumbnail-size": "thumbnail_size", "--top-k": "top_k"}
    return [str(item) for option, key in options.items() for item in (option, settings[key])]


def all_stage_outputs(wildcards):
    """Every per-slide, per-cohort and per-fold file of every cohort (the default target's intermediates)."""
    return stage_files("features") + stage_files("genomics") + stage_files("train")


RESULTS = Path("results").resolve()


def check_outside_results(inputs):
    """A ConfigError when an input path (``[(what, path)]``) lies in results/: the workflow's jobs delete and rewrite
    what is there, a slide or sheet among it could be lost or mistaken for an output."""
    inside = [f"{what} {path}" for what, path in inputs if path and RESULTS in (Path(path).resolve(), *Path(path).resolve().parents)]
    if inside:
        raise ConfigError(
            f"{'; '.join(inside[:5])}: inside {RESULTS}, the folder this workflow writes (its jobs delete and rewrite files "
            f"there){f' ({len(inside)} inputs in all)' if len(inside) > 5 else ''}. Fix: keep your inputs outside results/."
        )


def check_cohort(cohort):
    """Fail at start-up, not hours later, when a user cohort's sheets, gene families, true risk, published folds or
    ready-made features are wrong, or lie where the workflow writes."""
    sheets = {kind: _sheet(cohort, kind) for kind in ("slides", "clinical", "genomics")}
    if workflow.is_main_process and not sheets["clinical"]["event"].astype(bool).any():
        logger.warning(
            f"cohort {cohort}: no patient of {sheet_path(cohort, 'clinical')} has an event (all {len(sheets['clinical'])} are "
            "censored): the models train, but every c-index, AUC and log-rank p is undefined. Check the event column (1 = died)."
        )
    read_gene_families(sheet_path(cohort, "gene_families"))
    if sheet_path(cohort, "pathways"):
        read_pathways(sheet_path(cohort, "pathways"))
    if sheet_path(cohort, "truth"):
        read_sheet(sheet_path(cohort, "truth"), "truth", check_paths=False)
    if published_splits(cohort):
        for path in published_fold_files(published_splits(cohort)):
            read_published_fold(path)
    if ready_features(cohort):
        _ready_feature_files(cohort)
    entry = config["cohorts"][cohort]
    keys = ("slides", "clinical", "genomics", "gene_families", "pathways", "truth", "splits", "features")
    inputs = [(f"cohorts.{cohort}.{key}", entry.get(key)) for key in keys]
    inputs += [(f"slide {row.slide_id}", row.path) for row in sheets["slides"].itertuples() if isinstance(row.path, str)]
    inputs += [("genomic matrix", path) for path in sheets["genomics"]["path"]]
    check_outside_results(inputs)


for _cohort in COHORTS:
    if not is_generated(_cohort):
        try:
            check_cohort(_cohort)
        except MemambaError as error:
            raise WorkflowError(f"cohort {_cohort}: invalid input:\n{error}")
if any(not ready_features(c) for c in COHORTS):
    try:
        check_weights_setting(config["extract"], verify_sha256=workflow.is_main_process)
        check_outside_results([("extract.weights", path) for path in weights_input(None)])
    except ConfigError as error:
        raise WorkflowError(f"invalid configuration ({CONFIG_SOURCE}):\n{error}")
for _cohort in COHORTS:
    if predict_only(_cohort) and not config["cohorts"][_cohort].get("predict_with"):
        raise WorkflowError(
            f"{CONFIG_SOURCE}: cohorts.{_cohort}.predict_only is true, but the cohort names no predict_with. "
            "Fix: name the cohort whose folds score it in predict_with, or drop predict_only."
        )
for _scored, _other in external_pairs():
    if _other not in COHORTS or _other == _scored:
        raise WorkflowError(
            f"{CONFIG_SOURCE}: cohorts.{_scored}.predict_with is {_other!r}, not another cohort of the config. "
            f"Fix: name one of {[c for c in COHORTS if c != _scored]}."
        )
for _model in MODELS:
    try:
        variant_entry(_model, model_params(_model))
    except KeyError as error:
        raise WorkflowError(str(error))
    _without = [c for c in COHORTS if "pathways" in model_tokens(c, _model) and not sheet_path(c, "pathways")]
    if _without:
        raise WorkflowError(
            f"{CONFIG_SOURCE}: model {_model} reads pathway tokens (tokens: pathways), but cohort(s) {_without} give no "
            f"pathway table. Fix: add cohorts.{_without[0]}.pathways (a gene x pathway 0/1 table such as SurvPath's "
            f"combine_comps.csv, a GMT file, or one column of genes per pathway), or set models.{_model}.tokens: families."
        )
