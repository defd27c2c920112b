"""Reports: Kaplan-Meier plots, per-cohort and cross-cohort tables, the HTML report."""
