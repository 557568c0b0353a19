"""Update functions behind chapter 8's bandwidth slider (the governors application).

The lesson: on the application's data the estimated effect curve, its uniform band and the tests
move with the bandwidth h. :func:`effect_at_bandwidth` refits the paper's specification at a
given h and optionally draws the curve on a matplotlib Axes; :func:`bandwidth_path` tabulates a
few summaries over several bandwidths (for the static figure the website shows). Both are thin
wrappers around :func:`r3d_teach.r3d`; no ipywidgets here.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = rng.uniform(0, 1, 120)
>>> y = [rng.normal(1 + (xi >= 0.5), 1, 40) for xi in x]
>>> out = effect_at_bandwidth(0.3, x, y, quantiles=[0.25, 0.5, 0.75], n_boot=99)
>>> sorted(out)[:4], round(out["h"], 2)
(['average', 'band_lower', 'band_upper', 'crit_value'], 0.3)
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..core.estimator import r3d
from ..core.plotting import plot_effect

__all__ = ["effect_at_bandwidth", "bandwidth_path"]


def effect_at_bandwidth(
    h: float,
    x: np.ndarray,
    y: Sequence[np.ndarray],
    weights: Sequence[np.ndarray] | None = None,
    *,
    quantiles: Sequence[float] | np.ndarray | None = None,
    cutoff: float = 0.5,
    p: int = 2,
    kernel: str = "triangular",
    quantile_method: str = "inverted_cdf",
    alpha: float = 0.10,
    n_boot: int = 1000,
    seed: int = 0,
    band: str = "studentized",
    truth: np.ndarray | None = None,
    label: str = "",
    ax=None,
) -> dict:
    """Fit R3D (Fréchet) at bandwidth ``h`` and return its effect curve, uniform band and tests.

    Parameters
    ----------
    h : the bandwidth (the slider's value).
    x, y, weights : unit running variable, unit samples and per-observation weights (as for
        :func:`r3d_teach.r3d`).
    quantiles, cutoff, p, kernel, quantile_method, alpha, n_boot, seed, band : passed to ``r3d``
        (defaults: the paper's specification except the grid, which defaults to r3d's, and the
        band, r3d's studentized one; ``band="unweighted"`` is the paper's).
    truth : optional true effect on the grid, drawn as a dashed line.
    label : text appended to the panel title (e.g. "synthetic replica").
    ax : optional matplotlib Axes to draw on (:func:`r3d_teach.core.plotting.plot_effect`: the
        estimate, its uniform band and the truth).

    Returns
    -------
    dict with ``h, quantiles, tau, band_lower, band_upper, crit_value, half_width, average`` (mean of τ̂ over
    the grid), ``nullity_p, homogeneity_p, n_left, n_right``.
    """
    res = r3d(x, y, weights=weights, cutoff=cutoff, method="frechet", p=p, kernel=kernel, h=float(h),
              quantiles=quantiles, quantile_method=quantile_method, alpha=alpha, n_boot=n_boot,
              seed=seed, band=band, tests=("nullity", "homogeneity"))
    pv = res.tests.set_index("test")["p_value"]
    out = {
        "h": float(res.h),
        "quantiles": res.quantiles,
        "tau": res.tau,
        "band_lower": res.band_lower,
        "band_upper": res.band_upper,
        "crit_value": float(res.crit_value),
        "half_width": float(np.mean(res.band_upper - res.tau)),
        "average": float(np.mean(res.tau)),
        "nullity_p": float(pv["nullity"]),
        "homogeneity_p": float(pv["homogeneity"]),
        "n_left": int(res.n_left),
        "n_right": int(res.n_right),
    }
    if ax is not None:
        title = f"h = {out['h']:.3g}: {out['n_left']} + {out['n_right']} units"
        plot_effect(res, ax=ax, pointwise=False, truth=truth, truth_label="true effect", label=r"$\hat\tau(q)$",
                    title=title + (f"\n{label}" if label else ""), legend=False)
        ax.title.set_fontsize(9)
    return out


def bandwidth_path(
    hs: Sequence[float],
    x: np.ndarray,
    y: Sequence[np.ndarray],
    weights: Sequence[np.ndarray] | None = None,
    **kwargs,
) -> pd.DataFrame:
    """One row per bandwidth in ``hs``: ``h, n_left, n_right, average, crit_value, half_width
    (the uniform band's mean half-width over the grid), nullity_p, homogeneity_p`` (keyword
    arguments as in :func:`effect_at_bandwidth`, without ``ax``)."""
    rows = []
    for h in hs:
        out = effect_at_bandwidth(h, x, y, weights, **kwargs)
        rows.append({k: out[k] for k in ("h", "n_left", "n_right", "average", "crit_value", "half_width",
                                         "nullity_p", "homogeneity_p")})
    return pd.DataFrame(rows)
