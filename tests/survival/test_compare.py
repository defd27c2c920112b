import numpy as np
import pytest
from scipy import stats

from memamba.survival.compare import corrected_interval


def test_the_corrected_interval_widens_the_t_interval_by_nadeau_and_bengios_factor() -> None:
    differences = np.array([0.03, -0.01, 0.05, 0.02, 0.00, 0.04, 0.01, -0.02, 0.03, 0.02, 0.01, 0.00, 0.05, 0.02, 0.01])
    low, high = corrected_interval(differences, 1 / 4)                       # 3 x 5-fold CV: J = 15, test/train = 1/4
    half = stats.t.ppf(0.975, 14) * np.sqrt((1 / 15 + 1 / 4) * differences.var(ddof=1))
    assert (low, high) == pytest.approx((differences.mean() - half, differences.mean() + half), rel=1e-12)
    naive = stats.t.ppf(0.975, 14) * differences.std(ddof=1) / np.sqrt(15)
    assert high - low > 2 * naive * 2                          # the correction more than doubles it here
    assert np.isnan(corrected_interval(np.array([0.1, np.nan]), 0.25)).all()
    assert corrected_interval(np.array([0.1, np.nan, 0.3]), 0.25)[0] < 0.2 < corrected_interval(np.array([0.1, np.nan, 0.3]), 0.25)[1]
