# Genomics stage, one job per cohort: matrices -> patient x feature table + gene-family tokens.


rule genomic_tokens:
    input:
        sheet=lambda wildcards: sheet_path(wildcards.cohort, "genomics"),
        clinical=lambda wildcards: sheet_path(wildcards.cohort, "clinical"),
        families=lambda wildcards: sheet_path(wildcards.cohort, "gene_families"),
        matrices=genomic_matrices,
    output:
        features="results/{cohort}/genomics/features.parquet",
        tokens="results/{cohort}/genomics/tokens.json",
        qc=report("results/{cohort}/genomics/qc.tsv", category="Genomics QC", labels={"cohort": "{cohort}"}),
        patients="results/{cohort}/genomics/patients.tsv",
    log:
        "results/logs/genomics/{cohort}.log",
    benchmark:
        "results/benchmarks/genomics/{cohort}.tsv"
    conda:
        "../../envs/genomics.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        outdir=lambda wildcards, output: Path(output.features).parent,
    shell:
        "memamba genomics --sheet {input.sheet:q} --families {input.families:q} --clinical {input.clinical:q} -o {params.outdir:q} > {log:q} 2>&1"
