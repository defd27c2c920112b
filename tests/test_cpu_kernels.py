import platform
import subprocess
import sys

import pytest

PROBE = ("from memamba.cpu_kernels import pin_cpu_kernels; pin_cpu_kernels(); import torch; "
         "print(torch.backends.cpu.get_cpu_capability())")


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="the pin concerns x86-64 processors")
def test_memambas_processes_use_the_avx2_kernels_unless_told_otherwise() -> None:
    pinned = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout.strip()
    supported = subprocess.run([sys.executable, "-c", "import torch; print(torch.backends.cpu.get_cpu_capability())"],
                               capture_output=True, text=True, check=True).stdout.strip()
    assert pinned == ("AVX2" if supported in ("AVX2", "AVX512") else supported)
    chosen = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True,
                            env={"ATEN_CPU_CAPABILITY": "default", "PATH": ""}).stdout.strip()
    assert chosen == "DEFAULT"
