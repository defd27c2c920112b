import subprocess
import sys

from conftest import REPO
from memamba.models import ModelInputs
from memamba.models.info import SCAN_FLOPS_PER_STATE, model_info


def test_parts_add_up_and_flops_grow_linearly_with_the_bag() -> None:
    inputs = ModelInputs(patch_dim=32, token_sizes=[5, 0, 9], n_bins=4)
    info = model_info("memamba", inputs, {"d_model": 16}, [500, 2000])
    parts = {k: v for k, v in info.parameters.items() if k != "total"}
    assert set(parts) == {"pathology", "genomics", "synergy", "backbone", "head"}
    assert sum(parts.values()) == info.parameters["total"] and parts["synergy"] == 0
    assert 3.6 < info.forward_gflops[2000] / info.forward_gflops[500] < 4.2
    scan_only = SCAN_FLOPS_PER_STATE * 2000 * 32 * 16 * 2 / 1e9
    assert info.forward_gflops[2000] > scan_only


def test_genomics_only_models_ignore_the_bag_size() -> None:
    info = model_info("snn", ModelInputs(patch_dim=32, token_sizes=[5, 9]), {}, [10, 1000])
    assert info.forward_gflops[10] == info.forward_gflops[1000] > 0


def test_command_prints_parts_and_flops() -> None:
    run = subprocess.run([sys.executable, "-m", "memamba.cli", "model-info", str(REPO / "config" / "config.yaml"),
                          "--patches", "100", "400", "--token-sizes", "10", "20"], capture_output=True, text=True, check=True)
    assert "parameters pathology" in run.stdout and "parameters total" in run.stdout
    assert "forward FLOPs per patient with    400 patches" in run.stdout
