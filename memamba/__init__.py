"""memamba: ME-Mamba multimodal survival analysis, from raw slides and TCGA tables to reports."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("memamba")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
