"""The heatmap sub-command: a trained fold's per-patch scores, pictures and gene-family attributions.

Each command's parser sits beside its handler; heavy libraries are imported inside the handlers."""

from __future__ import annotations

import argparse
from pathlib import Path

from memamba.cli.arguments import add_cohort_inputs, positive_count
from memamba.errors import MemambaError


def _add_heatmap(commands: argparse._SubParsersAction) -> None:
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
    p.add_argument("--count", type=positive_count, default=2, help="validation patients per end of the risk ranking")
    p.add_argument("--tumours", default=None,
                   help="a demo cohort's tumour_regions.tsv (memamba demo-data --slide-signal tumour): also write "
                        "planted_auc.tsv, per head the mean over the validation patients' slides of the AUC of its "
                        "scores for the tumour patches against the others")
    p.add_argument("--attributions", action="store_true",
                   help="also write attributions.tsv and .png: each gene family's integrated-gradients contribution to "
                        "the risk of every validation patient of --predictions (models that read genomics)")
    add_cohort_inputs(p)
    p.add_argument("--render", action="store_true", help="also draw {slide}.{head}.png over the slide's thumbnail "
                                                         "and {slide}.{head}.gallery.png (needs the slide files)")
    p.add_argument("--scaling", choices=["percentile", "minmax"], default="percentile",
                   help="colours by each patch's percentile among the slide's (CLAM's way) or linearly min to max")
    p.add_argument("--blur", type=float, default=0.0, help="Gaussian blur, sigma in patch widths (0: none)")
    p.add_argument("--alpha", type=float, default=0.5, help="opacity of the scores over the tissue")
    p.add_argument("--colormap", default="coolwarm", help="a matplotlib colour map")
    p.add_argument("--top-k", type=positive_count, default=8, help="patches in each gallery row (highest and lowest scores)")
    p.add_argument("--thumbnail-size", type=int, default=2048, help="longest side of the thumbnail, pixels")
    p.add_argument("-o", "--out", required=True, help="output folder ({slide}.h5 per slide, and the pictures)")
    p.set_defaults(func=cmd_heatmap)


def cmd_heatmap(args: argparse.Namespace) -> None:
    import pandas as pd

    from memamba.atomic import atomic_path
    from memamba.data.cohort import load_cohort
    from memamba.identifiers import slide_stem
    from memamba.models.registry import has_patch_scores, list_models
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
    if not has_patch_scores(checkpoint.model, checkpoint.model_params):
        raise MemambaError(f"{args.checkpoint}: model {checkpoint.model} computes no per-patch score of its own. Fix: draw "
                           f"heatmaps with a model that does: {', '.join(list_models(patch_scores=True))}, or a variant.")
    cohort = load_cohort(args.slides, args.clinical, args.features_dir, args.genomics, args.tokens, "exclude", purpose="heatmaps")
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
        plot_attributions(attributions, f"{checkpoint.model}: genomic tokens, {len(validation)} validation patients",
                          out / "attributions.png")
        print(f"  genomic attributions of {len(validation)} validation patients -> {out / 'attributions.tsv'}")


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add the heatmap sub-commands."""
    _add_heatmap(commands)
