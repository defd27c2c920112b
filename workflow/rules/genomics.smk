# Genomics stage, one job per cohort: matrices -> patient x feature table + gene-family tokens; and, for a cohort
# with a pathway table whose pathway tokens a model reads, those tokens (SurvPath's).


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


rule pathway_tokens:
    input:
        features="results/{cohort}/genomics/features.parquet",
        tokens="results/{cohort}/genomics/tokens.json",
        pathways=lambda wildcards: sheet_path(wildcards.cohort, "pathways"),
    output:
        tokens="results/{cohort}/genomics/pathways/tokens.json",
        qc=report("results/{cohort}/genomics/pathways/qc.tsv", category="Genomics QC", labels={"cohort": "{cohort}", "tokens": "pathways"}),
    log:
        "results/logs/genomics/{cohort}/pathways.log",
    benchmark:
        "results/benchmarks/genomics/{cohort}/pathways.tsv"
    conda:
        "../../envs/genomics.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        modalities=config["genomics"]["pathway_modalities"],
        outdir=lambda wildcards, output: Path(output.tokens).parent,
    shell:
        "memamba pathway-tokens --features {input.features:q} --tokens {input.tokens:q} --pathways {input.pathways:q}"
        " --modalities {params.modalities:q} -o {params.outdir:q} > {log:q} 2>&1"
