"""Genomics stage: read RNA-seq / CNV / mutation matrices and define gene-family tokens."""
