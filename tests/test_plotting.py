import numpy as np

from r3d_teach import unit_quantiles
from r3d_teach.core.plotting import binned_quantile_means, rd_plot


def test_binned_means_by_hand():
    x = np.array([-0.9, -0.8, -0.1, 0.0, 0.5, 0.6])
    Q = np.arange(12.0).reshape(6, 2)
    c, m, cnt = binned_quantile_means(x, Q, cutoff=0.0, n_bins=2)
    # left bins [-0.9, -0.45), [-0.45, 0): units 0,1 | 2 ; right [0, 0.3), [0.3, 0.6]: 3 | 4,5
    np.testing.assert_allclose(c, [-0.675, -0.225, 0.15, 0.45])
    np.testing.assert_array_equal(cnt, [2, 1, 1, 2])
    np.testing.assert_allclose(m, [[1, 2], [4, 5], [6, 7], [9, 10]])


def test_rd_plot_draws_bins_and_fits():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, 200)
    y = [rng.normal(x_i + (x_i >= 0), 1, 30) for x_i in x]
    ax = rd_plot(x, y, quantiles=(0.25, 0.75), n_bins=10)
    assert len(ax.collections) == 2 and len(ax.lines) == 2 * 2 + 1
    Q = unit_quantiles(y, [0.25, 0.75])
    ax2 = rd_plot(x, Q=Q, quantiles=(0.25, 0.75), n_bins=10)
    np.testing.assert_allclose(ax.collections[0].get_offsets(), ax2.collections[0].get_offsets())
