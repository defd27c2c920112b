"""Sub-commands that fit and apply models: train, model-info, predict.

Each command's parser sits beside its handler; heavy libraries are imported inside the handlers."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from memamba.cli.arguments import add_cohort_inputs, add_params, positive_count
from memamba.errors import MemambaError

INNER_FITS = "inner_fits.partial.tsv"
"""Where ``memamba train --tune`` records each finished inner fit (a rerun resumes from it); tuning.tsv at the end."""


def _add_train(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("train", help="train one model on one fold (or on several in turn)",
                            description="Fit a registered model on the fold's training patients (bin edges and scaling "
                                        "fitted there only) and predict every patient; writes checkpoint.pt, "
                                        "history.tsv, predictions.tsv and config.yaml to -o. With --folds, several folds "
                                        "in turn in one process (train.folds_per_job), each to its own folder.")
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
    p.add_argument("--folds", default=None, metavar="JSON",
                   help="instead of --split and -o: a JSON list of {split, out}, trained in turn; a fold whose OUT is "
                        "up to date with the same inputs and settings is skipped, a failing fold is recorded in "
                        "--manifest while the others go on")
    p.add_argument("--manifest", default=None, help="with --folds: TSV written at the end (unit: the fold's OUT, status, message)")
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
    add_params(p, "train")
    p.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> None:
    from memamba.models.registry import list_models

    if args.list_models:
        print("\n".join(list_models()))
        return
    from memamba.data.cohort import load_cohort
    from memamba.train.transforms import GenomicTransform

    folds = _fold_list(args)
    settings, features_dir = _train_settings(args)
    transform = GenomicTransform.of(settings["genomics"])
    cohort = load_cohort(args.slides, args.clinical, features_dir, args.genomics, args.tokens, args.missing_modality)
    if args.folds is None:
        _train_one(args, folds[0], settings, features_dir, cohort, transform)
        return
    from memamba.batch_jobs import is_current, manifest_counts, run_units, write_manifest, write_stamp
    from memamba.provenance import run_fingerprint

    def fold(split: str, out: str) -> bool:
        fingerprint = run_fingerprint({**settings, "tune": args.tune}, _train_inputs(args, split, features_dir))
        stamp_file = Path(out) / FOLD_STAMP
        if is_current(stamp_file, fingerprint, [Path(out) / name for name in _fold_outputs(args)]):
            return False
        _train_one(args, (split, out), settings, features_dir, cohort, transform)
        write_stamp(stamp_file, fingerprint)
        return True

    manifest = run_units((out, lambda split=split, out=out: fold(split, out)) for split, out in folds)
    write_manifest(manifest, args.manifest)
    print(f"{args.model}: {len(folds)} fold(s): {manifest_counts(manifest)}")
    for row in manifest[manifest["status"] == "failed"].itertuples():
        print(f"  failed {row.unit}: {row.message}", file=sys.stderr)


FOLD_STAMP = "inputs.fingerprint"
"""Written in a fold's folder by ``memamba train --folds`` after its outputs: what they were made from."""


def _fold_list(args: argparse.Namespace) -> list[tuple[str, str]]:
    """(split, output folder) of every fold the command trains: ``--split``/``-o``, or the ``--folds`` list."""
    if args.folds is None:
        return [(args.split, args.out)]
    if args.split is not None or args.out is not None or args.manifest is None:
        raise MemambaError("--folds replaces --split and -o, and needs --manifest. Fix: give --folds and --manifest only.")
    try:
        folds = [(str(fold["split"]), str(fold["out"])) for fold in json.loads(args.folds)]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise MemambaError(f"--folds is not a JSON list of {{split, out}} objects ({exc}). "
                           "Fix: pass such a list (the workflow writes it).") from exc
    if not folds:
        raise MemambaError("--folds is an empty list. Fix: give at least one {split, out}.")
    return folds


def _fold_outputs(args: argparse.Namespace) -> list[str]:
    """The files a fold's folder holds when it is done."""
    return ["checkpoint.pt", "history.tsv", "predictions.tsv", "config.yaml"] + (["tuning.tsv"] if args.tune is not None else [])


def _train_one(args: argparse.Namespace, fold: tuple[str, str], settings: dict, features_dir: str | None, cohort: object,
               transform: object) -> None:
    """Train one fold (``(split file, output folder)``) of the loaded cohort and write its outputs."""
    from memamba.data.splits import read_split
    from memamba.provenance import run_fingerprint
    from memamba.train.device import pick_device
    from memamba.train.loop import train_fold

    split_path, out = fold
    model_params, params = settings["model_params"], settings["train"]
    device = str(pick_device(params["device"]))
    epoch_state = Path(out) / "epoch_state.pt"
    split = read_split(split_path)
    if args.tune is not None:
        tuning, model_params, params = _tuned(args, out, cohort, split, model_params, params, transform, device)
        settings = {**settings, "model_params": model_params, "train": params, "tuning": tuning}
    result = train_fold(cohort, split, args.model, model_params, params, transform, device,
                        progress=not args.quiet, checkpoint=epoch_state if args.resume else None,
                        fingerprint=run_fingerprint(settings, _train_inputs(args, split_path, features_dir)))
    _write_fold(args, Path(out), settings, result, cohort, transform, device)
    epoch_state.unlink(missing_ok=True)
    kept = result.history[result.history["selected"]].iloc[-1]
    print(f"{args.model} ({split_path}): {len(result.history)} epoch(s), kept epoch {int(kept.epoch)}, train c-index "
          f"{kept.train_c_index:.3f} ({result.compute['device']}, {result.compute['precision']}, scan backend "
          f"{result.compute['scan_backend']})")


def _train_settings(args: argparse.Namespace) -> tuple[dict, str | None]:
    """The checked settings ``memamba train`` records in config.yaml, and the features folder when the model reads slides."""
    from memamba.config import json_object, section_params
    from memamba.models.registry import variant_entry
    from memamba.models.settings import check_models_section

    needed = ("slides", "clinical", "genomics", "tokens", "model") + (("split", "out") if args.folds is None else ())
    missing = [f"--{n.replace('_', '-')}" for n in needed if getattr(args, n) is None]
    if missing:
        raise MemambaError(f"missing {' '.join(missing)}. Fix: give them (or use --list-models).")
    params = section_params("train", args.params)
    model_params = json_object(args.model_params, "--model-params")
    check_models_section({args.model: model_params}, "--model-params", params["n_bins"])
    genomics_params = section_params("genomics", args.genomics_params)
    uses_slides = "slides" in variant_entry(args.model, model_params).modalities
    if uses_slides and args.features_dir is None:
        raise MemambaError(f"model {args.model} uses slides. Fix: give --features-dir, the folder of its patch features.")
    settings = {"model": args.model, "model_params": model_params, "train": params, "genomics": genomics_params,
                "missing_modality": args.missing_modality}
    return settings, args.features_dir if uses_slides else None


def _train_inputs(args: argparse.Namespace, split: str, features_dir: str | None) -> list[str]:
    """The files a fold is trained from (their sizes and times make the resume fingerprint)."""
    from memamba.data.bags import feature_file
    from memamba.sheets import read_sheet

    inputs = [args.slides, args.clinical, args.genomics, args.tokens, split]
    if features_dir is not None:
        slides = read_sheet(args.slides, "slides", check_paths=False)["slide_id"]
        inputs += sorted(str(path) for path in (feature_file(features_dir, slide) for slide in slides) if path is not None)
    return inputs


def _write_fold(args: argparse.Namespace, out: Path, settings: dict, result: object, cohort: object, transform: object,
                device: str) -> None:
    """Write the fold's checkpoint.pt, history.tsv, predictions.tsv, config.yaml (and tuning.tsv) at once."""
    import yaml

    from memamba.atomic import atomic_paths
    from memamba.train.checkpoint import fold_checkpoint, save_checkpoint

    tuning = "tuning" in settings
    names = _fold_outputs(args)
    with atomic_paths([out / name for name in names]) as tmp:
        fitted = _fitted(result.model)
        save_checkpoint(fold_checkpoint(args.model, settings["model_params"], fitted, result.state, cohort, transform), tmp[0])
        result.history.to_csv(tmp[1], sep="\t", index=False)
        result.predictions.to_csv(tmp[2], sep="\t", index=False)
        tmp[3].write_text(yaml.safe_dump({**settings, "device": device, "compute": result.compute,
                                          "bin_edges": [float(e) for e in result.state["bin_edges"]]}, sort_keys=False))
        if tuning:
            (out / INNER_FITS).replace(tmp[4])


def _add_model_info(commands: argparse._SubParsersAction) -> None:
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


def cmd_model_info(args: argparse.Namespace) -> None:
    from memamba.config import load_config
    from memamba.models import ModelInputs
    from memamba.models.info import model_info
    from memamba.models.settings import check_models_section
    from memamba.readers import read_json
    from memamba.slides.encoder_registry import encoder_dim

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


def _add_predict(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("predict", help="apply trained folds to a cohort (its own patients or a new cohort)",
                            description="Score every patient of a cohort with one fold's checkpoint, or with several "
                                        "(risk averaged over them), applying the transforms stored in the checkpoint "
                                        "(feature scaling, counts VST, token layout, time bins) as they were fitted on "
                                        "the fold's training part. Inputs whose token layout, gene set, kinds of "
                                        "genomic tables, feature width or encoder differ from training are refused. "
                                        "Writes per-patient risk and survival per bin to -o.")
    p.add_argument("--checkpoint", nargs="+", required=True, help="checkpoint.pt of one fold or of several")
    add_cohort_inputs(p)
    p.add_argument("--missing-modality", choices=["exclude", "impute"], default="exclude",
                   help="a patient lacking slides or genomics: leave out, or give it the training-fold mean")
    p.add_argument("--batch-size", type=positive_count, default=1, help="patients per forward pass")
    p.add_argument("-o", "--out", required=True, help="output predictions TSV")
    p.set_defaults(func=cmd_predict)


def cmd_predict(args: argparse.Namespace) -> None:
    from memamba.atomic import atomic_path
    from memamba.data.cohort import load_cohort
    from memamba.survival.metrics import harrell_c
    from memamba.train.checkpoint import load_checkpoint
    from memamba.train.device import pick_device
    from memamba.train.predict import predict_cohort

    checkpoints = {path: load_checkpoint(path) for path in args.checkpoint}
    cohort = load_cohort(args.slides, args.clinical, args.features_dir, args.genomics, args.tokens, args.missing_modality,
                         purpose="scoring")
    table = predict_cohort(checkpoints, cohort, pick_device(args.device), args.batch_size)
    with atomic_path(args.out) as tmp:
        table.to_csv(tmp, sep="\t", index=False)
    model = next(iter(checkpoints.values())).model
    known = "event" in table and bool(table["event"].any())
    score = (f", Harrell's c-index {harrell_c(table['survival_months'].to_numpy(), table['event'].to_numpy(), table['risk'].to_numpy()):.3f}"
             " over all of them (optimistic if they include the folds' training patients)") if known else ""
    print(f"{model}: {len(table)} patients scored by {len(checkpoints)} fold(s){score} -> {args.out}")



def _tuned(args: argparse.Namespace, out: str, cohort: object, split: object, model_params: dict, params: dict,
           transform: object, device: str) -> tuple[dict, dict, dict]:
    """Nested CV for one outer fold: (what config.yaml records of it, the chosen model settings, training settings)."""
    from memamba.config import json_object, section_params
    from memamba.train.search_space import applied, search_space
    from memamba.train.tuning import TuneSettings, tune_fold

    tune = section_params("train", json.dumps({"tune": json_object(args.tune, "--tune")}), "--tune")["tune"]
    budget = TuneSettings(tune["candidates"], tune["inner_folds"], tune["seed"])
    space = search_space(args.model, model_params, tune["spaces"])
    result = tune_fold(cohort, split, args.model, model_params, params, transform, space, budget, device,
                       record=Path(out) / INNER_FITS)
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


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add the train, model-info, predict sub-commands."""
    _add_train(commands)
    _add_model_info(commands)
    _add_predict(commands)
