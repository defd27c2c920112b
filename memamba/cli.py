"""The ``memamba`` command line: one sub-command per pipeline stage.

Heavy libraries are imported inside each command so that ``--help`` and the light stages start fast.
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from memamba.cpu_kernels import pin_cpu_kernels
from memamba.errors import MemambaError

if TYPE_CHECKING:
    from memamba.slides.extract import ExtractParams


def _slide_mpp(text: str) -> float | None:
    """A level-0 microns-per-pixel override (the sample sheet's range, 0.05 < mpp <= 20), or None for empty text."""
    if text in ("", "None"):
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (0.05 < value <= 20):
        raise argparse.ArgumentTypeError(f"{text!r} is not a microns-per-pixel value; expected a number above 0.05 "
                                         "and at most 20 (e.g. 0.25 at 40x, 0.5 at 20x), or leave it out to trust the file")
    return value


def _positive_count(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is less than 1")
    return value


def _fraction(text: str) -> float:
    """argparse type: a number from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is not between 0 and 1")
    return value


def _add_params(parser: argparse.ArgumentParser, section: str) -> None:
    parser.add_argument("--params", default=None, metavar="JSON",
                        help=f"the '{section}' config section as JSON; missing keys take their documented defaults")


def cmd_demo_data(args: argparse.Namespace) -> None:
    from memamba.demo import generate_cohort
    from memamba.demo.mechanisms import MECHANISMS

    if args.mechanism not in (None, *MECHANISMS):
        raise MemambaError(f"--mechanism {args.mechanism!r} is not a planted mechanism. Fix: use one of {', '.join(MECHANISMS)}.")

    out = generate_cohort(args.out, patients=args.patients, seed=args.seed, slide_size=args.slide_size,
                          slide_signal=args.slide_signal, slide_share=args.slide_share, mechanism=args.mechanism)
    print(f"demo cohort written to {out}" + (f" (planted mechanism: {args.mechanism})" if args.mechanism else ""))


def cmd_segment(args: argparse.Namespace) -> None:
    from memamba.config import section_params
    from memamba.slides.segment import SegmentParams, segment_slide, write_segmentation

    params = SegmentParams(**section_params("segment", args.params))
    name = args.name or Path(args.slide).stem
    result = segment_slide(args.slide, params, args.mpp)
    out = Path(args.out)
    write_segmentation(result, args.slide, params, out / f"{name}.geojson", out / f"{name}.png")
    print(f"{name}: {len(result.polygons)} tissue region(s); mpp {result.mpp.mpp:.4f} from {result.mpp.source}")


def cmd_tile(args: argparse.Namespace) -> None:
    from memamba.config import section_params
    from memamba.slides.segment import read_polygons
    from memamba.slides.tile import TileParams, tile_slide, write_patches

    overrides = {"target_mpp": args.target_mpp, "patch_size": args.patch_size}
    params = TileParams(**section_params("tile", args.params, overrides=overrides))
    grid = tile_slide(args.slide, read_polygons(args.tissue), params, args.mpp, args.tissue)
    write_patches(grid, args.out, params, [args.slide, args.tissue])
    print(f"{Path(args.slide).name}: {len(grid.coords)} patches of {params.patch_size} px at {params.target_mpp} um/px "
          f"(level {grid.read_level}, {grid.patch_size_level0} px at level 0)")


def cmd_extract(args: argparse.Namespace) -> None:
    from memamba.config import section_params
    from memamba.slides.encoders import encoder_table
    from memamba.slides.extract import ExtractParams, extract_features, features_up_to_date, write_features

    if args.list_encoders:
        print(f"{'encoder':<16} {'width':>5}  weights")
        print("\n".join(f"{name:<16} {dim:>5}  {source}" for name, dim, source in encoder_table()))
        return
    if not (args.slide and args.patches and args.out) and not (args.shard and args.manifest):
        raise MemambaError("SLIDE, --patches and -o are required. Fix: give them (or --shard and --manifest, or --list-encoders).")
    section = section_params("extract", args.params, overrides={"encoder": args.encoder, "weights": args.weights, "device": args.device})
    device = section.pop("device")
    section.pop("slides_per_job")
    params = ExtractParams(**section)
    if args.shard:
        _extract_shard(args, params, device)
        return
    sources = [args.slide, args.patches]
    if not args.force and features_up_to_date(args.out, params, sources):
        print(f"{Path(args.slide).name}: {args.out} is up to date with encoder {params.encoder}; skipped (--force redoes it)")
        return
    result = extract_features(args.slide, args.patches, params, device, progress=not args.quiet)
    write_features(args.out, result, params, sources)
    skipped = f", {len(result.skipped_coords)} unreadable patch(es) dropped" if len(result.skipped_coords) else ""
    print(f"{Path(args.slide).name}: features {result.features.shape} with encoder {params.encoder}{skipped}")


def _extract_shard(args: argparse.Namespace, params: ExtractParams, device: str) -> None:
    from memamba.slides.extract_shard import SlideJob, extract_shard, write_manifest

    try:
        jobs = [SlideJob(job["slide_id"], Path(job["slide"]), Path(job["patches"]), Path(job["out"])) for job in json.loads(args.shard)]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise MemambaError(f"--shard is not a JSON list of {{slide_id, slide, patches, out}} objects ({exc}). "
                           "Fix: pass such a list (the workflow writes it).") from exc
    manifest = extract_shard(jobs, params, device, progress=not args.quiet)
    write_manifest(manifest, args.manifest)
    counts = manifest["status"].value_counts()
    print(f"{len(jobs)} slide(s) with encoder {params.encoder}: " + ", ".join(f"{n} {status}" for status, n in counts.items()))
    for row in manifest[manifest["status"] == "failed"].itertuples():
        print(f"  failed {row.slide_id}: {row.message}", file=sys.stderr)


def cmd_take_features(args: argparse.Namespace) -> None:
    from memamba.slides.extract_shard import take_features

    print(f"{args.slide_id}: {take_features(args.manifest, args.slide_id, args.out)}")


def cmd_export_clam(args: argparse.Namespace) -> None:
    from memamba.slides.clam import export_clam

    names = export_clam(args.features, args.out)
    print(f"{len(names)} slide(s) exported to {args.out}/h5_files, {args.out}/pt_files and {args.out}/patches")


def cmd_import_mcat(args: argparse.Namespace) -> None:
    from memamba.data.mcat_cohort import cohort_config, cohort_name, families_copy_path, select_slides, write_config, write_import
    from memamba.data.splits import read_published_folds
    from memamba.genomics.mcat import describe_sizes, mcat_loader_columns, mcat_token_sizes, read_mcat_table, summarise_matrix
    from memamba.genomics.tables import read_gene_families

    result = read_mcat_table(args.table)
    splits = read_published_folds(args.splits, set(result.clinical["patient_id"])) if args.splits else None
    selection = select_slides(result.slides, args.slide_dir, args.features, args.slide_types)
    out = Path(args.out)
    families = read_gene_families(args.families)
    name = args.cohort or cohort_name(args.table)
    config = cohort_config(name, out, families_copy_path(out, args.families), splits is not None, args.features, args.settings)
    families_copy = write_import(result, selection, out, splits, args.families)
    write_config(config, out / "config.yaml", args.table)
    columns = [f"{gene}_{suffix}" for suffix, matrix in result.matrices.items() for gene in matrix.index]
    loader = mcat_loader_columns(result.columns, families)
    print(f"{args.table}: {len(result.clinical)} patients ({int(result.clinical['event'].sum())} events), "
          f"{len(result.slides)} slides")
    for suffix, matrix in result.matrices.items():
        print(f"  {suffix}: {summarise_matrix(matrix)}")
    if result.ignored_columns:
        print(f"  ignored columns (neither genomic nor known metadata): {result.ignored_columns}")
    if result.conflicting_patients:
        print(f"  {len(result.conflicting_patients)} patient(s) with disagreeing slide rows; first row used")
    if selection.not_diagnostic:
        print(f"  {len(selection.not_diagnostic)} non-diagnostic slide(s) left out (--slide-types all keeps them)")
    where = f"feature files in {args.features}" if args.features else f"under {args.slide_dir}" if args.slide_dir else None
    if where:
        twice = f", {len(selection.duplicates)} found twice (first used)" if selection.duplicates else ""
        print(f"  slides: {len(selection.slides)} found ({where}), {len(selection.absent)} absent "
              f"(listed in {out / 'absent_slides.tsv'}){twice}")
    else:
        print(f"  slides: {len(selection.slides)}, expected under {out / 'slides'} (give --slide-dir or --features to look for them)")
    if splits is not None:
        print(f"  {len(splits)} folds imported from {args.splits}: " + ", ".join(
            f"{(f['role'] == 'train').sum()}/{(f['role'] == 'val').sum()}" for f in splits) + " train/val patients")
    print(f"  token sizes memamba trains on (every GENE_mut/cnv/rnaseq column of a family's genes): "
          f"{describe_sizes(mcat_token_sizes(columns, families))}")
    print(f"  token sizes MCAT's own loader gives: {list(loader.sizes.values())} (it drops {loader.dropped} into its metadata"
          + (f" and feeds {loader.leaked} to its genomic input" if loader.leaked else "") + ")")
    print(f"written to {out}: clinical.tsv, slides.tsv, absent_slides.tsv, genomics.tsv and its matrices, {families_copy.name}"
          + (", splits/" if splits else "") + f", config.yaml (cohort '{name}')")
    print(f"next: snakemake --cores 8 --configfile {out / 'config.yaml'}")


def cmd_model_info(args: argparse.Namespace) -> None:
    from memamba.config import load_config
    from memamba.models import ModelInputs
    from memamba.models.info import model_info
    from memamba.models.settings import check_models_section
    from memamba.readers import read_json
    from memamba.slides.encoders import encoder_dim

    config = load_config(args.config)
    check_models_section(config["models"], args.config, config["train"]["n_bins"])
    if args.tokens:
        tokens = read_json(args.tokens, "tokens.json", "give the tokens.json that 'memamba genomics' wrote")
        try:
            token_sizes = [len(token["features"]) for token in tokens["tokens"]]
        except (KeyError, TypeError) as exc:
            raise MemambaError(f"{args.tokens}: not a tokens.json of 'memamba genomics' (no {exc}). "
                               "Fix: give the tokens.json that 'memamba genomics' wrote.") from exc
    else:
        token_sizes = args.token_sizes
    inputs = ModelInputs(encoder_dim(config["extract"]["encoder"]), token_sizes, config["train"]["n_bins"])
    info = model_info(args.model, inputs, config["models"].get(args.model, {}), args.patches)
    print(f"{args.model} from {args.config}: patch features {inputs.patch_dim}-d ({config['extract']['encoder']}), "
          f"tokens {token_sizes}, {inputs.n_bins} time bins")
    for part, count in info.parameters.items():
        print(f"  parameters {part:<12} {count:>12,}")
    for n, gflops in info.forward_gflops.items():
        print(f"  forward FLOPs per patient with {n:>6} patches: {gflops:10.3f} GFLOP (backward about 2x more)")


def cmd_genomics(args: argparse.Namespace) -> None:
    from memamba.genomics.tokens import write_genomics

    tokens = write_genomics(args.sheet, args.families, args.out, args.clinical)
    for token in tokens["tokens"]:
        print(f"{token['name']}: {len(token['features'])} features, {len(token['missing_genes'])} of {token['n_genes']} genes missing")


def cmd_splits(args: argparse.Namespace) -> None:
    import pandas as pd

    from memamba.config import section_params
    from memamba.data.cohort import complete_patients
    from memamba.data.splits import make_splits, write_splits
    from memamba.sheets import read_sheet

    params = section_params("splits", args.params)
    clinical = read_sheet(args.clinical, "clinical", check_paths=False)
    slides = read_sheet(args.slides, "slides", check_paths=False)
    genomic_patients = set(pd.read_parquet(args.genomics).index.astype(str))
    patients = complete_patients(clinical, slides, genomic_patients, params["missing_modality"])
    usable = clinical[clinical["patient_id"].isin(patients)].reset_index(drop=True)
    paths = write_splits(make_splits(usable, params["folds"], params["seed"], params["time_bins"]), args.out)
    print(f"{len(paths)} folds over {len(usable)} patients written to {args.out}")


def cmd_published_split(args: argparse.Namespace) -> None:
    import pandas as pd

    from memamba.atomic import atomic_path
    from memamba.data.cohort import complete_patients, lacking_modalities
    from memamba.data.splits import keep_patients_with_data, read_published_fold
    from memamba.sheets import read_sheet

    clinical = read_sheet(args.clinical, "clinical", check_paths=False)
    slides = read_sheet(args.slides, "slides", check_paths=False)
    genomic_patients = set(pd.read_parquet(args.genomics).index.astype(str))
    usable = set(complete_patients(clinical, slides, genomic_patients, args.missing_modality, report=False))
    lacking = {p: " or ".join(m) for p, m in lacking_modalities(clinical["patient_id"], slides, genomic_patients).items() if m}
    published = read_published_fold(args.fold)
    fold, left_out = keep_patients_with_data(published, usable, lacking)
    with atomic_path(args.out) as tmp:
        fold.to_csv(tmp, sep="\t", index=False)
    counts = {role: int((fold["role"] == role).sum()) for role in ("train", "val")}
    print(f"{args.fold}: {len(published)} patients published, {counts['train']} train and {counts['val']} val kept, "
          f"{len(left_out)} left out (no data to use; missing_modality: {args.missing_modality})")
    for row in left_out.itertuples():
        print(f"  left out {row.patient_id} ({row.role}): no {row.lacks}")


def cmd_train(args: argparse.Namespace) -> None:
    import yaml

    from memamba.atomic import atomic_paths
    from memamba.config import json_object, section_params
    from memamba.data.bags import feature_file
    from memamba.data.cohort import load_cohort
    from memamba.data.splits import read_split
    from memamba.models import list_models
    from memamba.models.registry import variant_entry
    from memamba.models.settings import entry_problems
    from memamba.provenance import run_fingerprint
    from memamba.sheets import read_sheet
    from memamba.train.checkpoint import fold_checkpoint, save_checkpoint
    from memamba.train.device import pick_device
    from memamba.train.loop import train_fold
    from memamba.train.transforms import GenomicTransform

    if args.list_models:
        print("\n".join(list_models()))
        return
    needed = ("slides", "clinical", "genomics", "tokens", "split", "model", "out")
    missing = [f"--{n.replace('_', '-')}" for n in needed if getattr(args, n) is None]
    if missing:
        raise MemambaError(f"missing {' '.join(missing)}. Fix: give them (or use --list-models).")
    params = section_params("train", args.params)
    model_params = json_object(args.model_params, "--model-params")
    problems = entry_problems(args.model, model_params, "--model-params")
    if problems:
        raise MemambaError("\n".join(problems))
    genomics_params = section_params("genomics", args.genomics_params)
    transform = GenomicTransform(**genomics_params)
    uses_slides = "slides" in variant_entry(args.model, model_params).modalities
    if uses_slides and args.features_dir is None:
        raise MemambaError(f"model {args.model} uses slides. Fix: give --features-dir, the folder of its patch features.")
    features_dir = args.features_dir if uses_slides else None
    cohort = load_cohort(args.slides, args.clinical, features_dir, args.genomics, args.tokens, args.missing_modality)
    device = str(pick_device(params["device"]))
    out = Path(args.out)
    epoch_state = out / "epoch_state.pt"
    settings = {"model": args.model, "model_params": model_params, "train": params, "genomics": genomics_params,
                "missing_modality": args.missing_modality}
    inputs = [args.slides, args.clinical, args.genomics, args.tokens, args.split]
    if features_dir is not None:
        slides = read_sheet(args.slides, "slides", check_paths=False)["slide_id"]
        inputs += sorted(str(path) for path in (feature_file(features_dir, slide) for slide in slides) if path is not None)
    split = read_split(args.split)
    tuning = None
    if args.tune is not None:
        tuning, model_params, params = _tuned(args, cohort, split, model_params, params, transform, device)
        settings = {**settings, "model_params": model_params, "train": params, "tuning": tuning}
    result = train_fold(cohort, split, args.model, model_params, params, transform, device,
                        progress=not args.quiet, checkpoint=epoch_state if args.resume else None,
                        fingerprint=run_fingerprint(settings, inputs))
    names = ["checkpoint.pt", "history.tsv", "predictions.tsv", "config.yaml"] + (["tuning.tsv"] if tuning else [])
    with atomic_paths([out / name for name in names]) as tmp:
        save_checkpoint(fold_checkpoint(args.model, model_params, _fitted(result.model), result.state, cohort, transform), tmp[0])
        result.history.to_csv(tmp[1], sep="\t", index=False)
        result.predictions.to_csv(tmp[2], sep="\t", index=False)
        tmp[3].write_text(yaml.safe_dump({**settings, "device": device, "compute": result.compute,
                                          "bin_edges": [float(e) for e in result.state["bin_edges"]]}, sort_keys=False))
        if tuning:
            (out / INNER_FITS).replace(tmp[4])
    epoch_state.unlink(missing_ok=True)
    kept = result.history[result.history["selected"]].iloc[-1]
    print(f"{args.model}: {len(result.history)} epoch(s), kept epoch {int(kept.epoch)}, train c-index {kept.train_c_index:.3f} "
          f"({result.compute['device']}, {result.compute['precision']}, scan backend {result.compute['scan_backend']})")


INNER_FITS = "inner_fits.partial.tsv"
"""Where ``memamba train --tune`` records each finished inner fit (a rerun resumes from it); tuning.tsv at the end."""


def _tuned(args: argparse.Namespace, cohort: object, split: object, model_params: dict, params: dict, transform: object,
           device: str) -> tuple[dict, dict, dict]:
    """Nested CV for one outer fold: (what config.yaml records of it, the chosen model settings, training settings)."""
    from memamba.config import json_object, section_params
    from memamba.train.search_space import applied, search_space
    from memamba.train.tuning import TuneSettings, tune_fold

    tune = section_params("train", json.dumps({"tune": json_object(args.tune, "--tune")}), "--tune")["tune"]
    budget = TuneSettings(tune["candidates"], tune["inner_folds"], tune["seed"])
    space = search_space(args.model, model_params, tune["spaces"])
    result = tune_fold(cohort, split, args.model, model_params, params, transform, space, budget, device,
                       record=Path(args.out) / INNER_FITS)
    chosen_model, chosen_train = applied(result.chosen, model_params, params)
    mean = result.scores.groupby("candidate")["c_index"].mean()
    record = {"candidates": budget.candidates, "inner_folds": budget.inner_folds, "inner_fits": budget.inner_fits,
              "seed": budget.seed, "space": space, "chosen_candidate": result.candidate, "chosen": result.chosen,
              "inner_c_index": float(mean[result.candidate]), "configured_inner_c_index": float(mean[0])}
    print(f"{args.model}: candidate {result.candidate} of {budget.candidates} chosen by {budget.inner_folds}-fold inner "
          f"cross-validation (inner c-index {record['inner_c_index']:.3f}, configured setting {record['configured_inner_c_index']:.3f}): "
          f"{result.chosen}")
    return record, chosen_model, chosen_train


def _fitted(model: object) -> object:
    """What the checkpoint keeps of a fitted model: a torch model's state dict, or Coxnet's plain-data fit."""
    return model.state_dict() if hasattr(model, "state_dict") else model


def cmd_predict(args: argparse.Namespace) -> None:
    from memamba.atomic import atomic_path
    from memamba.data.cohort import load_cohort
    from memamba.survival.metrics import harrell_c
    from memamba.train.checkpoint import load_checkpoint
    from memamba.train.device import pick_device
    from memamba.train.predict import predict_cohort

    checkpoints = {path: load_checkpoint(path) for path in args.checkpoint}
    cohort = load_cohort(args.slides, args.clinical, args.features_dir, args.genomics, args.tokens, args.missing_modality)
    table = predict_cohort(checkpoints, cohort, pick_device(args.device), args.batch_size)
    with atomic_path(args.out) as tmp:
        table.to_csv(tmp, sep="\t", index=False)
    model = next(iter(checkpoints.values())).model
    known = "event" in table and bool(table["event"].any())
    score = (f", Harrell's c-index {harrell_c(table['survival_months'].to_numpy(), table['event'].to_numpy(), table['risk'].to_numpy()):.3f}"
             " over all of them (optimistic if they include the folds' training patients)") if known else ""
    print(f"{model}: {len(table)} patients scored by {len(checkpoints)} fold(s){score} -> {args.out}")


def cmd_heatmap(args: argparse.Namespace) -> None:
    import pandas as pd

    from memamba.atomic import atomic_path
    from memamba.data.bags import slide_stem
    from memamba.data.cohort import load_cohort
    from memamba.report.attributions import plot_attributions
    from memamba.report.fold_heatmaps import draw_patients, fold_attributions
    from memamba.report.heatmap_render import RenderSettings
    from memamba.report.heatmaps import FoldScorer, extreme_patients
    from memamba.report.planted import planted_table
    from memamba.sheets import read_sheet
    from memamba.train.checkpoint import load_checkpoint
    from memamba.train.device import pick_device
    from memamba.train.predict import check_compatible

    if not args.patient and args.predictions is None:
        raise MemambaError("no patient chosen. Fix: give --patient ID..., or --predictions PREDICTIONS.tsv (with --count).")
    if (args.tumours or args.attributions) and args.predictions is None:
        raise MemambaError("--tumours and --attributions score the fold's validation patients. Fix: give --predictions too.")
    settings = RenderSettings(args.thumbnail_size, args.scaling, args.blur, args.alpha, args.colormap, args.top_k)
    checkpoint = load_checkpoint(args.checkpoint)
    cohort = load_cohort(args.slides, args.clinical, args.features_dir, args.genomics, args.tokens, "exclude")
    check_compatible(checkpoint, args.checkpoint, cohort)
    predictions = None if args.predictions is None else pd.read_csv(args.predictions, sep="\t")
    if predictions is not None:                      # patients the fold imputed a modality for have nothing to draw
        predictions = predictions[predictions["patient_id"].isin(cohort.patients)]
    patients = {p: "chosen" for p in args.patient} if args.patient else extreme_patients(predictions, args.count)
    slide_paths = None
    if args.render:
        sheet = read_sheet(args.slides, "slides")
        slide_paths = {key: Path(path) for slide_id, path in zip(sheet["slide_id"], sheet["path"])
                       for key in (slide_id, slide_stem(slide_id))}
    out = Path(args.out)
    scorer = FoldScorer(checkpoint, cohort, pick_device(args.device))
    index = draw_patients(scorer, patients, slide_paths, out, settings)
    print(f"{checkpoint.model}: patch scores of {len(patients)} patient(s), {len(index)} slide(s) -> {out}")
    validation = [] if predictions is None else predictions.loc[predictions["role"] == "val", "patient_id"].tolist()
    if args.tumours:
        table = planted_table(scorer, validation, args.tumours)
        with atomic_path(out / "planted_auc.tsv") as tmp:
            table.to_csv(tmp, sep="\t", index=False, float_format="%.4f")
        for row in table.itertuples():
            print(f"  planted-patch AUC of {row.head}: {row.planted_auc:.3f} (mean over {row.slides} slides of "
                  f"{row.patients} validation patients)")
    if args.attributions:
        attributions = fold_attributions(scorer, validation)
        with atomic_path(out / "attributions.tsv") as tmp:
            attributions.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
        plot_attributions(attributions, f"{checkpoint.model}: gene families, {len(validation)} validation patients",
                          out / "attributions.png")
        print(f"  genomic attributions of {len(validation)} validation patients -> {out / 'attributions.tsv'}")


def cmd_evaluate(args: argparse.Namespace) -> None:
    from memamba.atomic import atomic_paths
    from memamba.report.plots import plot_km
    from memamba.survival.evaluate import fold_metrics, read_histories, read_predictions, risk_groups, undefined_metrics

    predictions = read_predictions(args.predictions)
    table = fold_metrics(predictions, read_histories(args.predictions))
    out = Path(args.out)
    with atomic_paths([out / "metrics.tsv", out / "km.png"]) as (metrics, km):
        table.to_csv(metrics, sep="\t", index=False, float_format="%.4g")
        plot_km(risk_groups(predictions), f"{args.title}: validation patients, all folds", km)
    mean, sd = table.set_index("fold").loc[["mean", "sd"], "c_index"]
    print(f"{args.title}: c-index {mean:.3f} +- {sd:.3f} over {len(args.predictions)} folds")
    for line in undefined_metrics(table):
        print(f"memamba evaluate: warning: {line}", file=sys.stderr)


def cmd_evaluate_external(args: argparse.Namespace) -> None:
    import pandas as pd

    from memamba.atomic import atomic_paths
    from memamba.report.plots import plot_km
    from memamba.sheets import read_sheet
    from memamba.survival.evaluate import external_metrics, undefined_metrics

    predictions = pd.read_csv(args.predictions, sep="\t", dtype={"patient_id": str})
    if "survival_months" not in predictions:
        raise MemambaError(f"{args.predictions}: no survival columns (predicted without --clinical). "
                           "Fix: predict with the scored cohort's clinical sheet to evaluate it.")
    training = read_sheet(args.training_clinical, "clinical", check_paths=False)
    table, groups = external_metrics(predictions, training)
    out = Path(args.out)
    with atomic_paths([out / "metrics.tsv", out / "km.png"]) as (metrics, km):
        table.to_csv(metrics, sep="\t", index=False, float_format="%.4g")
        plot_km(groups, f"{args.title}: all patients (split at their median risk)", km)
    print(f"{args.title}: c-index {table['c_index'].iloc[0]:.3f}, Uno's c {table['uno_c'].iloc[0]:.3f} "
          f"on {len(predictions)} patients")
    for line in undefined_metrics(table):
        print(f"memamba evaluate-external: warning: {line.replace('validation patients', 'scored patients')}", file=sys.stderr)


def cmd_summarise(args: argparse.Namespace) -> None:
    from memamba.atomic import atomic_path
    from memamba.report.summary import cohort_summary

    table = cohort_summary(args.cohort, args.metrics, args.splits, args.truth, args.clinical, args.external)
    with atomic_path(args.out) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.4f")
    print(table[["cohort", "model", "c_index_mean", "c_index_sd"]].to_string(index=False))


def cmd_report(args: argparse.Namespace) -> None:
    from memamba.atomic import atomic_path
    from memamba.report.compute import read_benchmarks, stage_compute
    from memamba.report.summary import write_report

    compute = None
    if args.benchmarks:
        compute = stage_compute(read_benchmarks(args.benchmarks, skip=("report",)))
        if args.out_compute:
            with atomic_path(args.out_compute) as tmp:
                compute.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    table = write_report(args.summaries, args.out_tsv, args.out_html, compute)
    print(table[["cohort", "model", "c_index_mean", "c_index_sd"]].to_string(index=False))
    if compute is not None:
        print("\ncompute per stage (from " + str(args.benchmarks) + "):")
        print(compute.to_string(index=False, float_format=lambda v: f"{v:.4g}"))


def _add_cohort_inputs(parser: argparse.ArgumentParser) -> None:
    """The inputs of a cohort scored by trained folds (predict, heatmap) and the device."""
    parser.add_argument("--slides", required=True, help="slide sheet of the cohort to score")
    parser.add_argument("--clinical", default=None, help="its clinical sheet, when survival is known (adds survival_months and event)")
    parser.add_argument("--features-dir", default=None, help="folder of its per-slide features (models that use slides; "
                                                             "heatmaps need .h5 files with coords)")
    parser.add_argument("--genomics", required=True, help="its features.parquet from 'memamba genomics'")
    parser.add_argument("--tokens", required=True, help="its tokens.json")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    from memamba import __version__

    parser = argparse.ArgumentParser(prog="memamba", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"memamba {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("demo-data", help="generate the synthetic demo cohort",
                            description="Write synthetic Aperio SVS slides, RNA-seq counts, CNV, mutations, survival, "
                                        "the sample sheets and the true risk to --out.")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--patients", type=int, default=60, help="number of patients (default 60)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--slide-size", type=int, default=1024, help="level-0 width/height of each slide in pixels (default 1024)")
    p.add_argument("--slide-signal", choices=("tissue", "tumour"), default="tissue",
                   help="where the slides show their part of the risk: all the tissue (default), or one tumour region "
                        "per slide, the rest of the tissue being unrelated to the risk (tumour_regions.tsv records it)")
    p.add_argument("--slide-share", type=_fraction, default=0.5,
                   help="the slides' share of the risk's variance, 0 to 1; the genomic tables carry the rest (default 0.5)")
    p.add_argument("--mechanism", default=None,
                   help="a planted mechanism instead (memamba.demo.mechanisms): additive, correspondence, localisation or "
                        "arrangement; one slide per patient drawn as a grid of its patches, copy numbers of six families")
    p.set_defaults(func=cmd_demo_data)

    p = commands.add_parser("segment", help="segment tissue: GeoJSON polygons + QC overlay PNG",
                            description="Segment the tissue of SLIDE; writes OUT/NAME.geojson (level-0 pixels, holes "
                                        "included) and OUT/NAME.png (QC overlay).")
    p.add_argument("slide", help="slide file (SVS, TIFF, NDPI, ... anything OpenSlide opens)")
    p.add_argument("-o", "--out", required=True, help="output folder")
    p.add_argument("--name", help="base name of the outputs (default: the slide file's stem)")
    p.add_argument("--mpp", type=_slide_mpp, default=None, help="level-0 microns per pixel, overriding the file's")
    _add_params(p, "segment")
    p.set_defaults(func=cmd_segment)

    p = commands.add_parser("tile", help="tile tissue into patches at a physical resolution",
                            description="Lay a patch grid at the target mpp over SLIDE and keep the patches covering "
                                        "enough tissue; writes an HDF5 file with 'coords' (level-0 top-left corners).")
    p.add_argument("slide", help="slide file")
    p.add_argument("--tissue", required=True, help="GeoJSON from 'memamba segment'")
    p.add_argument("-o", "--out", required=True, help="output HDF5 file")
    p.add_argument("--mpp", type=_slide_mpp, default=None, help="level-0 microns per pixel, overriding the file's")
    p.add_argument("--target-mpp", type=float, default=None, help="patch resolution in microns per pixel (default 0.5)")
    p.add_argument("--patch-size", type=int, default=None, help="patch width and height in pixels at --target-mpp (default 256)")
    _add_params(p, "tile")
    p.set_defaults(func=cmd_tile)

    p = commands.add_parser("extract", help="encode patches into features with a registered encoder",
                            description="Read the patches listed by 'memamba tile' and encode them in batches; writes "
                                        "an HDF5 file with 'features' (N x D) and 'coords'.")
    p.add_argument("slide", nargs="?", help="slide file")
    p.add_argument("--patches", help="HDF5 from 'memamba tile'")
    p.add_argument("-o", "--out", help="output HDF5 file")
    p.add_argument("--encoder", default=None, help="registered encoder name (default: demo-stats; see --list-encoders)")
    p.add_argument("--weights", default=None, help="local path to the encoder's weights")
    p.add_argument("--device", default=None, help="auto (CUDA if available; the default), cpu or cuda")
    p.add_argument("--force", action="store_true", help="extract even if OUT is up to date with the same encoder and inputs")
    p.add_argument("--list-encoders", action="store_true", help="print the registered encoders and exit")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--shard", default=None, help="several slides in one job, the encoder loaded once: a JSON list of "
                   "{slide_id, slide, patches, out}; each slide is skipped when OUT is up to date, and a failing slide is "
                   "recorded in --manifest while the others go on")
    p.add_argument("--manifest", default=None, help="with --shard: TSV written at the end (slide_id, features, status, message)")
    _add_params(p, "extract")
    p.set_defaults(func=cmd_extract)

    p = commands.add_parser("take-features", help="publish one slide's features from an extraction shard",
                            description="Link a slide's staged features (from 'memamba extract --shard') to OUT, or fail "
                                        "with that slide's own extraction error.")
    p.add_argument("manifest", help="the shard's manifest TSV")
    p.add_argument("--slide-id", required=True, help="the slide's id")
    p.add_argument("-o", "--out", required=True, help="where its features go")
    p.set_defaults(func=cmd_take_features)

    p = commands.add_parser("export-clam", help="export features in CLAM's h5_files/ + pt_files/ + patches/ layout",
                            description="Copy features/{encoder}/{slide}.h5 files into CLAM's layout, named by the slide's "
                                        "stem (the id without .svs), so that CLAM, TRIDENT, MCAT or MOTCat code can read "
                                        "them: OUT/h5_files/{stem}.h5 (features, coords with CLAM's and TRIDENT's "
                                        "attributes), OUT/pt_files/{stem}.pt and OUT/patches/{stem}.h5 (CLAM's coordinate "
                                        "convention, for its own feature extractor).")
    p.add_argument("features", nargs="+", help="feature files from 'memamba extract'")
    p.add_argument("-o", "--out", required=True, help="output folder")
    p.set_defaults(func=cmd_export_clam)

    p = commands.add_parser("model-info", help="parameter counts per expert and FLOPs per patient of a configured model",
                            description="Build the model the config describes (patch width from extract.encoder, "
                                        "hyper-parameters from models.NAME) and count its parameters per part and the "
                                        "forward FLOPs (matrix products and selective scans) per patient of N patches.")
    p.add_argument("config", help="a memamba config file (e.g. config/config.yaml)")
    p.add_argument("--model", default="memamba", help="registered model name (default memamba)")
    p.add_argument("--tokens", help="tokens.json from 'memamba genomics' (token sizes taken from it)")
    p.add_argument("--token-sizes", type=int, nargs="+", default=[94, 334, 521, 468, 1496, 479],
                   help="genomic token sizes (default: MCAT's six families on TCGA-BLCA)")
    p.add_argument("--patches", type=int, nargs="+", default=[1000, 4000, 16000], help="bag sizes N")
    p.set_defaults(func=cmd_model_info)

    p = commands.add_parser("import-mcat", help="turn an MCAT/PORPOISE table, its splits and its slides into a workflow cohort",
                            description="Read a tcga_*_all_clean.csv(.zip) table through pandas (never unzipped), classify "
                                        "its columns by name, find its slides anywhere under --slide-dir (a GDC download "
                                        "tree, a flat folder, links) or its ready-made features in --features, and write "
                                        "clinical.tsv, slides.tsv, absent_slides.tsv, the genes x patients matrices, "
                                        "genomics.tsv, gene_families.csv, splits/fold_{k}.tsv (with --splits) and config.yaml "
                                        "(a complete workflow configuration with one cohort) to -o. Prints the token sizes "
                                        "memamba trains on and those MCAT's own loader gives.")
    p.add_argument("table", help="tcga_*_all_clean.csv or .csv.zip")
    p.add_argument("--splits", help="folder with the peers' splits_{k}.csv files (or our fold_{k}.tsv)")
    p.add_argument("-o", "--out", required=True, help="output folder")
    p.add_argument("--families", default=str(Path(__file__).resolve().parents[1] / "config" / "gene_sets" / "mcat_gene_families.csv"),
                   help="gene-family table, copied to OUT (default: the six MSigDB families shipped in config/gene_sets/)")
    p.add_argument("--slide-dir", default=None, help="folder searched recursively for the table's slide files (matched by file "
                                                      "name, with or without the extension); slides not found are left out")
    p.add_argument("--features", default=None, help="folder of ready-made CLAM/TRIDENT features ({slide}.h5 or .pt, also under "
                                                     "h5_files/ or pt_files/): slides with a feature file are kept, and the "
                                                     "workflow uses these features instead of extracting its own")
    p.add_argument("--slide-types", choices=["diagnostic", "all"], default="diagnostic",
                   help="diagnostic (the default): keep only FFPE diagnostic slides (-DX barcodes), as MCAT, MOTCat and "
                        "ME-Mamba do; all: keep frozen -TS/-BS sections too")
    p.add_argument("--cohort", default=None, help="cohort name in config.yaml (default: from the table's name, e.g. tcga_blca)")
    p.add_argument("--settings", default=None, help="a memamba config file whose sections other than cohorts config.yaml "
                                                     "takes (e.g. config/tcga.yaml); default: the documented defaults")
    p.set_defaults(func=cmd_import_mcat)

    p = commands.add_parser("genomics", help="build the patient x feature matrix and gene-family tokens",
                            description="Read the matrices listed in the genomics sheet; writes features.parquet, "
                                        "tokens.json and qc.tsv (missing genes per token) to -o.")
    p.add_argument("--sheet", required=True, help="genomics sheet (TSV: modality, kind, path[, orientation])")
    p.add_argument("--clinical", help="clinical sheet: genomic samples matching no clinical row are reported")
    p.add_argument("--families", required=True, help="gene-family table (CSV, one column per family)")
    p.add_argument("-o", "--out", required=True, help="output folder")
    p.set_defaults(func=cmd_genomics)

    p = commands.add_parser("splits", help="make stratified patient-level cross-validation splits",
                            description="Split the patients that have survival, slides and genomics into folds "
                                        "stratified by event and time bin; writes fold_K.tsv files to -o.")
    p.add_argument("--clinical", required=True, help="clinical sheet")
    p.add_argument("--slides", required=True, help="slide sheet")
    p.add_argument("--genomics", required=True, help="features.parquet from 'memamba genomics'")
    p.add_argument("-o", "--out", required=True, help="output folder")
    _add_params(p, "splits")
    p.set_defaults(func=cmd_splits)

    p = commands.add_parser("published-split", help="one published fold, restricted to the patients with data",
                            description="Read one published fold (our fold_{k}.tsv, or MCAT's splits_{k}.csv with train and "
                                        "val columns) and write it as fold_{k}.tsv with the patients that have survival and "
                                        "the data the missing-modality policy needs; the others are listed by name.")
    p.add_argument("fold", help="fold_{k}.tsv or splits_{k}.csv")
    p.add_argument("--clinical", required=True, help="clinical sheet")
    p.add_argument("--slides", required=True, help="slide sheet")
    p.add_argument("--genomics", required=True, help="features.parquet from 'memamba genomics'")
    p.add_argument("--missing-modality", choices=["exclude", "impute"], default="exclude",
                   help="a patient lacking slides or genomics: leave out, or keep for the training-fold mean (splits.missing_modality)")
    p.add_argument("-o", "--out", required=True, help="output fold_{k}.tsv")
    p.set_defaults(func=cmd_published_split)

    p = commands.add_parser("train", help="train one model on one fold",
                            description="Fit a registered model on the fold's training patients (bin edges and scaling "
                                        "fitted there only) and predict every patient; writes checkpoint.pt, "
                                        "history.tsv, predictions.tsv and config.yaml to -o.")
    p.add_argument("--slides", help="slide sheet")
    p.add_argument("--clinical", help="clinical sheet")
    p.add_argument("--features-dir", help="folder of per-slide features: ours (features/{encoder}/), or CLAM/TRIDENT "
                                          "{slide}.h5 / {slide}.pt files, also under h5_files/ or pt_files/ (models that use slides)")
    p.add_argument("--genomics", help="features.parquet")
    p.add_argument("--tokens", help="tokens.json")
    p.add_argument("--split", help="fold_K.tsv")
    p.add_argument("--model", help="registered model name (see --list-models)")
    p.add_argument("--model-params", default=None, metavar="JSON", help="the model's hyper-parameters as JSON")
    p.add_argument("--genomics-params", default=None, metavar="JSON", help="the 'genomics' config section as JSON")
    p.add_argument("-o", "--out", help="output folder")
    p.add_argument("--resume", action="store_true",
                   help="continue from OUT/epoch_state.pt (written after every epoch) when it was made with the same inputs and settings")
    p.add_argument("--missing-modality", choices=["exclude", "impute"], default="exclude",
                   help="a patient lacking slides or genomics: leave out, or give the training-fold mean (config splits.missing_modality)")
    p.add_argument("--list-models", action="store_true", help="print the registered models and exit")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--tune", default=None, metavar="JSON",
                   help="the 'train.tune' config section as JSON: choose the settings by inner cross-validation on the "
                        "fold's training part first (nested CV; inner fits resume from OUT/inner_fits.partial.tsv), "
                        "then refit; writes tuning.tsv too, and config.yaml records the choice")
    _add_params(p, "train")
    p.set_defaults(func=cmd_train)

    p = commands.add_parser("predict", help="apply trained folds to a cohort (its own patients or a new cohort)",
                            description="Score every patient of a cohort with one fold's checkpoint, or with several "
                                        "(risk averaged over them), applying the transforms stored in the checkpoint "
                                        "(feature scaling, counts VST, token layout, time bins) as they were fitted on "
                                        "the fold's training part. Inputs whose token layout, gene set, kinds of "
                                        "genomic tables, feature width or encoder differ from training are refused. "
                                        "Writes per-patient risk and survival per bin to -o.")
    p.add_argument("--checkpoint", nargs="+", required=True, help="checkpoint.pt of one fold or of several")
    _add_cohort_inputs(p)
    p.add_argument("--missing-modality", choices=["exclude", "impute"], default="exclude",
                   help="a patient lacking slides or genomics: leave out, or give it the training-fold mean")
    p.add_argument("--batch-size", type=_positive_count, default=1, help="patients per forward pass")
    p.add_argument("-o", "--out", required=True, help="output predictions TSV")
    p.set_defaults(func=cmd_predict)

    p = commands.add_parser("heatmap", help="a trained fold's per-patch scores for chosen patients' slides",
                            description="Score every patch of the chosen patients (or of the fold's validation patients "
                                        "of highest and lowest risk) with the fold's own model (attention weights, "
                                        "co-attention or transport per genomic family, ME-Mamba's attention-scan "
                                        "scores) and write one HDF5 file per slide: `coords` and one dataset per head, "
                                        "as CLAM's heatmap files; optionally their pictures and the gene-family "
                                        "attributions of the validation patients.")
    p.add_argument("--checkpoint", required=True, help="one fold's checkpoint.pt")
    p.add_argument("--patient", nargs="*", default=[], help="the patients to draw")
    p.add_argument("--predictions", default=None, help="the fold's predictions.tsv: draw its --count validation patients "
                                                       "of highest and of lowest risk (when no --patient is given)")
    p.add_argument("--count", type=_positive_count, default=2, help="validation patients per end of the risk ranking")
    p.add_argument("--tumours", default=None,
                   help="a demo cohort's tumour_regions.tsv (memamba demo-data --slide-signal tumour): also write "
                        "planted_auc.tsv, per head the mean over the validation patients' slides of the AUC of its "
                        "scores for the tumour patches against the others")
    p.add_argument("--attributions", action="store_true",
                   help="also write attributions.tsv and .png: each gene family's integrated-gradients contribution to "
                        "the risk of every validation patient of --predictions (models that read genomics)")
    _add_cohort_inputs(p)
    p.add_argument("--render", action="store_true", help="also draw {slide}.{head}.png over the slide's thumbnail "
                                                         "and {slide}.{head}.gallery.png (needs the slide files)")
    p.add_argument("--scaling", choices=["percentile", "minmax"], default="percentile",
                   help="colours by each patch's percentile among the slide's (CLAM's way) or linearly min to max")
    p.add_argument("--blur", type=float, default=0.0, help="Gaussian blur, sigma in patch widths (0: none)")
    p.add_argument("--alpha", type=float, default=0.5, help="opacity of the scores over the tissue")
    p.add_argument("--colormap", default="coolwarm", help="a matplotlib colour map")
    p.add_argument("--top-k", type=_positive_count, default=8, help="patches in each gallery row (highest and lowest scores)")
    p.add_argument("--thumbnail-size", type=int, default=2048, help="longest side of the thumbnail, pixels")
    p.add_argument("-o", "--out", required=True, help="output folder ({slide}.h5 per slide, and the pictures)")
    p.set_defaults(func=cmd_heatmap)

    p = commands.add_parser("evaluate", help="per-fold metrics and Kaplan-Meier plot of one model",
                            description="Compute Harrell's c-index and the log-rank p of risk groups on each fold's "
                                        "validation patients; writes metrics.tsv (folds, mean, sd) and km.png to -o.")
    p.add_argument("predictions", nargs="+", help="predictions.tsv of every fold, in fold order")
    p.add_argument("-o", "--out", required=True, help="output folder")
    p.add_argument("--title", default="model", help="title for the plot and the printout")
    p.set_defaults(func=cmd_evaluate)

    p = commands.add_parser("evaluate-external", help="metrics of a cohort scored by another cohort's folds",
                            description="External validation: Harrell's and Uno's c, time-dependent AUC, integrated Brier "
                                        "score and log-rank p of the patients of a `memamba predict` output (with "
                                        "survival), the training cohort's survival giving the censoring distribution "
                                        "and the time points; writes metrics.tsv and km.png to -o.")
    p.add_argument("predictions", help="predictions TSV from memamba predict --clinical")
    p.add_argument("--training-clinical", required=True, help="clinical sheet of the cohort the folds were trained on")
    p.add_argument("-o", "--out", required=True, help="output folder")
    p.add_argument("--title", default="external validation", help="title for the plot and the printout")
    p.set_defaults(func=cmd_evaluate_external)

    p = commands.add_parser("summarise", help="one cohort's table: every model's mean +- sd and per-fold c-index",
                            description="Collect a cohort's metrics.tsv files (results/COHORT/eval/MODEL/metrics.tsv) "
                                        "into one table, with the oracle c-index of the true risk when given.")
    p.add_argument("--cohort", required=True, help="cohort name")
    p.add_argument("--metrics", nargs="+", required=True, help="metrics.tsv files (model = their folder name)")
    p.add_argument("--splits", nargs="*", default=[], help="fold_K.tsv files, for the oracle's per-fold c-index")
    p.add_argument("--truth", default=None, help="TSV with patient_id and the true risk (demo cohorts)")
    p.add_argument("--clinical", default=None, help="clinical sheet (needed with --truth)")
    p.add_argument("--external", nargs="*", default=[], help="metrics.tsv of external validations "
                                                             "(results/COHORT/external/OTHER/MODEL/metrics.tsv)")
    p.add_argument("-o", "--out", required=True, help="output TSV")
    p.set_defaults(func=cmd_summarise)

    p = commands.add_parser("report", help="cross-cohort summary.tsv and the HTML report",
                            description="Concatenate the per-cohort summaries and write results/summary.tsv and an HTML "
                                        "report with per-fold tables and Kaplan-Meier plots.")
    p.add_argument("summaries", nargs="+", help="per-cohort summary.tsv files")
    p.add_argument("--out-tsv", required=True, help="output summary TSV")
    p.add_argument("--out-html", required=True, help="output HTML report")
    p.add_argument("--benchmarks", default=None, help="folder of Snakemake benchmark files ({stage}/.../{job}.tsv): "
                                                       "adds CPU-hours and wall time per stage to the report")
    p.add_argument("--out-compute", default=None, help="also write the per-stage compute table to this TSV")
    p.set_defaults(func=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``memamba`` console script."""
    pin_cpu_kernels()
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        args.func(args)
    except MemambaError as exc:
        print(f"memamba {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno not in _SYSTEM_FIXES:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"memamba {args.command}: error: {where}{os.strerror(exc.errno)}. Fix: {_SYSTEM_FIXES[exc.errno]}.", file=sys.stderr)
        return 2
    return 0


_SYSTEM_FIXES = {
    errno.ENOSPC: "free space on that file system (or point the output elsewhere) and rerun; no partial output was kept",
    errno.EDQUOT: "free space within your quota (or point the output elsewhere) and rerun; no partial output was kept",
    errno.EACCES: "give yourself permission to read or write it, or use another path",
    errno.EPERM: "give yourself permission to read or write it, or use another path",
    errno.EROFS: "write the output to a writable file system",
    errno.EISDIR: "give the path of a file, not of a directory",
    errno.ENOTDIR: "a part of that path is a file, not a directory: correct the path",
    errno.ENOENT: "correct the path, or run the stage that writes it first",
    errno.EFBIG: "raise the file-size limit (ulimit -f) or write the output elsewhere; no partial output was kept",
    errno.ENAMETOOLONG: "use shorter names (slide ids of at most 100 characters) or a shorter folder path",
}


if __name__ == "__main__":
    sys.exit(main())
