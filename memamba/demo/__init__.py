"""The synthetic demo cohort behind the embedded default configuration."""

from memamba.demo.cohort import generate_cohort

__all__ = ["generate_cohort"]
