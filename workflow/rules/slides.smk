# Slide stage: segment -> tile -> extract, a job per slide and step, or (extract.slides_per_job > 1) one job per
# shard of slides for the whole stage, each slide then published by a local take_slide job.


if config["extract"]["slides_per_job"] == 1:

    rule segment:
        input:
            slide=lambda wildcards: slide_row(wildcards.cohort, wildcards.slide)["path"],
        output:
            geojson="results/{cohort}/tissue/{slide}.geojson",
            png=report(
                "results/{cohort}/tissue/{slide}.png",
                category="Tissue segmentation",
                subcategory="{cohort}",
                labels={"cohort": "{cohort}", "slide": "{slide}"},
            ),
        log:
            "results/logs/segment/{cohort}/{slide}.log",
        benchmark:
            "results/benchmarks/segment/{cohort}/{slide}.tsv"
        conda:
            "../../envs/slides.yaml"
        threads: 1
        resources:
            mem_mb=4000,
            runtime=30,
        params:
            segment=as_json(config["segment"]),
            mpp=mpp_option,
            outdir=lambda wildcards, output: Path(output.geojson).parent,
        shell:
            "memamba segment {input.slide:q} -o {params.outdir:q} --name {wildcards.slide:q} {params.mpp:q} --params {params.segment:q} > {log:q} 2>&1"

    rule tile:
        input:
            slide=lambda wildcards: slide_row(wildcards.cohort, wildcards.slide)["path"],
            tissue="results/{cohort}/tissue/{slide}.geojson",
        output:
            "results/{cohort}/patches/{slide}.h5",
        log:
            "results/logs/tile/{cohort}/{slide}.log",
        benchmark:
            "results/benchmarks/tile/{cohort}/{slide}.tsv"
        conda:
            "../../envs/slides.yaml"
        threads: 1
        resources:
            mem_mb=4000,
            runtime=30,
        params:
            tile=as_json(config["tile"]),
            mpp=mpp_option,
        shell:
            "memamba tile {input.slide:q} --tissue {input.tissue:q} -o {output:q} {params.mpp:q} --params {params.tile:q} > {log:q} 2>&1"

    rule extract:
        input:
            slide=lambda wildcards: slide_row(wildcards.cohort, wildcards.slide)["path"],
            patches="results/{cohort}/patches/{slide}.h5",
            weights=weights_input,
        output:
            "results/{cohort}/features/{encoder}/{slide}.h5",
        log:
            "results/logs/extract/{cohort}/{encoder}/{slide}.log",
        benchmark:
            "results/benchmarks/extract/{cohort}/{encoder}/{slide}.tsv"
        conda:
            "../../envs/features.yaml"
        threads: 1 + config["extract"]["num_workers"]
        resources:
            mem_mb=8000,
            runtime=120,
            gpu=gpus_per_job("extract"),
        params:
            extract=lambda wildcards: as_json({**config["extract"], "encoder": wildcards.encoder}),
            weights_sha256=lambda wildcards: weights_content(),
        shell:
            "OMP_NUM_THREADS={threads:q} memamba extract {input.slide:q} --patches {input.patches:q} -o {output:q} --quiet"
            " --params {params.extract:q} > {log:q} 2>&1"

else:

    rule slide_shard:
        input:
            slides=lambda wildcards: [slide_row(wildcards.cohort, s)["path"] for s in shard_slides(wildcards)],
            weights=weights_input,
        output:
            f"results/{{cohort}}/.slide_stage/{ENCODER}/shard_{{shard}}.tsv",
        log:
            f"results/logs/slide_stage/{{cohort}}/{ENCODER}/shard_{{shard}}.log",
        benchmark:
            f"results/benchmarks/slide_stage/{{cohort}}/{ENCODER}/shard_{{shard}}.tsv"
        conda:
            SLIDE_STAGE_ENV
        threads: 1 + config["extract"]["num_workers"]
        resources:
            mem_mb=8000,
            runtime=120 * config["extract"]["slides_per_job"],
            gpu=gpus_per_job("extract"),
        params:
            segment=as_json(config["segment"]),
            tile=as_json(config["tile"]),
            extract=as_json(config["extract"]),
            weights_sha256=lambda wildcards: weights_content(),
            shard=shard_jobs,
            staged=lambda wildcards: staging_folder(wildcards.cohort),
        shell:
            "OMP_NUM_THREADS={threads:q} memamba slide-stage --shard {params.shard:q} --staged {params.staged:q}"
            " --manifest {output:q} --segment-params {params.segment:q} --tile-params {params.tile:q}"
            " --extract-params {params.extract:q} --quiet > {log:q} 2>&1"

    rule take_slide:
        input:
            slide_manifest,
        output:
            geojson="results/{cohort}/tissue/{slide}.geojson",
            png=report(
                "results/{cohort}/tissue/{slide}.png",
                category="Tissue segmentation",
                subcategory="{cohort}",
                labels={"cohort": "{cohort}", "slide": "{slide}"},
            ),
            patches="results/{cohort}/patches/{slide}.h5",
            features=f"results/{{cohort}}/features/{ENCODER}/{{slide}}.h5",
        log:
            "results/logs/take_slide/{cohort}/{slide}.log",
        localrule: True
        conda:
            SLIDE_STAGE_ENV
        params:
            script=PUBLISH,
            publish=lambda wildcards, output: publish_options(f"slide {wildcards.slide}", staged_slide_pairs(wildcards, output)),
        shell:
            "python -S {params.script:q} {input:q} {wildcards.slide:q} {params.publish:q} > {log:q} 2>&1"


rule export_clam:
    input:
        cohort_feature_files,
    output:
        directory(f"results/{{cohort}}/clam/{ENCODER}"),
    log:
        f"results/logs/export_clam/{{cohort}}/{ENCODER}.log",
    benchmark:
        f"results/benchmarks/export_clam/{{cohort}}/{ENCODER}.tsv"
    conda:
        "../../envs/features.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    shell:
        "memamba export-clam {input:q} -o {output:q} > {log:q} 2>&1"
