# memamba: raw slides + genomic tables -> cross-validated survival models, per cohort.
# Targets (docs/pages/running.md): all (the default), features, clam, genomics, train, report, heatmaps, and any
# file such as results/{cohort}/summary.tsv. The default target lists every intermediate file too, so that a
# deleted one (say one slide's features) is rebuilt, and then exactly the jobs that consume it rerun.
import os

from snakemake.utils import min_version

min_version("9.0")

# The conda envs (envs/*.yaml) install memamba from this checkout: their '-e ${MEMAMBA_WORKFLOW}[extra]' lines are
# expanded by pip, which conda runs from wherever Snakemake put the env file (.snakemake/conda/), so no relative path.
os.environ.update(MEMAMBA_WORKFLOW=workflow.basedir)


# No --configfile: the embedded demo cohort (config/config.yaml). A user's --configfile replaces it: only the
# user's cohorts are planned, and every key the user leaves out takes its documented (schema) default.
# --config key=value overrides apply in both cases.
if not workflow.overwrite_configfiles:

    configfile: f"{workflow.basedir}/config/config.yaml"


report: "workflow/report/workflow.rst"


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


rule features:
    input:
        lambda wildcards: stage_files("features"),


rule clam:
    input:
        lambda wildcards: [f"results/{cohort}/clam/{ENCODER}" for cohort in COHORTS if not ready_features(cohort)],


rule genomics:
    input:
        lambda wildcards: stage_files("genomics"),


rule train:
    input:
        lambda wildcards: stage_files("train"),


rule heatmaps:
    input:
        lambda wildcards: heatmap_folders(),


rule report:
    input:
        "results/summary.tsv",
        "results/report.html",
