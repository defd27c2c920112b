"""Sub-commands of the slide stages: segment, tile, extract, slide-stage, export-clam.

Each command's parser sits beside its handler; heavy libraries are imported inside the handlers."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from memamba.cli.arguments import add_params, slide_mpp
from memamba.errors import MemambaError

if TYPE_CHECKING:
    from memamba.slides.extract import ExtractParams


def _add_segment(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("segment", help="segment tissue: GeoJSON polygons + QC overlay PNG",
                            description="Segment the tissue of SLIDE; writes OUT/NAME.geojson (level-0 pixels, holes "
                                        "included) and OUT/NAME.png (QC overlay).")
    p.add_argument("slide", help="slide file (SVS, TIFF, NDPI, ... anything OpenSlide opens)")
    p.add_argument("-o", "--out", required=True, help="output folder")
    p.add_argument("--name", help="base name of the outputs (default: the slide file's stem)")
    p.add_argument("--mpp", type=slide_mpp, default=None, help="level-0 microns per pixel, overriding the file's")
    add_params(p, "segment")
    p.set_defaults(func=cmd_segment)


def cmd_segment(args: argparse.Namespace) -> None:
    from memamba.config import section_params
    from memamba.slides.segment import SegmentParams, segment_slide, write_segmentation

    params = SegmentParams(**section_params("segment", args.params))
    name = args.name or Path(args.slide).stem
    result = segment_slide(args.slide, params, args.mpp)
    out = Path(args.out)
    write_segmentation(result, args.slide, params, out / f"{name}.geojson", out / f"{name}.png")
    print(f"{name}: {len(result.polygons)} tissue region(s); mpp {result.mpp.mpp:.4f} from {result.mpp.source}")


def _add_tile(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("tile", help="tile tissue into patches at a physical resolution",
                            description="Lay a patch grid at the target mpp over SLIDE and keep the patches covering "
                                        "enough tissue; writes an HDF5 file with 'coords' (level-0 top-left corners).")
    p.add_argument("slide", help="slide file")
    p.add_argument("--tissue", required=True, help="GeoJSON from 'memamba segment'")
    p.add_argument("-o", "--out", required=True, help="output HDF5 file")
    p.add_argument("--mpp", type=slide_mpp, default=None, help="level-0 microns per pixel, overriding the file's")
    p.add_argument("--target-mpp", type=float, default=None, help="patch resolution in microns per pixel (default 0.5)")
    p.add_argument("--patch-size", type=int, default=None, help="patch width and height in pixels at --target-mpp (default 256)")
    add_params(p, "tile")
    p.set_defaults(func=cmd_tile)


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


def _add_extract(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("extract", help="encode patches into features with a registered encoder",
                            description="Read the patches listed by 'memamba tile' and encode them in batches; writes "
                                        "an HDF5 file with 'features' (N x D) and 'coords'.")
    p.add_argument("slide", nargs="?", help="slide file")
    p.add_argument("--patches", help="HDF5 from 'memamba tile'")
    p.add_argument("-o", "--out", help="output HDF5 file")
    p.add_argument("--encoder", default=None, help="registered encoder name (default: extract.encoder's, uni; the demo uses "
                                                    "demo-stats; see --list-encoders)")
    p.add_argument("--weights", default=None, help="local path to the encoder's weights")
    p.add_argument("--device", default=None, help="auto (CUDA if available; the default), cpu or cuda")
    p.add_argument("--force", action="store_true", help="extract even if OUT is up to date with the same encoder and inputs")
    p.add_argument("--list-encoders", action="store_true", help="print the registered encoders and exit")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_params(p, "extract")
    p.set_defaults(func=cmd_extract)


def cmd_extract(args: argparse.Namespace) -> None:
    from memamba.slides.encoder_registry import encoder_table

    if args.list_encoders:
        print(f"{'encoder':<16} {'width':>5}  weights")
        print("\n".join(f"{name:<16} {dim:>5}  {source}" for name, dim, source in encoder_table()))
        return
    from memamba.slides.extract import extract_features, features_up_to_date, write_features

    if not (args.slide and args.patches and args.out):
        raise MemambaError("SLIDE, --patches and -o are required. Fix: give them (or --list-encoders).")
    params, device = _extract_params(args.params, {"encoder": args.encoder, "weights": args.weights, "device": args.device})
    sources = [args.slide, args.patches]
    if not args.force and features_up_to_date(args.out, params, sources):
        print(f"{Path(args.slide).name}: {args.out} is up to date with encoder {params.encoder}; skipped (--force redoes it)")
        return
    result = extract_features(args.slide, args.patches, params, device, progress=not args.quiet)
    write_features(args.out, result, params, sources)
    skipped = f", {len(result.skipped_coords)} unreadable patch(es) dropped" if len(result.skipped_coords) else ""
    print(f"{Path(args.slide).name}: features {result.features.shape} with encoder {params.encoder}{skipped}")


def _extract_params(params_json: str | None, overrides: dict | None = None) -> tuple[ExtractParams, str]:
    """The extract section as ExtractParams, and its device."""
    from memamba.config import section_params
    from memamba.slides.extract import ExtractParams

    section = section_params("extract", params_json, overrides=overrides)
    device = section.pop("device")
    section.pop("slides_per_job")
    return ExtractParams(**section), device


def _add_slide_stage(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("slide-stage", help="segment, tile and extract a shard of slides in one process",
                            description="The whole slide stage for several slides with one interpreter and one encoder "
                                        "(extract.slides_per_job): each slide's tissue/, patches/ and features/ENCODER/ "
                                        "files go to STAGED in the layout of results/COHORT/, each step is skipped on a "
                                        "rerun while its inputs and settings are unchanged, and a failing slide is "
                                        "recorded in --manifest while the others go on.")
    p.add_argument("--shard", required=True, metavar="JSON", help="a JSON list of {slide_id, slide, mpp} (mpp: null for the file's)")
    p.add_argument("--staged", required=True, help="staging folder")
    p.add_argument("--manifest", required=True, help="TSV written at the end: unit (slide id), status, message")
    p.add_argument("--segment-params", default=None, metavar="JSON", help="the 'segment' config section as JSON")
    p.add_argument("--tile-params", default=None, metavar="JSON", help="the 'tile' config section as JSON")
    p.add_argument("--extract-params", default=None, metavar="JSON", help="the 'extract' config section as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_slide_stage)


def cmd_slide_stage(args: argparse.Namespace) -> None:
    from memamba.batch_jobs import manifest_counts, write_manifest
    from memamba.config import section_params
    from memamba.slides.segment import SegmentParams
    from memamba.slides.shard_layout import SlideUnit
    from memamba.slides.stage_shard import StageParams, slide_stage_shard
    from memamba.slides.tile import TileParams

    extract, device = _extract_params(args.extract_params)
    params = StageParams(SegmentParams(**section_params("segment", args.segment_params, "--segment-params")),
                         TileParams(**section_params("tile", args.tile_params, "--tile-params")), extract)
    try:
        units = [SlideUnit(job["slide_id"], Path(job["slide"]), None if job["mpp"] is None else slide_mpp(str(job["mpp"])),
                           Path(args.staged)) for job in json.loads(args.shard)]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise MemambaError(f"--shard is not a JSON list of {{slide_id, slide, mpp}} objects ({exc}). "
                           "Fix: pass such a list (the workflow writes it).") from exc
    manifest = slide_stage_shard(units, params, device, progress=not args.quiet)
    write_manifest(manifest, args.manifest)
    print(f"{len(units)} slide(s), encoder {extract.encoder}: {manifest_counts(manifest)}")
    for row in manifest[manifest["status"] == "failed"].itertuples():
        print(f"  failed {row.unit}: {row.message}", file=sys.stderr)


def _add_export_clam(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("export-clam", help="export features in CLAM's h5_files/ + pt_files/ + patches/ layout",
                            description="Copy features/{encoder}/{slide}.h5 files into CLAM's layout, named by the slide's "
                                        "stem (the id without .svs), so that CLAM, TRIDENT, MCAT or MOTCat code can read "
                                        "them: OUT/h5_files/{stem}.h5 (features, coords with CLAM's and TRIDENT's "
                                        "attributes), OUT/pt_files/{stem}.pt and OUT/patches/{stem}.h5 (CLAM's coordinate "
                                        "convention, for its own feature extractor).")
    p.add_argument("features", nargs="+", help="feature files from 'memamba extract'")
    p.add_argument("-o", "--out", required=True, help="output folder")
    p.set_defaults(func=cmd_export_clam)


def cmd_export_clam(args: argparse.Namespace) -> None:
    from memamba.slides.clam import export_clam

    names = export_clam(args.features, args.out)
    print(f"{len(names)} slide(s) exported to {args.out}/h5_files, {args.out}/pt_files and {args.out}/patches")


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add the segment, tile, extract, slide-stage, export-clam sub-commands."""
    _add_segment(commands)
    _add_tile(commands)
    _add_extract(commands)
    _add_slide_stage(commands)
    _add_export_clam(commands)
