"""Draw the introduction's figure: the two shortcuts (pooled quantile RD, unit-mean RD) against
the R3D target, the local average quantile treatment effect (LAQTE).

Rerun from the repository root (about 5 s); it overwrites ``book/figures/intro_shortcuts.png``
and prints the numbers the introduction quotes::

    python scripts/make_intro_figure.py

Design: ``r3d_teach.simulate.HeterogeneousShape`` (firm wage distributions; treated firms have
higher and more dispersed wages). At the cutoff, untreated firms have mean wage
mu ~ N(5, 1) and spread sigma ~ |N(1, 0.5^2)|; treated firms mu ~ N(7, 1), sigma ~ |N(1.5, 0.5^2)|.

Population targets (lines):

* LAQTE tau(q) = E[Q_{Y^1}(q) - Q_{Y^0}(q) | X = 0] (``design.truth``);
* pooled quantile RD: the quantile difference of the two mixtures of the firms' wage
  distributions at the cutoff (``design.pooled_truth``; all firms have the same number of
  workers here, so the mixture is E[Y(y) | X = 0+-]);
* unit-mean RD: one number, the LAQTE averaged over q (here exactly 2).

Estimates (markers): one simulated data set with 100,000 firms and 100 workers each: ``r3d``
(robust bias-corrected Frechet estimator, data-driven h), ``baselines.quantile_rd`` on the
pooled workers at r3d's h, and ``baselines.unit_mean_rd`` (each firm's mean wage). With this
many firms the sampling error is small (standard error of the R3D estimate about 0.04), so
each estimate sits on its own target.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from r3d_teach import r3d  # noqa: E402
from r3d_teach.simulate import HeterogeneousShape  # noqa: E402
from r3d_teach.simulate.baselines import quantile_rd, unit_mean_rd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "book" / "figures" / "intro_shortcuts.png"
DECILES = np.arange(1, 10) / 10


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"output PNG (default {OUT.relative_to(ROOT)})")
    args = parser.parse_args(argv)

    design = HeterogeneousShape()
    grid = np.linspace(0.02, 0.98, 49)
    target = design.truth(grid)
    pooled_equal = design.pooled_truth(grid)
    mean_target = 2.0  # the LAQTE averaged over q: delta + (E sigma_1 - E sigma_0) * int Phi^{-1} = delta

    # one data set: 100,000 firms with 100 workers each
    sim = design.sample(100_000, 100, seed=1)
    res = r3d(sim.x, sim.y, quantiles=DECILES)
    h = float(res.h)
    qrd = quantile_rd(sim.x, sim.y, h=h, quantiles=DECILES)
    umean = unit_mean_rd(sim.x, sim.y, h=h).estimate
    # each estimate is within 4 standard errors of its own target (se of tau-hat about 0.04)
    assert np.all(np.abs(res.tau - design.truth(DECILES)) < 4 * res.se)
    assert np.all(np.abs(qrd.tau - design.pooled_truth(DECILES)) < 0.15)
    assert abs(umean - mean_target) < 0.15

    fig, ax = plt.subplots(figsize=(8, 4.4), constrained_layout=True)
    ax.plot(grid, target, color="black", lw=2.4, label=r"target: LAQTE $\tau(q)$ (the average firm)")
    ax.plot(grid, pooled_equal, color="C1", lw=2, ls="--", label="pooled quantile RD target (the mixture's quantiles)")
    ax.axhline(mean_target, color="C2", lw=2, ls="-.", label=r"unit-mean RD target: one number, $\int_0^1\tau(q)\,dq$")
    ax.plot(DECILES, res.tau, "o", color="black", ms=6, label="R3D estimate (one data set)")
    ax.plot(DECILES, qrd.tau, "x", color="C1", ms=8, mew=2, label="pooled quantile RD estimate (same data)")
    ax.plot([0.5], [umean], "D", color="C2", ms=7, label="unit-mean RD estimate (same data)")
    ax.set(xlabel="quantile level $q$", ylabel="effect on wages at the cutoff", xlim=(0, 1),
           title="Two shortcuts against the R3D target (treated firms: higher, more dispersed wages)")
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    plt.close(fig)

    at = {q: int(np.argmin(np.abs(grid - q))) for q in (0.1, 0.5, 0.9)}
    numbers = {
        "laqte": {q: round(float(target[j]), 3) for q, j in at.items()},
        "pooled_equal": {q: round(float(pooled_equal[j]), 3) for q, j in at.items()},
        "r3d_estimate": dict(zip((0.1, 0.5, 0.9), np.round(res.tau[[0, 4, 8]], 3).tolist())),
        "qrd_estimate": dict(zip((0.1, 0.5, 0.9), np.round(qrd.tau[[0, 4, 8]], 3).tolist())),
        "unit_mean_estimate": round(float(umean), 3),
        "h": round(h, 3),
        "r3d_se": dict(zip((0.1, 0.5, 0.9), np.round(res.se[[0, 4, 8]], 3).tolist())),
    }
    for k, v in numbers.items():
        print(f"{k}: {v}")
    print(f"wrote {args.out}")
    return numbers


if __name__ == "__main__":
    main()
