"""Cohort assembly (patients <-> slides <-> genomics <-> survival) and cross-validation splits."""
