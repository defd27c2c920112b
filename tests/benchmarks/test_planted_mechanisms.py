"""The planted-mechanism benchmark's --quick size runs end to end and prints every mechanism's table."""

import subprocess
import sys
from pathlib import Path

import pandas as pd

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "planted_mechanisms.py"


def test_the_quick_run_prints_each_mechanism_with_the_oracle_and_paired_intervals(tmp_path: Path) -> None:
    out = tmp_path / "fits.tsv"
    run = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--jobs", "1", "--out", str(out)], capture_output=True,
                         text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    for mechanism in ("additive", "correspondence", "localisation", "arrangement"):
        assert f"\n{mechanism}\n" in run.stdout
    assert run.stdout.count("oracle (true risk)") == 4 and "memamba-no-ot" in run.stdout and "95 % interval" in run.stdout
    fits = pd.read_csv(out, sep="\t")
    assert len(fits) == 4 * 4 * 2 and fits["oracle"].between(0.6, 1.0).all()            # mechanisms x models x folds
    again = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--jobs", "1", "--out", str(out)], capture_output=True,
                           text=True, cwd=tmp_path)
    assert again.returncode == 0 and len(pd.read_csv(out, sep="\t")) == len(fits)             # resumed: nothing refitted


def test_every_model_and_variant_the_benchmark_names_passes_the_configs_start_up_check() -> None:
    """A variant that the model refuses (a renamed setting, a value out of range) fails here, not hours into a run."""
    sys.path.insert(0, str(SCRIPT.parent))
    from planted_mechanisms import EXTRA_VARIANTS, MODELS

    from memamba.config import load_config
    from memamba.models.settings import check_models_section

    models = {**load_config(SCRIPT.parents[1] / "config" / "config.yaml")["models"], **EXTRA_VARIANTS}
    check_models_section({name: models.get(name, {}) for name in [*MODELS, *EXTRA_VARIANTS]}, "planted_mechanisms.py")
