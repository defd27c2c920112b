# Report stage: one summary per cohort, then the cross-cohort table and the HTML report.


rule summarise:
    input:
        unpack(summary_inputs),
    output:
        report("results/{cohort}/summary.tsv", category="Cross-validated metrics", labels={"cohort": "{cohort}"}),
    log:
        "results/logs/summarise/{cohort}.log",
    benchmark:
        "results/benchmarks/summarise/{cohort}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        oracle=oracle_options,
    shell:
        "memamba summarise --cohort {wildcards.cohort:q} --metrics {input.metrics:q} --external {input.external:q}"
        " {params.oracle:q} -o {output:q} > {log:q} 2>&1"


rule render_report:
    input:
        summaries=expand("results/{cohort}/summary.tsv", cohort=COHORTS),
        heatmaps=lambda wildcards: heatmap_folders() if config["heatmaps"]["in_report"] else [],
    output:
        tsv="results/summary.tsv",
        html="results/report.html",
        compute=report("results/compute.tsv", category="Compute per stage"),
    log:
        "results/logs/report/report.log",
    benchmark:
        "results/benchmarks/report/report.tsv"
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        benchmarks="results/benchmarks",
        earlier=lambda wildcards: earlier_summaries(),
    shell:
        "memamba report {input.summaries:q} --earlier {params.earlier:q} --out-tsv {output.tsv:q} --out-html {output.html:q}"
        " --benchmarks {params.benchmarks:q} --out-compute {output.compute:q} > {log:q} 2>&1"


rule fold_heatmaps:
    input:
        unpack(heatmap_inputs),
        checkpoint="results/{cohort}/models/{model}/fold_{fold}/checkpoint.pt",
        predictions="results/{cohort}/models/{model}/fold_{fold}/predictions.tsv",
        genomics="results/{cohort}/genomics/features.parquet",
        tokens=tokens_input,
        features=cohort_feature_files,
    output:
        directory("results/{cohort}/heatmaps/{model}/fold_{fold}"),
    log:
        "results/logs/heatmaps/{cohort}/{model}/fold_{fold}.log",
    benchmark:
        "results/benchmarks/heatmaps/{cohort}/{model}/fold_{fold}.tsv"
    conda:
        "../../envs/heatmaps.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        features=lambda wildcards: features_folder(wildcards.cohort),
        attributions=lambda wildcards: ["--attributions"] if uses_genomics(wildcards.model) else [],
        settings=heatmap_settings_options,
        tumours=heatmap_tumours_option,
    shell:
        "OMP_NUM_THREADS={threads:q} memamba heatmap --checkpoint {input.checkpoint:q} --predictions {input.predictions:q}"
        " --slides {input.slides:q} --genomics {input.genomics:q} --tokens {input.tokens:q}"
        " --features-dir {params.features:q} --render {params.settings:q} {params.tumours:q} {params.attributions:q}"
        " -o {output:q} > {log:q} 2>&1"


onstart:
    check_local_gpus()
