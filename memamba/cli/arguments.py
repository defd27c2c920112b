"""Argument types and option groups shared by several sub-commands."""

from __future__ import annotations

import argparse
import math


def slide_mpp(text: str) -> float | None:
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


def positive_count(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is less than 1")
    return value


def fraction(text: str) -> float:
    """argparse type: a number from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is not between 0 and 1")
    return value


def add_params(parser: argparse.ArgumentParser, section: str) -> None:
    parser.add_argument("--params", default=None, metavar="JSON",
                        help=f"the '{section}' config section as JSON; missing keys take their documented defaults")


def add_cohort_inputs(parser: argparse.ArgumentParser) -> None:
    """The inputs of a cohort scored by trained folds (predict, heatmap) and the device."""
    parser.add_argument("--slides", required=True, help="slide sheet of the cohort to score")
    parser.add_argument("--clinical", default=None, help="its clinical sheet, when survival is known (adds survival_months and event)")
    parser.add_argument("--features-dir", default=None, help="folder of its per-slide features (models that use slides; "
                                                             "heatmaps need .h5 files with coords)")
    parser.add_argument("--genomics", required=True, help="its features.parquet from 'memamba genomics'")
    parser.add_argument("--tokens", required=True, help="its tokens.json")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
