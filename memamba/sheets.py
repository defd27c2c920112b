"""Sample sheets: read a TSV, validate every row against its schema, resolve file paths."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import jsonschema
import pandas as pd

from memamba.config import ConfigError, load_schema
from memamba.errors import not_a_file, printable
from memamba.readers import read_table

SHEET_SCHEMAS = ("slides", "clinical", "genomics", "truth")
_ID_COLUMNS = {"slides": "slide_id", "clinical": "patient_id", "genomics": "path", "truth": "patient_id"}
_ROW_HOLDS = {"slides": "slide", "clinical": "patient", "genomics": "genomic matrix", "truth": "patient"}
_UNIQUE_COLUMNS = {"slides": "slide_id", "clinical": "patient_id", "truth": "patient_id"}


def _row_record(row: pd.Series, schema: dict[str, Any]) -> dict[str, Any]:
    """A row as a JSON-like dict: empty cells dropped, integral floats for integer fields made int."""
    record: dict[str, Any] = {}
    for key, value in row.items():
        if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
            continue
        field = schema.get("properties", {}).get(key, {})
        types = field.get("type")
        if types == "string":
            value = str(value)
        elif types in ("number", "integer"):
            try:
                number = float(value)
            except (TypeError, ValueError):
                record[key] = value
                continue
            if not math.isfinite(number):       # inf, 1e400: kept as text, so the schema's type check names the cell
                record[key] = value
                continue
            value = int(number) if types == "integer" and number.is_integer() else number
        record[key] = value
    return record


def read_sheet(path: str | os.PathLike, kind: str, check_paths: bool = True) -> pd.DataFrame:
    """Read and validate a sample sheet of ``kind`` (slides, clinical, genomics, or a demo cohort's truth).

    Every problem is reported with the sheet's path, the row number as a spreadsheet shows it
    (header = row 1), the row's id and what is expected. Relative ``path`` cells are resolved
    against the sheet's folder; with ``check_paths`` a missing file is an error, without it a slide
    sheet may leave ``path`` out (a cohort with ready-made features needs no slide files).
    """
    if kind not in SHEET_SCHEMAS:
        raise ValueError(f"unknown sheet kind {kind!r}; expected one of {SHEET_SCHEMAS}")
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: {kind} sheet not found. Fix: create it or correct its path in the config.")
    schema = load_schema(kind)
    if kind == "slides" and not check_paths:
        schema = {**schema, "required": [c for c in schema["required"] if c != "path"]}
    layout = f"save it as tab-separated UTF-8 text with the header {list(schema['properties'])}"
    frame = read_table(path, f"{kind} sheet", layout, sep="\t", dtype=str, keep_default_na=True, comment=None,
                       index_col=False)
    frame.columns = [str(c).strip() for c in frame.columns]
    problems: list[str] = []
    missing_columns = [c for c in schema["required"] if c not in frame.columns]
    if missing_columns:
        raise ConfigError(
            f"{path}: missing column(s) {missing_columns}; found {list(frame.columns)}. "
            f"Fix: the {kind} sheet needs the tab-separated columns {list(schema['properties'])}."
        )
    if frame.empty:
        raise ConfigError(f"{path}: the {kind} sheet has a header but no rows. Fix: add one row per {_ROW_HOLDS[kind]}.")
    validator = jsonschema.Draft202012Validator(schema)
    records = []
    for index, row in frame.iterrows():
        record = _row_record(row, schema)
        label = f"{path}: row {index + 2} ({_ID_COLUMNS[kind]}={printable(row.get(_ID_COLUMNS[kind]))})"
        for error in validator.iter_errors(record):
            column = error.absolute_path[0] if error.absolute_path else None
            expected = schema["properties"].get(column, {}).get("description") if column else None
            if error.validator == "required":
                problems.append(f"{label}: {error.message}. Fix: fill that cell.")
            else:
                problems.append(f"{label}: column '{column}': {error.message}. Fix: expected {expected}.")
        if "path" in record:
            resolved = (path.parent / record["path"]).resolve()
            problem = not_a_file(resolved) if check_paths else None
            if problem:
                problems.append(
                    f"{label}: path '{record['path']}' {problem} (looked for {resolved}). "
                    "Fix: correct the path (relative paths start at the sheet's folder) or remove the row."
                )
            record["path"] = str(resolved)
        records.append(record)
    unique = _UNIQUE_COLUMNS.get(kind)
    if unique and unique in frame.columns:
        duplicated = frame[unique][frame[unique].duplicated(keep=False) & frame[unique].notna()]
        for index, value in duplicated.items():
            problems.append(f"{path}: row {index + 2}: duplicate {unique} '{value}'. Fix: each {unique} must appear once.")
    if problems:
        raise ConfigError("\n".join(problems))
    columns = list(dict.fromkeys([*schema["properties"], *frame.columns]))
    return pd.DataFrame.from_records(records, columns=columns)
