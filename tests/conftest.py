"""Shared fixtures: a tiny generated demo cohort and the real data in ../shared/data (when present)."""

from __future__ import annotations

from pathlib import Path

import pytest

from memamba.demo import generate_cohort

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
CMU_SLIDE = SHARED_DATA / "slides" / "CMU-1-Small-Region.svs"
GENERIC_TIFF = SHARED_DATA / "slides" / "CropBreastSlide.tiff"

needs_shared = pytest.mark.skipif(
    not SHARED_DATA.is_dir(), reason=f"real test data not found at {SHARED_DATA} (the project's ../shared/data)"
)


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated demo cohort of 8 patients with 512-pixel slides."""
    return generate_cohort(tmp_path_factory.mktemp("demo"), patients=8, seed=3, slide_size=512)


@pytest.fixture(scope="session")
def demo_slide(demo_dir: Path) -> Path:
    """The first slide of the demo cohort."""
    return sorted((demo_dir / "slides").glob("*.svs"))[0]
