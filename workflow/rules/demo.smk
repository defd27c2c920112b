# The synthetic demo cohort, generated on first use (a checkpoint: its slide list is known only afterwards).


checkpoint demo_data:
    output:
        slides="results/{cohort}/input/slides.tsv",
        clinical="results/{cohort}/input/clinical.tsv",
        genomics="results/{cohort}/input/genomics.tsv",
        gene_families="results/{cohort}/input/gene_families.csv",
        pathways="results/{cohort}/input/pathways.csv",
        truth="results/{cohort}/input/truth.tsv",
        tumours="results/{cohort}/input/tumour_regions.tsv",
    log:
        "results/logs/demo_data/{cohort}.log",
    benchmark:
        "results/benchmarks/demo_data/{cohort}.tsv"
    wildcard_constraints:
        cohort=one_of([c for c in COHORTS if is_generated(c)]),
    conda:
        "../../envs/slides.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        outdir=lambda wildcards, output: Path(output.slides).parent,
        patients=lambda wildcards: config["cohorts"][wildcards.cohort]["generate"]["patients"],
        seed=lambda wildcards: config["cohorts"][wildcards.cohort]["generate"]["seed"],
        slide_size=lambda wildcards: config["cohorts"][wildcards.cohort]["generate"]["slide_size"],
        slide_signal=lambda wildcards: config["cohorts"][wildcards.cohort]["generate"]["slide_signal"],
        slide_share=lambda wildcards: config["cohorts"][wildcards.cohort]["generate"]["slide_share"],
        mechanism=lambda wildcards: (
            ["--mechanism", config["cohorts"][wildcards.cohort]["generate"]["mechanism"]]
            if config["cohorts"][wildcards.cohort]["generate"]["mechanism"]
            else []
        ),
    shell:
        "memamba demo-data --out {params.outdir:q} --patients {params.patients:q} --seed {params.seed:q}"
        " --slide-size {params.slide_size:q} --slide-signal {params.slide_signal:q} --slide-share {params.slide_share:q}"
        " {params.mechanism:q} > {log:q} 2>&1"
