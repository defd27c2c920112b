# Report stage: one summary per cohort, then the cross-cohort table and the HTML report.

rule summarise:
    input:
        unpack(summary_inputs),
    output:
        "results/{cohort}/summary.tsv",
    params:
        oracle=oracle_options,
    log:
        "results/logs/summarise/{cohort}.log",
    benchmark:
        "results/benchmarks/summarise/{cohort}.tsv"
    conda:
        "../../envs/train.yaml"
    shell:
        "memamba summarise --cohort {wildcards.cohort} --metrics {input.metrics} {params.oracle}"
        " -o {output} > {log} 2>&1"


rule report:
    input:
        expand("results/{cohort}/summary.tsv", cohort=COHORTS),
    output:
        tsv="results/summary.tsv",
        html="results/report.html",
    log:
        "results/logs/report/report.log",
    benchmark:
        "results/benchmarks/report/report.tsv"
    conda:
        "../../envs/train.yaml"
    shell:
        "memamba report {input} --out-tsv {output.tsv} --out-html {output.html} > {log} 2>&1"
