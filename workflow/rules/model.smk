# Model stage: patient-level splits, then training (a job per cohort x model x fold, or per group of folds of one
# model, train.folds_per_job, each fold then published by a local take_fold job), then evaluation per cohort.


rule splits:
    input:
        clinical=lambda wildcards: sheet_path(wildcards.cohort, "clinical"),
        slides=lambda wildcards: sheet_path(wildcards.cohort, "slides"),
        genomics="results/{cohort}/genomics/features.parquet",
    output:
        expand("results/{{cohort}}/splits/fold_{fold}.tsv", fold=range(config["splits"]["folds"])),
    log:
        "results/logs/splits/{cohort}.log",
    benchmark:
        "results/benchmarks/splits/{cohort}.tsv"
    wildcard_constraints:
        cohort=one_of(RESPLIT_COHORTS),
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        splits=as_json(config["splits"]),
        outdir=lambda wildcards, output: Path(output[0]).parent,
    shell:
        "memamba splits --clinical {input.clinical:q} --slides {input.slides:q} --genomics {input.genomics:q}"
        " -o {params.outdir:q} --params {params.splits:q} > {log:q} 2>&1"


rule published_split:
    input:
        published=published_fold_file,
        clinical=lambda wildcards: sheet_path(wildcards.cohort, "clinical"),
        slides=lambda wildcards: sheet_path(wildcards.cohort, "slides"),
        genomics="results/{cohort}/genomics/features.parquet",
    output:
        "results/{cohort}/splits/fold_{fold}.tsv",
    log:
        "results/logs/splits/{cohort}/fold_{fold}.log",
    benchmark:
        "results/benchmarks/splits/{cohort}/fold_{fold}.tsv"
    wildcard_constraints:
        cohort=one_of(PUBLISHED_SPLIT_COHORTS),
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        missing_modality=config["splits"]["missing_modality"],
    shell:
        "memamba published-split {input.published:q} --clinical {input.clinical:q} --slides {input.slides:q}"
        " --genomics {input.genomics:q} --missing-modality {params.missing_modality:q} -o {output:q} > {log:q} 2>&1"


rule train_fold:
    input:
        slides=lambda wildcards: sheet_path(wildcards.cohort, "slides"),
        clinical=lambda wildcards: sheet_path(wildcards.cohort, "clinical"),
        genomics="results/{cohort}/genomics/features.parquet",
        tokens=tokens_input,
        split="results/{cohort}/splits/fold_{fold}.tsv",
        features=train_features,
    output:
        checkpoint="results/{cohort}/models/{model}/fold_{fold}/checkpoint.pt",
        history="results/{cohort}/models/{model}/fold_{fold}/history.tsv",
        predictions="results/{cohort}/models/{model}/fold_{fold}/predictions.tsv",
        config="results/{cohort}/models/{model}/fold_{fold}/config.yaml",
    log:
        "results/logs/train/{cohort}/{model}/fold_{fold}.log",
    benchmark:
        "results/benchmarks/train/{cohort}/{model}/fold_{fold}.tsv"
    wildcard_constraints:
        model=one_of([model for model in MODELS if model not in TUNED and folds_per_job(model) == 1]),
    conda:
        TRAIN_ENV
    threads: 1
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=training_gpus,
    params:
        train=train_params(),
        model=lambda wildcards: as_json(model_params(wildcards.model)),
        genomics=as_json(GENOMICS_TRAIN),
        missing_modality=config["splits"]["missing_modality"],
        features=features_option,
        folds=lambda wildcards, input, output: ["--split", input.split, "-o", Path(output.checkpoint).parent],
        tune=[],
    shell:
        "OMP_NUM_THREADS={threads:q} memamba train --slides {input.slides:q} --clinical {input.clinical:q}"
        " --genomics {input.genomics:q} --tokens {input.tokens:q} {params.folds:q} {params.features:q}"
        " --model {wildcards.model:q} --model-params {params.model:q} --genomics-params {params.genomics:q}"
        " --params {params.train:q} --missing-modality {params.missing_modality:q} {params.tune:q}"
        " --resume --quiet > {log:q} 2>&1"


# A tuned model (train.tune.models): the same job, with each outer fold's settings chosen first by an inner
# cross-validation on its training part (one job per outer fold; the inner fits resume from the last finished one).
use rule train_fold as train_tuned_fold with:
    output:
        checkpoint="results/{cohort}/models/{model}/fold_{fold}/checkpoint.pt",
        history="results/{cohort}/models/{model}/fold_{fold}/history.tsv",
        predictions="results/{cohort}/models/{model}/fold_{fold}/predictions.tsv",
        config="results/{cohort}/models/{model}/fold_{fold}/config.yaml",
        tuning="results/{cohort}/models/{model}/fold_{fold}/tuning.tsv",
    wildcard_constraints:
        model=one_of([model for model in TUNED if folds_per_job(model) == 1]),
    params:
        train=train_params(),
        model=lambda wildcards: as_json(model_params(wildcards.model)),
        genomics=as_json(GENOMICS_TRAIN),
        missing_modality=config["splits"]["missing_modality"],
        features=features_option,
        folds=lambda wildcards, input, output: ["--split", input.split, "-o", Path(output.checkpoint).parent],
        tune=lambda wildcards: ["--tune", tune_params(wildcards)],


# train.folds_per_job (train.tune.folds_per_job) > 1: one job fits a group of folds of one model in turn, staging
# each fold's files; a local take_fold job per fold publishes them (or fails with that fold's own error).
use rule train_fold as train_folds with:
    input:
        slides=lambda wildcards: sheet_path(wildcards.cohort, "slides"),
        clinical=lambda wildcards: sheet_path(wildcards.cohort, "clinical"),
        genomics="results/{cohort}/genomics/features.parquet",
        tokens=tokens_input,
        splits=lambda wildcards: [f"results/{wildcards.cohort}/splits/fold_{k}.tsv" for k in group_folds(wildcards)],
        features=train_features,
    output:
        "results/{cohort}/models/{model}/.folds/group_{group}.tsv",
    log:
        "results/logs/train/{cohort}/{model}/group_{group}.log",
    benchmark:
        "results/benchmarks/train/{cohort}/{model}/group_{group}.tsv"
    wildcard_constraints:
        model=one_of([model for model in MODELS if folds_per_job(model) > 1]),
    resources:
        mem_mb=8000,
        runtime=lambda wildcards: 240 * len(group_folds(wildcards)),
        gpu=training_gpus,
    params:
        train=train_params(),
        model=lambda wildcards: as_json(model_params(wildcards.model)),
        genomics=as_json(GENOMICS_TRAIN),
        missing_modality=config["splits"]["missing_modality"],
        features=features_option,
        folds=lambda wildcards, output: ["--folds", group_fold_jobs(wildcards), "--manifest", output[0]],
        tune=lambda wildcards: ["--tune", tune_params(wildcards)] if wildcards.model in TUNED else [],


rule take_fold:
    input:
        fold_manifest,
    output:
        checkpoint="results/{cohort}/models/{model}/fold_{fold}/checkpoint.pt",
        history="results/{cohort}/models/{model}/fold_{fold}/history.tsv",
        predictions="results/{cohort}/models/{model}/fold_{fold}/predictions.tsv",
        config="results/{cohort}/models/{model}/fold_{fold}/config.yaml",
    log:
        "results/logs/take_fold/{cohort}/{model}/fold_{fold}.log",
    wildcard_constraints:
        model=one_of([model for model in MODELS if model not in TUNED and folds_per_job(model) > 1]),
    localrule: True
    conda:
        "../../envs/train.yaml"
    params:
        script=PUBLISH,
        unit=staged_fold,
        publish=lambda wildcards, output: publish_options(f"fold {wildcards.fold} of {wildcards.model}", staged_fold_pairs(wildcards, output)),
    shell:
        "python -S {params.script:q} {input:q} {params.unit:q} {params.publish:q} > {log:q} 2>&1"


use rule take_fold as take_tuned_fold with:
    output:
        checkpoint="results/{cohort}/models/{model}/fold_{fold}/checkpoint.pt",
        history="results/{cohort}/models/{model}/fold_{fold}/history.tsv",
        predictions="results/{cohort}/models/{model}/fold_{fold}/predictions.tsv",
        config="results/{cohort}/models/{model}/fold_{fold}/config.yaml",
        tuning="results/{cohort}/models/{model}/fold_{fold}/tuning.tsv",
    wildcard_constraints:
        model=one_of([model for model in TUNED if folds_per_job(model) > 1]),


rule evaluate:
    input:
        cohort_fold_predictions,
    output:
        metrics=expand("results/{{cohort}}/eval/{model}/metrics.tsv", model=MODELS),
        km=[
            report(
                f"results/{{cohort}}/eval/{model}/km.png",
                category="Kaplan-Meier curves",
                subcategory="{cohort}",
                labels={"cohort": "{cohort}", "model": model},
            )
            for model in MODELS
        ],
    log:
        "results/logs/evaluate/{cohort}.log",
    benchmark:
        "results/benchmarks/evaluate/{cohort}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=lambda wildcards: 15 * len(MODELS),
    params:
        models=evaluation_jobs,
    shell:
        "memamba evaluate --models {params.models:q} > {log:q} 2>&1"


rule external_predict:
    input:
        unpack(external_inputs),
    output:
        "results/{cohort}/external/{other}/{model}/predictions.tsv",
    log:
        "results/logs/external/{cohort}/{other}/{model}.log",
    benchmark:
        "results/benchmarks/external/{cohort}/{other}/{model}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        features=features_option,
    shell:
        "OMP_NUM_THREADS={threads:q} memamba predict --checkpoint {input.checkpoints:q} --slides {input.slides:q}"
        " --clinical {input.clinical:q} --genomics {input.genomics:q} --tokens {input.tokens:q} {params.features:q}"
        " -o {output:q} > {log:q} 2>&1"


rule external_evaluate:
    input:
        predictions="results/{cohort}/external/{other}/{model}/predictions.tsv",
        training=lambda wildcards: sheet_path(wildcards.other, "clinical"),
    output:
        metrics="results/{cohort}/external/{other}/{model}/metrics.tsv",
        km="results/{cohort}/external/{other}/{model}/km.png",
    log:
        "results/logs/external/{cohort}/{other}/{model}.evaluate.log",
    benchmark:
        "results/benchmarks/evaluate/{cohort}/external/{other}/{model}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        outdir=lambda wildcards, output: Path(output.metrics).parent,
        title=lambda wildcards: f"{wildcards.model} trained on {wildcards.other}, scoring {wildcards.cohort}",
    shell:
        "memamba evaluate-external {input.predictions:q} --training-clinical {input.training:q}"
        " -o {params.outdir:q} --title {params.title:q} > {log:q} 2>&1"
