"""Sub-commands that make a cohort's inputs: demo-data, import-mcat, genomics, pathway-tokens, splits, published-split.

Each command's parser sits beside its handler; heavy libraries are imported inside the handlers."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from memamba.cli.arguments import add_params, fraction
from memamba.errors import MemambaError

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
"""The checkout's config/ folder: the shipped gene-family tables and settings files."""

if TYPE_CHECKING:
    import pandas as pd


def _add_demo_data(commands: argparse._SubParsersAction) -> None:
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
    p.add_argument("--slide-share", type=fraction, default=0.5,
                   help="the slides' share of the risk's variance, 0 to 1; the genomic tables carry the rest (default 0.5)")
    p.add_argument("--mechanism", default=None,
                   help="a planted mechanism instead (memamba.demo.mechanisms): additive, correspondence, localisation or "
                        "arrangement; one slide per patient drawn as a grid of its patches, copy numbers of six families")
    p.set_defaults(func=cmd_demo_data)


def cmd_demo_data(args: argparse.Namespace) -> None:
    from memamba.demo import generate_cohort
    from memamba.demo.mechanisms import MECHANISMS

    if args.mechanism not in (None, *MECHANISMS):
        raise MemambaError(f"--mechanism {args.mechanism!r} is not a planted mechanism. Fix: use one of {', '.join(MECHANISMS)}.")

    out = generate_cohort(args.out, patients=args.patients, seed=args.seed, slide_size=args.slide_size,
                          slide_signal=args.slide_signal, slide_share=args.slide_share, mechanism=args.mechanism)
    print(f"demo cohort written to {out}" + (f" (planted mechanism: {args.mechanism})" if args.mechanism else ""))


def _add_import_mcat(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("import-mcat", help="turn an MCAT/PORPOISE table, its splits and its slides into a workflow cohort",
                            description="Read a tcga_*_all_clean.csv(.zip) table through pandas (never unzipped), classify "
                                        "its columns by name, find its slides anywhere under --slide-dir (a GDC download "
                                        "tree, a flat folder, links) or its ready-made features in --features, and write "
                                        "clinical.tsv, slides.tsv, absent_slides.tsv, the genes x patients matrices, "
                                        "genomics.tsv, gene_families.csv, pathways.csv, splits/fold_{k}.tsv (with --splits) and config.yaml "
                                        "(a complete workflow configuration with one cohort) to -o. Prints the token sizes "
                                        "memamba trains on and those MCAT's own loader gives.")
    p.add_argument("table", help="tcga_*_all_clean.csv or .csv.zip")
    p.add_argument("--splits", help="folder with the peers' splits_{k}.csv files (or our fold_{k}.tsv)")
    p.add_argument("-o", "--out", required=True, help="output folder")
    p.add_argument("--families", default=str(CONFIG_DIR / "gene_sets" / "mcat_gene_families.csv"),
                   help="gene-family table, copied to OUT (default: the six MSigDB families shipped in config/gene_sets/)")
    p.add_argument("--pathways", default=str(CONFIG_DIR / "gene_sets" / "hallmarks.csv"),
                   help="pathway table for the models that read pathway tokens (SurvPath), copied to OUT (default: the 50 "
                        "MSigDB hallmarks shipped in config/gene_sets/, SurvPath's default; its published tokens are the "
                        "331 pathways of its combine_comps.csv)")
    p.add_argument("--slide-dir", default=None, help="folder searched recursively for the table's slide files (matched by file "
                                                      "name, with or without the extension); slides not found are left out")
    p.add_argument("--features", default=None, help="folder of ready-made CLAM/TRIDENT features ({slide}.h5 or .pt, also under "
                                                     "h5_files/ or pt_files/): slides with a feature file are kept, and the "
                                                     "workflow uses these features instead of extracting its own")
    p.add_argument("--slide-types", choices=["diagnostic", "all"], default="diagnostic",
                   help="diagnostic (the default): keep only FFPE diagnostic slides (-DX barcodes), as MCAT, MOTCat and "
                        "ME-Mamba do; all: keep frozen -TS/-BS sections too")
    p.add_argument("--cohort", default=None, help="cohort name in config.yaml (default: from the table's name, e.g. tcga_blca)")
    p.add_argument("--settings", default=str(CONFIG_DIR / "tcga.yaml"),
                   help="a memamba config file whose sections other than cohorts config.yaml takes (default: config/tcga.yaml, "
                        "the paper's TCGA settings: UNI features, ME-Mamba and every baseline on a GPU)")
    p.set_defaults(func=cmd_import_mcat)


def cmd_import_mcat(args: argparse.Namespace) -> None:
    from memamba.data.mcat_cohort import cohort_config, cohort_name, gene_set_copy_path, select_slides, write_config, write_import
    from memamba.data.splits import read_published_folds
    from memamba.genomics.mcat import describe_sizes, mcat_loader_columns, mcat_token_sizes, read_mcat_table, summarise_matrix
    from memamba.genomics.pathways import read_pathways
    from memamba.genomics.tables import read_gene_families

    result = read_mcat_table(args.table)
    splits = read_published_folds(args.splits, set(result.clinical["patient_id"])) if args.splits else None
    selection = select_slides(result.slides, args.slide_dir, args.features, args.slide_types)
    out = Path(args.out)
    families = read_gene_families(args.families)
    pathways = read_pathways(args.pathways)
    name = args.cohort or cohort_name(args.table)
    gene_sets = {"gene_families": args.families, "pathways": args.pathways}
    config = cohort_config(name, out, gene_set_copy_path(out, "gene_families", args.families), splits is not None, args.features,
                           args.settings, gene_set_copy_path(out, "pathways", args.pathways))
    copies = write_import(result, selection, out, splits, gene_sets)
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
    rna_genes = set(result.matrices["rnaseq"].index) if "rnaseq" in result.matrices else set()
    measured = sum(not rna_genes.isdisjoint(genes) for genes in pathways.values())
    print(f"  pathways with a gene of the table's RNA (SurvPath's tokens): {measured} of {len(pathways)} ({args.pathways})")
    print(f"written to {out}: clinical.tsv, slides.tsv, absent_slides.tsv, genomics.tsv and its matrices, "
          f"{', '.join(copy.name for copy in copies)}"
          + (", splits/" if splits else "") + f", config.yaml (cohort '{name}')")
    print(f"next: snakemake --cores 8 --configfile {out / 'config.yaml'}")


def _add_genomics(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("genomics", help="build the patient x feature matrix and gene-family tokens",
                            description="Read the matrices listed in the genomics sheet; writes features.parquet, "
                                        "tokens.json and qc.tsv (missing genes per token) to -o.")
    p.add_argument("--sheet", required=True, help="genomics sheet (TSV: modality, kind, path[, orientation])")
    p.add_argument("--clinical", help="clinical sheet: genomic samples matching no clinical row are reported")
    p.add_argument("--families", required=True, help="gene-family table (CSV, one column per family)")
    p.add_argument("-o", "--out", required=True, help="output folder")
    p.set_defaults(func=cmd_genomics)


def cmd_genomics(args: argparse.Namespace) -> None:
    from memamba.genomics.tokens import write_genomics

    tokens = write_genomics(args.sheet, args.families, args.out, args.clinical)
    for token in tokens["tokens"]:
        print(f"{token['name']}: {len(token['features'])} features, {len(token['missing_genes'])} of {token['n_genes']} genes missing")


def _add_pathway_tokens(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("pathway-tokens", help="build pathway tokens (SurvPath's) beside the gene-family tokens",
                            description="Read a pathway table (gene x pathway 0/1, GMT, or one column of genes per "
                                        "pathway) and the genomics stage's outputs; writes tokens.json and qc.tsv to -o.")
    p.add_argument("--features", required=True, help="features.parquet from 'memamba genomics'")
    p.add_argument("--tokens", required=True, help="tokens.json from 'memamba genomics' (for the modalities' kinds)")
    p.add_argument("--pathways", required=True, help="pathway table, e.g. SurvPath's combine_comps.csv")
    p.add_argument("--modalities", nargs="+", default=["rna"], help="modalities of the genes' features a token holds "
                   "(default: rna, SurvPath's transcriptomic tokens)")
    p.add_argument("-o", "--out", required=True, help="output folder")
    p.set_defaults(func=cmd_pathway_tokens)


def cmd_pathway_tokens(args: argparse.Namespace) -> None:
    from memamba.genomics.pathways import write_pathway_tokens

    tokens = write_pathway_tokens(args.features, args.tokens, args.pathways, args.modalities, args.out)
    measured = [t for t in tokens["tokens"] if t["features"]]
    print(f"{len(measured)} of {len(tokens['tokens'])} pathways have a token "
          f"({sum(len(t['features']) for t in measured)} features in all); qc.tsv lists every pathway's missing genes")


def _add_cohort_sheets(parser: argparse.ArgumentParser) -> None:
    """The sheets the splits commands read: which patients have survival, slides and genomics."""
    parser.add_argument("--clinical", required=True, help="clinical sheet")
    parser.add_argument("--slides", required=True, help="slide sheet")
    parser.add_argument("--genomics", required=True, help="features.parquet from 'memamba genomics'")


def _cohort_sheets(args: argparse.Namespace) -> tuple[pd.DataFrame, pd.DataFrame, set[str]]:
    """The clinical and slide sheets of ``--clinical`` / ``--slides``, and the patients ``--genomics`` has a row for."""
    import pandas as pd

    from memamba.sheets import read_sheet

    clinical = read_sheet(args.clinical, "clinical", check_paths=False)
    slides = read_sheet(args.slides, "slides", check_paths=False)
    return clinical, slides, set(pd.read_parquet(args.genomics).index.astype(str))


def _add_splits(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("splits", help="make stratified patient-level cross-validation splits",
                            description="Split the patients that have survival, slides and genomics into folds "
                                        "stratified by event and time bin; writes fold_K.tsv files to -o.")
    _add_cohort_sheets(p)
    p.add_argument("-o", "--out", required=True, help="output folder")
    add_params(p, "splits")
    p.set_defaults(func=cmd_splits)


def cmd_splits(args: argparse.Namespace) -> None:
    from memamba.config import section_params
    from memamba.data.cohort import complete_patients
    from memamba.data.splits import make_splits, write_splits

    params = section_params("splits", args.params)
    clinical, slides, genomic_patients = _cohort_sheets(args)
    patients = complete_patients(clinical, slides, genomic_patients, params["missing_modality"])
    usable = clinical[clinical["patient_id"].isin(patients)].reset_index(drop=True)
    paths = write_splits(make_splits(usable, params["folds"], params["seed"], params["time_bins"]), args.out)
    print(f"{len(paths)} folds over {len(usable)} patients written to {args.out}")


def _add_published_split(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("published-split", help="one published fold, restricted to the patients with data",
                            description="Read one published fold (our fold_{k}.tsv, or MCAT's splits_{k}.csv with train and "
                                        "val columns) and write it as fold_{k}.tsv with the patients that have survival and "
                                        "the data the missing-modality policy needs; the others are listed by name.")
    p.add_argument("fold", help="fold_{k}.tsv or splits_{k}.csv")
    _add_cohort_sheets(p)
    p.add_argument("--missing-modality", choices=["exclude", "impute"], default="exclude",
                   help="a patient lacking slides or genomics: leave out, or keep for the training-fold mean (splits.missing_modality)")
    p.add_argument("-o", "--out", required=True, help="output fold_{k}.tsv")
    p.set_defaults(func=cmd_published_split)


def cmd_published_split(args: argparse.Namespace) -> None:
    from memamba.atomic import atomic_path
    from memamba.data.cohort import complete_patients, lacking_modalities
    from memamba.data.splits import keep_patients_with_data, read_published_fold

    clinical, slides, genomic_patients = _cohort_sheets(args)
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


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add the demo-data, import-mcat, genomics, splits, published-split sub-commands."""
    _add_demo_data(commands)
    _add_import_mcat(commands)
    _add_genomics(commands)
    _add_pathway_tokens(commands)
    _add_splits(commands)
    _add_published_split(commands)
