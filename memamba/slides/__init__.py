"""Slide stage: open slides, resolve microns per pixel, segment tissue, tile, extract patch features."""
