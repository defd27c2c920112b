"""Publish one unit (a slide, a fold) of a batch job at its final paths, or fail with the unit's own error.

The standard library only, no package import: the workflow's per-unit ``take_slide`` / ``take_fold`` jobs run this
file as ``python -S memamba/publish.py`` (20 ms), where a ``run:`` job would cost a Snakemake process that parses the
workflow (1.5 s; benchmarks/job_overhead.py). See memamba/batch_jobs.py for the batch jobs that write the manifests.
Each final file is a hard link to its staged file (a copy across file systems), made under a temporary name in the
final folder and renamed, so a final file is complete or absent.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sys
from collections.abc import Sequence


class UnitError(Exception):
    """The unit failed in its batch job, is not in its manifest, or its staged files are gone."""


def publish_unit(manifest: str, unit: str, files: Sequence[tuple[str, str]], what: str, fix: str) -> list[str]:
    """Link ``unit``'s staged files to their final paths (``files``: ``(staged, final)`` pairs); a UnitError naming
    ``what`` (e.g. "slide X") with the unit's own error and ``fix`` when it failed, or with the way out when its row
    or its staged files are missing."""
    with open(manifest, newline="") as handle:
        rows = {row["unit"]: row for row in csv.DictReader(handle, delimiter="\t")}
    if unit not in rows:
        raise UnitError(f"{manifest}: {what} is not in this batch. Fix: delete the manifest and rerun its job.")
    if rows[unit]["status"] == "failed":
        raise UnitError(f"{what}: failed in its batch job ({rows[unit]['message']}). Fix: {fix}; the batch's other units are kept.")
    missing = [staged for staged, _ in files if not os.path.isfile(staged)]
    if missing:
        raise UnitError(f"{missing[0]}: a staged file of {what} is gone. Fix: delete {manifest} and rerun, which redoes "
                        "that batch's missing units only.")
    for staged, final in files:
        folder = os.path.dirname(final) or "."
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, f".{os.path.basename(final)}.tmp-{os.getpid()}")
        if os.path.lexists(tmp):
            os.remove(tmp)
        try:
            os.link(staged, tmp)
        except OSError:
            shutil.copyfile(staged, tmp)
        os.replace(tmp, final)
    return [final for _, final in files]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -S publish.py MANIFEST UNIT --what W --fix F --pair STAGED FINAL ...``: 0, or 1 with the error."""
    parser = argparse.ArgumentParser(description="Publish one unit of a batch job, or fail with its own error.")
    parser.add_argument("manifest")
    parser.add_argument("unit")
    parser.add_argument("--what", required=True, help='how the error names the unit, e.g. "slide X"')
    parser.add_argument("--fix", required=True, help="what to do when the unit failed")
    parser.add_argument("--pair", nargs=2, action="append", required=True, metavar=("STAGED", "FINAL"))
    args = parser.parse_args(argv)
    try:
        published = publish_unit(args.manifest, args.unit, [tuple(pair) for pair in args.pair], args.what, args.fix)
    except (UnitError, OSError) as exc:
        print(exc, file=sys.stderr)
        return 1
    print("\n".join(published))
    return 0


if __name__ == "__main__":
    sys.exit(main())
