# Model stage: patient-level splits, then one training job per cohort x model x fold, then evaluation.


rule splits:
    input:
        clinical=lambda wildcards: sheet_path(wildcards.cohort, "clinical"),
        slides=lambda wildcards: sheet_path(wildcards.cohort, "slides"),
        genomics="results/{cohort}/genomics/features.parquet",
    output:
        expand("results/{{cohort}}/splits/fold_{fold}.tsv", fold=FOLDS),
    params:
        splits=as_json(config["splits"]),
        outdir=lambda wildcards, output: Path(output[0]).parent,
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    log:
        "results/logs/splits/{cohort}.log",
    benchmark:
        "results/benchmarks/splits/{cohort}.tsv"
    conda:
        "../../envs/train.yaml"
    shell:
        "memamba splits --clinical {input.clinical:q} --slides {input.slides:q} --genomics {input.genomics}"
        " -o {params.outdir} --params {params.splits:q} > {log} 2>&1"


rule train_fold:
    input:
        slides=lambda wildcards: sheet_path(wildcards.cohort, "slides"),
        clinical=lambda wildcards: sheet_path(wildcards.cohort, "clinical"),
        genomics="results/{cohort}/genomics/features.parquet",
        tokens="results/{cohort}/genomics/tokens.json",
        split="results/{cohort}/splits/fold_{fold}.tsv",
        features=train_features,
    output:
        checkpoint="results/{cohort}/models/{model}/fold_{fold}/checkpoint.pt",
        history="results/{cohort}/models/{model}/fold_{fold}/history.tsv",
        predictions="results/{cohort}/models/{model}/fold_{fold}/predictions.tsv",
        config="results/{cohort}/models/{model}/fold_{fold}/config.yaml",
    params:
        train=train_params(),
        model=lambda wildcards: as_json(model_params(wildcards.model)),
        genomics=as_json(config["genomics"]),
        missing_modality=config["splits"]["missing_modality"],
        features=lambda wildcards: (
            f"--features-dir results/{wildcards.cohort}/features/{ENCODER}" if uses_slides(wildcards.model) else ""
        ),
        outdir=lambda wildcards, output: Path(output.checkpoint).parent,
    threads: 1
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=training_gpus,
    log:
        "results/logs/train/{cohort}/{model}/fold_{fold}.log",
    benchmark:
        "results/benchmarks/train/{cohort}/{model}/fold_{fold}.tsv"
    conda:
        "../../envs/train.yaml"
    shell:
        "OMP_NUM_THREADS={threads} memamba train --slides {input.slides:q} --clinical {input.clinical:q}"
        " --genomics {input.genomics} --tokens {input.tokens} --split {input.split} {params.features}"
        " --model {wildcards.model} --model-params {params.model:q} --genomics-params {params.genomics:q}"
        " --params {params.train:q} --missing-modality {params.missing_modality} --resume -o {params.outdir} --quiet > {log} 2>&1"


rule evaluate:
    input:
        expand("results/{{cohort}}/models/{{model}}/fold_{fold}/predictions.tsv", fold=FOLDS),
    output:
        metrics="results/{cohort}/eval/{model}/metrics.tsv",
        km=report("results/{cohort}/eval/{model}/km.png", category="Kaplan-Meier curves", subcategory="{cohort}",
                  labels={"cohort": "{cohort}", "model": "{model}"}),
    params:
        outdir=lambda wildcards, output: Path(output.metrics).parent,
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    log:
        "results/logs/evaluate/{cohort}/{model}.log",
    benchmark:
        "results/benchmarks/evaluate/{cohort}/{model}.tsv"
    conda:
        "../../envs/train.yaml"
    shell:
        "memamba evaluate {input} -o {params.outdir} --title '{wildcards.cohort} {wildcards.model}' > {log} 2>&1"
