# memamba: raw slides + genomic tables -> cross-validated survival models, per cohort.
# Default target: every file of every stage of every cohort in the config, up to results/summary.tsv and
# results/report.html. Listing the intermediate files too means that a deleted one (say one slide's
# features) is rebuilt, and then exactly the jobs that consume it rerun.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/slides.smk"
include: "workflow/rules/genomics.smk"
include: "workflow/rules/model.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        "results/summary.tsv",
        "results/report.html",
        stage_outputs=all_stage_outputs,
