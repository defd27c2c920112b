#!/usr/bin/env bash
# Snakemake runs this once, inside the new env, after creating envs/train-cuda.yaml's env (a post-deploy script).
# mamba-ssm and causal-conv1d build against the env's torch, so they come after it, without build isolation:
# their setup first fetches a prebuilt wheel for this torch + CUDA + Python from the packages' GitHub releases,
# and otherwise compiles the kernels with nvcc, which is installed here at torch's CUDA version (conda-forge).
set -euo pipefail
cuda=$(python -c 'import torch; print(torch.version.cuda or "")')
if [ -z "$cuda" ]; then
    echo "train-cuda.post-deploy.sh: torch in $CONDA_PREFIX is a CPU-only build; mamba-ssm needs a CUDA build." >&2
    echo "Fix: install torch's CUDA wheel in that env, or train with train.device: auto (the pure-PyTorch scan)." >&2
    exit 1
fi
conda install --yes --quiet --prefix "$CONDA_PREFIX" --channel conda-forge "cuda-nvcc=${cuda}" "cuda-cudart-dev=${cuda}" ninja
pip install --no-build-isolation "causal-conv1d==1.7.0" "mamba-ssm==2.3.2.post1"
python -c 'from mamba_ssm.ops.selective_scan_interface import selective_scan_fn; print("mamba-ssm kernel imports")'
