"""Kernels and their exact moment constants (book chapter 2).

Every kernel here is a symmetric probability density supported on [-1, 1] whose
restriction to [0, 1] is a polynomial in |u|:

* triangular   K(u) = 1 - |u|
* epanechnikov K(u) = 3/4 (1 - u^2)
* uniform      K(u) = 1/2

The window is inclusive (|u| <= 1), as in R3D 0.1.0: at |u| = 1 the triangular and
Epanechnikov kernels are 0 and the uniform kernel is 1/2.

Because K is a polynomial on each half-line, every moment integral the method needs
(Van Dijcke 2025, App. A-4.2; Calonico, Cattaneo and Titiunik 2014) is exact:

    Gamma_± = ∫_± K(u) r(u) r(u)' du,  Lambda_± = ∫_± u^{s+1} K(u) r(u) du,
    Psi_±   = ∫_± K(u)^2 r(u) r(u)' du,    r(u) = (1, u, ..., u^s)',

with ∫_+ over [0, 1] and ∫_- over [-1, 0].  From them

    c_B = e_ν' Gamma^{-1} Lambda           (bias constant of the ν-th coefficient)
    c_V = e_ν' Gamma^{-1} Psi Gamma^{-1} e_ν (variance constant).

Example
-------
>>> import numpy as np
>>> from r3d_teach.core.kernels import get_kernel, bias_variance_constants
>>> float(get_kernel("triangular")(np.array([0.5]))[0])
0.5
>>> cb, cv = bias_variance_constants("triangular", order=1, side="+")
>>> round(cb, 4), round(cv, 4)   # local-linear boundary constants for the triangular kernel
(-0.1, 4.8)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Kernel", "KERNELS", "get_kernel", "kernel_moments", "bias_variance_constants"]


@dataclass(frozen=True)
class Kernel:
    """A kernel K(u) = sum_j coef[j] |u|^j on |u| <= 1 (0 outside)."""

    name: str
    coef: tuple[float, ...]  # polynomial in |u|, increasing powers

    def __call__(self, u: np.ndarray) -> np.ndarray:
        a = np.abs(np.asarray(u, dtype=float))
        val = np.polynomial.polynomial.polyval(a, self.coef)
        return np.where(a <= 1.0, val, 0.0)

    def half_moment(self, k: int, squared: bool = False) -> float:
        """∫_0^1 t^k K(t) dt (or K(t)^2 when ``squared``), exact."""
        c = np.asarray(self.coef, dtype=float)
        if squared:
            c = np.polynomial.polynomial.polymul(c, c)
        j = np.arange(len(c))
        return float(np.sum(c / (k + j + 1.0)))


KERNELS: dict[str, Kernel] = {
    "triangular": Kernel("triangular", (1.0, -1.0)),
    "epanechnikov": Kernel("epanechnikov", (0.75, 0.0, -0.75)),
    "uniform": Kernel("uniform", (0.5,)),
}


def get_kernel(kernel: str | Kernel) -> Kernel:
    """Return the :class:`Kernel` named ``kernel`` ("triangular", "epanechnikov", "uniform")."""
    if isinstance(kernel, Kernel):
        return kernel
    if not isinstance(kernel, str) or kernel.lower() not in KERNELS:
        raise ValueError(
            f"kernel: unknown kernel {kernel!r}; choose one of {sorted(KERNELS)}"
        )
    return KERNELS[kernel.lower()]


def _side_sign(side: str) -> float:
    if side not in ("+", "-"):
        raise ValueError(f"side: must be '+' or '-', got {side!r}")
    return 1.0 if side == "+" else -1.0


def kernel_moments(kernel: str | Kernel, order: int, side: str, extra_power: int | None = None):
    """Exact one-sided moment matrices (Gamma, Psi, Lambda) for a fit of ``order``.

    Gamma[j, k] = ∫_± u^{j+k} K(u) du, Psi[j, k] = ∫_± u^{j+k} K(u)^2 du and
    Lambda[j] = ∫_± u^{j + extra_power} K(u) du (``extra_power`` defaults to order + 1).
    On the left side ("-") ∫_{-1}^0 u^k K(u) du = (-1)^k ∫_0^1 t^k K(t) dt by symmetry.
    """
    K = get_kernel(kernel)
    sgn = _side_sign(side)
    e = order + 1 if extra_power is None else extra_power
    idx = np.arange(order + 1)
    pw = idx[:, None] + idx[None, :]
    mom = np.array([K.half_moment(k) * sgn**k for k in range(2 * order + e + 1)])
    mom2 = np.array([K.half_moment(k, squared=True) * sgn**k for k in range(2 * order + 1)])
    gamma = mom[pw]
    psi = mom2[pw]
    lam = mom[idx + e]
    return gamma, psi, lam


def bias_variance_constants(kernel: str | Kernel, order: int, side: str, coefficient: int = 0):
    """Bias and variance constants of the ``coefficient``-th coefficient of a one-sided fit.

    For a local polynomial of order ``order`` the ν-th coefficient (ν = ``coefficient``) has
    bias ≈ h^{order+1-ν} c_B β_{order+1} and variance ≈ σ² c_V / (n f h^{1+2ν}), with
    c_B = e_ν'Γ⁻¹Λ and c_V = e_ν'Γ⁻¹ΨΓ⁻¹e_ν (Λ uses the power order + 1).
    """
    gamma, psi, lam = kernel_moments(kernel, order, side)
    ginv = np.linalg.inv(gamma)
    e = np.zeros(order + 1)
    e[coefficient] = 1.0
    cb = float(e @ ginv @ lam)
    cv = float(e @ ginv @ psi @ ginv @ e)
    return cb, cv
