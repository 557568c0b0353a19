r"""The tables of an R3D paper: the main table (effects, standard errors, intervals, bands, design
and tests) and the appendix table of validity checks, as DataFrames, LaTeX (booktabs) and
Markdown.

**Main table.** One row per reported level q (default: the deciles on the fit's grid):
:math:`\hat\tau(q)`, its robust standard error, the pointwise confidence interval
(``conf_int(kind="pointwise")``) and the uniform band at those levels (``conf_int(kind="uniform")``;
both bands when two are available, see :func:`report_table`). Below it (panel B): the bandwidths h
and b, the units with positive kernel weight on each side, the bootstrap tests' p-values (nullity
:math:`H_0: \tau(q) = 0` for all q; homogeneity :math:`H_0: \tau(q)` constant in q; the Gini test
when run), and the local-randomization p-value when a :class:`~r3d_teach.locrand.RandInfResult` is
given. Notes under the table state what was fitted: design, method, orders, kernel, the variance
estimator, the bands' type, B and the level.

**Appendix table.** One row per check and setting, from the DataFrames of
:mod:`r3d_teach.validity` (density test, covariate balance, placebo cutoffs, donut, bandwidth
sensitivity) and the window of :func:`r3d_teach.locrand.select_window`: what was checked, the
setting, the reported quantity and its value, its standard error, the p-value and the units on
each side.

Numbers in the DataFrames are the results' own fields, unrounded; the LaTeX and Markdown texts
round them to ``digits`` decimals (p-values below 0.001 as "<0.001"). The LaTeX needs the
``booktabs`` package; text from the data (covariate names) is escaped. Nothing beyond NumPy and
pandas is used to write them.

Example
-------
>>> import numpy as np
>>> from r3d_teach import r3d
>>> from r3d_teach.report import report_table
>>> rng = np.random.default_rng(0)
>>> x = rng.uniform(-1, 1, 400)
>>> y = [rng.normal(x_i + 0.5 * (x_i >= 0), 1, 60) for x_i in x]
>>> res = r3d(x, y, quantiles=np.arange(1, 10) / 10, n_boot=199, seed=1)
>>> tab = report_table(res)
>>> bool((tab.main["tau"] == res.tau).all())          # the fit's own numbers
True
>>> print(tab.to_markdown().splitlines()[0])           # doctest: +ELLIPSIS
| q | τ̂(q) | s.e. | 95% CI (pointwise) | 95% uniform band (...) |
>>> "\\toprule" in tab.to_latex()
True
"""
from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm

from .core.results import R3DResult
from .locrand import RandInfResult, WindowSelection

__all__ = ["report_table", "ReportTables", "BAND_TYPES", "latex_escape", "markdown_escape"]

#: band types a fit may carry (``getattr(result, "band", "unweighted")``); when a fit's
#: ``conf_int`` takes ``band=``, every type it knows is reported
BAND_TYPES = ("studentized", "unweighted")
#: the columns of the appendix table
APPENDIX_COLUMNS = ["check", "setting", "quantity", "value", "se", "p_value", "n_left", "n_right"]

_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    r"""Text for LaTeX: the ten special characters escaped.

    >>> print(latex_escape("share_women (%)"))
    share\_women (\%)
    """
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def markdown_escape(text: str) -> str:
    r"""Text for a Markdown table cell: pipes, backslashes, asterisks and underscores escaped.

    >>> print(markdown_escape("a|b_c"))
    a\|b\_c
    """
    return re.sub(r"([\\|*_])", r"\\\1", str(text))


# ----------------------------------------------------------------------------------------------
# what the fit offers
# ----------------------------------------------------------------------------------------------
def _levels(q: np.ndarray, at) -> np.ndarray:
    """Indices of the reported levels: ``at``, or the deciles on the grid (the whole grid when it
    has at most 15 points; nine evenly spread levels when fewer than three deciles are on it)."""
    if at is None:
        if q.size <= 15:
            return np.arange(q.size)
        hit = np.isclose(q[:, None], np.arange(1, 10)[None, :] / 10, rtol=0, atol=1e-9).any(axis=1)
        if hit.sum() >= 3:
            return np.flatnonzero(hit)
        return np.unique(np.linspace(0, q.size - 1, 9).round().astype(int))
    a = np.atleast_1d(np.asarray(at, dtype=float))
    if a.ndim != 1 or a.size == 0 or not np.all(np.isfinite(a)):
        raise ValueError("at: must be a non-empty 1-D sequence of quantile levels")
    hit = np.isclose(q[None, :], a[:, None], rtol=0, atol=1e-9)
    missing = a[~hit.any(axis=1)]
    if missing.size:
        raise ValueError(f"at: the level(s) {missing.tolist()} are not on the fit's grid (it has {q.size} levels "
                         f"from {q.min():g} to {q.max():g})")
    return hit.argmax(axis=1)


def _band_name(res) -> str:
    """The fit's band type: its ``band`` field ("studentized" or "unweighted"); fits without the
    field (or with it unset) have the unweighted band."""
    return str(getattr(res, "band", None) or "unweighted")


def _bands(res: R3DResult, other: R3DResult | None) -> dict:
    """Every uniform band available: name -> (lower, upper, B) on the whole grid.

    The fit's own band (``conf_int(kind="uniform")``, named by ``res.band``, "unweighted" when the
    fit has no such field); every other type of :data:`BAND_TYPES` when the fit's ``conf_int``
    takes ``band=``; and the band of ``other``, a second fit of the same data with the other type.
    """
    out = {}
    if res.n_boot:
        ci = res.conf_int(kind="uniform")
        out[_band_name(res)] = (ci["lower"].to_numpy(), ci["upper"].to_numpy(), res.n_boot)
    if res.n_boot and "band" in inspect.signature(res.conf_int).parameters:
        for name in BAND_TYPES:
            if name not in out:
                try:
                    ci = res.conf_int(kind="uniform", band=name)
                except (ValueError, KeyError):  # a type this fit cannot give
                    continue
                out[name] = (ci["lower"].to_numpy(), ci["upper"].to_numpy(), res.n_boot)
    if other is not None:
        name = _band_name(other)
        if name in out:
            raise ValueError(f"other_band: its band type {name!r} is the one the main fit already reports; pass a "
                             "fit with the other band type")
        ci = other.conf_int(kind="uniform")
        out[name] = (ci["lower"].to_numpy(), ci["upper"].to_numpy(), other.n_boot)
    return out


def _check_other(res: R3DResult, other) -> None:
    if other is None:
        return
    if not isinstance(other, R3DResult):
        raise TypeError(f"other_band: must be an R3DResult (a second fit of the same data), got {type(other).__name__}")
    if not other.n_boot:
        raise ValueError("other_band: was fitted without the bootstrap (n_boot = 0); it has no uniform band")
    same = (other.quantiles.shape == res.quantiles.shape and np.allclose(other.quantiles, res.quantiles, rtol=0,
                                                                         atol=1e-12)
            and np.allclose(other.tau, res.tau, rtol=1e-10, atol=1e-12 * max(1.0, float(np.max(np.abs(res.tau))))))
    if not same or other.alpha != res.alpha:
        raise ValueError("other_band: must be a fit of the same data, grid, options and alpha as result (its tau "
                         "or alpha differ); only the band type may differ")


def _test_rows(res: R3DResult) -> list:
    rows = []
    t = res.tests
    if t is None or not len(t):
        return rows
    names = {"nullity": "Nullity test, p-value", "homogeneity": "Homogeneity test, p-value",
             "gini": "Gini test, p-value"}
    counts = t["test"].value_counts()
    for _, r in t.iterrows():
        label = names.get(r["test"], f"{r['test']} test, p-value")
        if counts[r["test"]] > 1:
            label += f" (q in {r['range']})"
        rows.append((label, float(r["p_value"]), "p"))
    return rows


def _uniform_half(lower: np.ndarray, upper: np.ndarray) -> str:
    half = (upper - lower) / 2
    return "the same half-width at every q" if np.allclose(half, half[0], rtol=1e-9, atol=0) else \
        "a half-width that varies with q"


def _notes(res: R3DResult, bands: dict) -> list[str]:
    opts = getattr(res.diagnostics, "options", None) or {}
    s = opts.get("s", res.p - 1)
    level = f"{100 * (1 - res.alpha):g}%"
    design = "Fuzzy" if res.fuzzy else "Sharp"
    notes = [f"{design} R3D at the cutoff c = {res.cutoff:g} ({res.n_units} units): method = {res.method}, "
             f"local polynomial of order {s} at h, bias-corrected by order {res.p} at b (robust bias correction), "
             f"{res.kernel} kernel."]
    resid = opts.get("residuals")
    se = "Standard errors: robust, from the units' influence terms"
    se += f" with {resid.upper() if resid in ('hc2', 'hc3') else resid} residuals" if resid else ""
    se += f", clustered ({res.n_clusters} clusters)." if res.n_clusters is not None else "."
    notes.append(se)
    pw = res.conf_int(kind="pointwise")
    half = ((pw["upper"] - pw["lower"]) / 2).to_numpy()
    nu = getattr(res, "t_dof", None)
    mult = res.pointwise_quantile(res.alpha) if hasattr(res, "pointwise_quantile") else norm.ppf(1 - res.alpha / 2)
    by_se = np.allclose(half, mult * res.se, rtol=1e-9, atol=0)
    ref = "z" if nu is None else f"t(ν = {nu:.3g}) quantile"
    notes.append(f"Pointwise {level} CI: estimate ± {ref} × " + ("its standard error." if by_se else
                                                                "the bootstrap standard deviation."))
    for name, (lo, hi, B) in bands.items():
        notes.append(f"Uniform {level} band ({name}): multiplier bootstrap, B = {B} draws, "
                     f"over all {res.quantiles.size} levels of the grid, {_uniform_half(lo, hi)}.")
    if res.n_boot:
        notes.append(f"Tests: multiplier-bootstrap sup tests, B = {res.n_boot}; p-values from the same draws.")
    else:
        notes.append("No bootstrap (n_boot = 0): no tests" + ("." if bands else " and no uniform band."))
    if res.fuzzy:
        fs = res.first_stage
        notes.append(f"First stage: jump {fs.jump:.3f} (s.e. {fs.se:.3f}) in P(T = 1 | x) at the cutoff; "
                     "the effects are ratios to it.")
    return notes


# ----------------------------------------------------------------------------------------------
# the appendix
# ----------------------------------------------------------------------------------------------
def _frame(v, name: str, fun: str, cols: Sequence[str]) -> pd.DataFrame:
    if not isinstance(v, pd.DataFrame) or not set(cols) <= set(v.columns):
        raise TypeError(f"{name}: must be the DataFrame returned by r3d_teach.validity.{fun}, got "
                        f"{type(v).__name__}")
    return v


def _appendix(density, balance, placebo, donut, sensitivity, window) -> pd.DataFrame:
    rows = []
    nan = np.nan
    if density is not None:
        d = _frame(density, "density", "manipulation_test", ["t_stat", "p_value", "h_left", "h_right"])
        for _, r in d.iterrows():
            rows.append(("Density of x (manipulation test)", f"h = {r['h_left']:.3g} (left), {r['h_right']:.3g} (right)",
                         "z_f = (f+ - f-)/se", r["t_stat"], nan, r["p_value"], r["n_eff_left"], r["n_eff_right"]))
    if balance is not None:
        b = _frame(balance, "balance", "covariate_balance", ["covariate", "estimate", "se", "p_value"])
        for _, r in b.iterrows():
            rows.append(("Covariate balance", str(r["covariate"]), "jump at the cutoff", r["estimate"], r["se"],
                         r["p_value"], r["n_left"], r["n_right"]))
    # the refits (placebo cutoffs, donut, bandwidth sensitivity): one row per setting, the mean of
    # tau over q and the nullity p-value
    refits = (
        (placebo, "placebo", "placebo_cutoffs", ["cutoff", "side"], "Placebo cutoff",
         lambda r: f"c = {r['cutoff']:g} ({r['side']} of the cutoff)"),
        (donut, "donut", "donut", ["radius", "n_excluded"], "Donut",
         lambda r: f"units within {r['radius']:.3g} of c left out ({int(r['n_excluded'])})"),
        (sensitivity, "sensitivity", "bandwidth_sensitivity", ["multiple", "h"], "Bandwidth sensitivity",
         lambda r: f"{r['multiple']:g} x h (h = {r['h']:.3g})"),
    )
    for table, arg, func, keys, check, setting in refits:
        if table is None:
            continue
        for _, r in _frame(table, arg, func, keys + ["mean_tau", "nullity_p"]).iterrows():
            rows.append((check, setting(r), "mean of tau over q", r["mean_tau"], nan, r["nullity_p"],
                         r["n_left"], r["n_right"]))
    if window is not None:
        if not isinstance(window, WindowSelection):
            raise TypeError("window: must be the WindowSelection returned by r3d_teach.locrand.select_window, got "
                            f"{type(window).__name__}")
        row = window._chosen()
        if row is None:
            rows.append(("Local-randomization window", "none (the smallest window fails)",
                         f"smallest balance p-value (level {window.level:g})", nan, nan,
                         float(window.table["p_value"].iloc[0]), nan, nan))
        else:
            rows.append(("Local-randomization window", f"[{window.window[0]:.4g}, {window.window[1]:.4g}]",
                         f"smallest balance p-value (level {window.level:g})", nan, nan, float(row["p_value"]),
                         int(row["n_left"]), int(row["n_right"])))
    out = pd.DataFrame(rows, columns=APPENDIX_COLUMNS)
    for col in ("value", "se", "p_value", "n_left", "n_right"):
        out[col] = out[col].astype(float)
    return out


# ----------------------------------------------------------------------------------------------
# the result and its texts
# ----------------------------------------------------------------------------------------------
def _num(v: float, digits: int, latex: bool) -> str:
    if v is None or not np.isfinite(v):
        return "--" if latex else "–"
    s = f"{v:.{digits}f}"
    if s.startswith("-") and float(s) == 0:
        s = s[1:]
    return ("$-$" + s[1:]) if (latex and s.startswith("-")) else s


def _pval(v: float, latex: bool) -> str:
    if v is None or not np.isfinite(v):
        return "--" if latex else "–"
    if v < 0.001:
        return "$<$0.001" if latex else "<0.001"
    return f"{v:.3f}"


def _count(v: float, latex: bool) -> str:
    return (("--" if latex else "–") if v is None or not np.isfinite(v) else f"{int(v)}")


@dataclass
class ReportTables:
    """Result of :func:`report_table`.

    ``main``: one row per level (``q, tau, se, ci_lower, ci_upper`` and, per uniform band,
    ``band_<type>_lower, band_<type>_upper``; with per-quantile bandwidths also ``h, b_left,
    b_right``); ``design``: panel B (``item, value, kind`` with kind "number", "count" or "p");
    ``appendix``: the checks (``check, setting, quantity, value, se, p_value, n_left, n_right``);
    ``notes``: the sentences under the main table; ``bands``: the band types reported; ``alpha``.
    ``to_latex()``, ``to_markdown()``, ``save(folder)``.
    """

    main: pd.DataFrame
    design: pd.DataFrame
    appendix: pd.DataFrame
    notes: list
    bands: list
    alpha: float
    digits: int = 3
    caption: str = "Distributional RD effects at the cutoff"
    appendix_caption: str = "Validity checks"
    label: str = "tab:r3d-main"
    appendix_label: str = "tab:r3d-appendix"
    appendix_notes: list = field(default_factory=list)

    def __repr__(self) -> str:
        return (f"ReportTables(levels={len(self.main)}, bands={self.bands}, design rows={len(self.design)}, "
                f"appendix rows={len(self.appendix)})")

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    # -------------------------------------------------------------- the main table's cells
    def _main_cells(self, latex: bool):
        lvl = f"{100 * (1 - self.alpha):g}" + (r"\%" if latex else "%")
        head = ["$q$" if latex else "q", r"$\hat\tau(q)$" if latex else "τ̂(q)", "s.e.", f"{lvl} CI (pointwise)"]
        head += [f"{lvl} uniform band ({b})" for b in self.bands]
        per_q_h = "h" in self.main.columns
        if per_q_h:
            head += ["$h$", "$b$ (left)", "$b$ (right)"]
        d = self.digits
        rows = []
        for _, r in self.main.iterrows():
            cells = [f"{r['q']:g}", _num(r["tau"], d, latex), _num(r["se"], d, latex),
                     f"[{_num(r['ci_lower'], d, latex)}, {_num(r['ci_upper'], d, latex)}]"]
            for b in self.bands:
                cells.append(f"[{_num(r[f'band_{b}_lower'], d, latex)}, {_num(r[f'band_{b}_upper'], d, latex)}]")
            if per_q_h:
                cells += [_num(r["h"], d, latex), _num(r["b_left"], d, latex), _num(r["b_right"], d, latex)]
            rows.append(cells)
        panel = []
        for _, r in self.design.iterrows():
            v = r["value"]
            txt = _pval(v, latex) if r["kind"] == "p" else _count(v, latex) if r["kind"] == "count" else \
                _num(v, d, latex)
            label = _LATEX_ITEMS.get(r["item"], latex_escape(r["item"])) if latex else markdown_escape(r["item"])
            panel.append((label, txt))
        return head, rows, panel

    def _appendix_cells(self, latex: bool):
        esc = latex_escape if latex else markdown_escape
        head = ["Check", "Setting", "Quantity", "Value", "s.e.", "p-value", "Units left", "Units right"]
        rows = []
        for _, r in self.appendix.iterrows():
            rows.append([esc(r["check"]), esc(r["setting"]), esc(r["quantity"]), _num(r["value"], self.digits, latex),
                         _num(r["se"], self.digits, latex), _pval(r["p_value"], latex), _count(r["n_left"], latex),
                         _count(r["n_right"], latex)])
        return head, rows

    # -------------------------------------------------------------- LaTeX
    def to_latex(self, which: str = "both") -> str:
        """booktabs LaTeX: ``which`` = "main", "appendix" or "both" (the appendix only when it has
        rows). Needs ``\\usepackage{booktabs}``."""
        which = _which(which)
        parts = []
        if which in ("main", "both"):
            head, rows, panel = self._main_cells(latex=True)
            k = len(head)
            lines = [r"\begin{table}[htbp]", r"\centering", rf"\caption{{{self.caption}}}", rf"\label{{{self.label}}}",
                     rf"\begin{{tabular}}{{l{'r' * 2}{'c' * (k - 3)}}}", r"\toprule", " & ".join(head) + r" \\",
                     r"\midrule", rf"\multicolumn{{{k}}}{{l}}{{\emph{{A. Effect by quantile level}}}} \\"]
            lines += [" & ".join(c) + r" \\" for c in rows]
            if panel:
                lines += [r"\midrule", rf"\multicolumn{{{k}}}{{l}}{{\emph{{B. Design and tests}}}} \\"]
                lines += [rf"\multicolumn{{3}}{{l}}{{{lab}}} & \multicolumn{{{k - 3}}}{{l}}{{{val}}} \\"
                          for lab, val in panel]
            lines += [r"\bottomrule", r"\end{tabular}"]
            lines += _latex_notes(self.notes)
            lines.append(r"\end{table}")
            parts.append("\n".join(lines))
        if which in ("appendix", "both") and len(self.appendix):
            head, rows = self._appendix_cells(latex=True)
            lines = [r"\begin{table}[htbp]", r"\centering", rf"\caption{{{self.appendix_caption}}}",
                     rf"\label{{{self.appendix_label}}}", r"\begin{tabular}{lllrrrrr}", r"\toprule",
                     " & ".join(head) + r" \\", r"\midrule"]
            lines += [" & ".join(c) + r" \\" for c in rows]
            lines += [r"\bottomrule", r"\end{tabular}"]
            lines += _latex_notes(self.appendix_notes)
            lines.append(r"\end{table}")
            parts.append("\n".join(lines))
        return "\n\n".join(parts) + ("\n" if parts else "")

    # -------------------------------------------------------------- Markdown
    def to_markdown(self, which: str = "both") -> str:
        """Markdown pipe tables (GitHub / MyST flavour): ``which`` = "main", "appendix" or "both"."""
        which = _which(which)
        parts = []
        if which in ("main", "both"):
            head, rows, panel = self._main_cells(latex=False)
            parts.append(_md_table(head, rows, ["---:"] * 3 + [":---:"] * (len(head) - 3)))
            if panel:
                parts.append(_md_table(["Design and tests", ""], [list(p) for p in panel], [":---", "---:"]))
            parts.append("*Notes:* " + " ".join(markdown_escape(n) for n in self.notes))
        if which in ("appendix", "both") and len(self.appendix):
            head, rows = self._appendix_cells(latex=False)
            parts.append(_md_table(head, rows, [":---"] * 3 + ["---:"] * 5))
            if self.appendix_notes:
                parts.append("*Notes:* " + " ".join(markdown_escape(n) for n in self.appendix_notes))
        return "\n\n".join(parts) + "\n"

    def save(self, folder, stem: str = "r3d") -> dict:
        """Write ``{stem}_main.tex``, ``{stem}_appendix.tex`` (when the appendix has rows),
        ``{stem}.md`` (both tables) and the DataFrames as ``{stem}_main.csv``,
        ``{stem}_design.csv``, ``{stem}_appendix.csv`` into ``folder`` (created if needed).
        Returns the paths by name."""
        if not isinstance(stem, str) or not stem or "/" in stem or "\\" in stem:
            raise ValueError(f"stem: must be a non-empty file name without a folder, got {stem!r}")
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"main_tex": out / f"{stem}_main.tex", "markdown": out / f"{stem}.md",
                 "main_csv": out / f"{stem}_main.csv", "design_csv": out / f"{stem}_design.csv"}
        paths["main_tex"].write_text(self.to_latex("main"), encoding="utf-8")
        paths["markdown"].write_text(self.to_markdown(), encoding="utf-8")
        self.main.to_csv(paths["main_csv"], index=False)
        self.design.to_csv(paths["design_csv"], index=False)
        if len(self.appendix):
            paths["appendix_tex"] = out / f"{stem}_appendix.tex"
            paths["appendix_csv"] = out / f"{stem}_appendix.csv"
            paths["appendix_tex"].write_text(self.to_latex("appendix"), encoding="utf-8")
            self.appendix.to_csv(paths["appendix_csv"], index=False)
        return paths


#: panel B's labels with LaTeX math
_LATEX_ITEMS = {"Bandwidth h": "Bandwidth $h$", "Bias-correction bandwidth b (left)": "Bias-correction bandwidth $b$ (left)",
                "Bias-correction bandwidth b (right)": "Bias-correction bandwidth $b$ (right)"}


def _which(which) -> str:
    if which not in ("main", "appendix", "both"):
        raise ValueError(f"which: must be 'main', 'appendix' or 'both', got {which!r}")
    return which


def _latex_notes(notes: list) -> list:
    if not notes:
        return []
    return [r"\par\smallskip", r"\begin{minipage}{0.95\linewidth}\footnotesize",
            r"\emph{Notes:} " + " ".join(_latex_note(n) for n in notes), r"\end{minipage}"]


def _latex_note(text: str) -> str:
    """A note for LaTeX: escaped, with its few symbols as math."""
    s = latex_escape(text)
    for a, b in (("±", r"$\pm$"), ("×", r"$\times$"), ("τ̂", r"$\hat\tau$"), ("τ", r"$\tau$")):
        s = s.replace(a, b)
    return s


def _md_table(head: list, rows: list, align: list) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def report_table(result: R3DResult, *, at=None, other_band: R3DResult | None = None,
                 randinf: RandInfResult | None = None, density: pd.DataFrame | None = None,
                 balance: pd.DataFrame | None = None, placebo: pd.DataFrame | None = None,
                 donut: pd.DataFrame | None = None, sensitivity: pd.DataFrame | None = None,
                 window: WindowSelection | None = None, digits: int = 3,
                 caption: str = "Distributional RD effects at the cutoff", label: str = "tab:r3d-main",
                 appendix_caption: str = "Validity checks", appendix_label: str = "tab:r3d-appendix") -> ReportTables:
    r"""The main table and the appendix table of an R3D study.

    Parameters
    ----------
    result : the :class:`~r3d_teach.R3DResult` to report (with ``n_boot > 0`` for the band and
        the tests).
    at : the levels to report (on the fit's grid); default: the deciles on the grid.
    other_band : optional second fit of the same data and options whose uniform band is of the
        other type (its ``band``, e.g. ``"unweighted"`` beside a studentized main fit): both bands
        are reported. A fit whose ``conf_int`` takes ``band=`` gives every type by itself.
    randinf : a :class:`~r3d_teach.locrand.RandInfResult`: its p-value (and window) in panel B.
    density, balance, placebo, donut, sensitivity : the DataFrames of
        :func:`~r3d_teach.validity.manipulation_test`, :func:`~r3d_teach.validity.covariate_balance`,
        :func:`~r3d_teach.validity.placebo_cutoffs`, :func:`~r3d_teach.validity.donut`,
        :func:`~r3d_teach.validity.bandwidth_sensitivity` (appendix rows).
    window : the :class:`~r3d_teach.locrand.WindowSelection` of
        :func:`~r3d_teach.locrand.select_window` (appendix row).
    digits : decimals of the texts (the DataFrames keep every digit).
    caption, label, appendix_caption, appendix_label : LaTeX caption (used as given: LaTeX may be
        written there) and label of each table.

    Returns
    -------
    :class:`ReportTables`

    Notes
    -----
    Each cell is a field of the inputs: ``tau``, ``se`` at the levels; ``conf_int(kind=
    "pointwise")`` and ``conf_int(kind="uniform")`` (at the fit's α); ``h``, ``b``, ``n_left``,
    ``n_right``, ``n_units``; the ``p_value`` of every row of ``tests``; ``p_value`` of
    ``randinf``; the validity tables' columns (see :data:`APPENDIX_COLUMNS`).
    """
    if not isinstance(result, R3DResult):
        raise TypeError(f"result: must be the R3DResult returned by r3d_teach.r3d, got {type(result).__name__}")
    if isinstance(digits, bool) or not isinstance(digits, (int, np.integer)) or not 0 <= digits <= 12:
        raise ValueError(f"digits: must be an integer from 0 to 12, got {digits!r}")
    for name, v in (("caption", caption), ("label", label), ("appendix_caption", appendix_caption),
                    ("appendix_label", appendix_label)):
        if not isinstance(v, str):
            raise TypeError(f"{name}: must be a string, got {type(v).__name__}")
    if randinf is not None and not isinstance(randinf, RandInfResult):
        raise TypeError(f"randinf: must be the RandInfResult returned by r3d_teach.locrand.randinf, got "
                        f"{type(randinf).__name__}")
    _check_other(result, other_band)
    q = result.quantiles
    idx = _levels(q, at)
    bands = _bands(result, other_band)

    pw = result.conf_int(kind="pointwise")
    cols = {"q": q[idx], "tau": result.tau[idx], "se": result.se[idx],
            "ci_lower": pw["lower"].to_numpy()[idx], "ci_upper": pw["upper"].to_numpy()[idx]}
    for name, (lo, hi, _) in bands.items():
        cols[f"band_{name}_lower"] = lo[idx]
        cols[f"band_{name}_upper"] = hi[idx]
    hh = np.broadcast_to(np.asarray(result.h, dtype=float), q.shape)
    bl = np.broadcast_to(np.asarray(result.b["-"], dtype=float), q.shape)
    br = np.broadcast_to(np.asarray(result.b["+"], dtype=float), q.shape)
    per_q = not (np.all(hh == hh[0]) and np.all(bl == bl[0]) and np.all(br == br[0]))
    if per_q:
        cols.update(h=hh[idx], b_left=bl[idx], b_right=br[idx])
    main = pd.DataFrame(cols)

    design = []
    if not per_q:
        design += [("Bandwidth h", float(hh[0]), "number"), ("Bias-correction bandwidth b (left)", float(bl[0]), "number"),
                   ("Bias-correction bandwidth b (right)", float(br[0]), "number")]
    design += [("Units in the window, left", result.n_left, "count"),
               ("Units in the window, right", result.n_right, "count"),
               ("Units, total", result.n_units, "count")]
    if result.n_clusters is not None:
        design.append(("Clusters", result.n_clusters, "count"))
    design += _test_rows(result)
    if randinf is not None:
        wl, wr = randinf.window
        design.append((f"Local randomization, p-value ({randinf.statistic_name}; window [{wl:.4g}, {wr:.4g}], "
                       f"{randinf.n_left} + {randinf.n_right} units)", float(randinf.p_value), "p"))
    design = pd.DataFrame(design, columns=["item", "value", "kind"])
    design["value"] = design["value"].astype(float)

    appendix = _appendix(density, balance, placebo, donut, sensitivity, window)
    app_notes = []
    if len(appendix):
        app_notes.append("Value: the statistic z_f of the density test (Cattaneo, Jansson and Ma), the jump of a "
                         "covariate at the cutoff (local polynomial, robust bias correction), or the mean of "
                         "tau(q) over the grid (placebo cutoffs, donut, bandwidth multiples; p-value of the "
                         "nullity test).")
        if window is not None:
            app_notes.append("Window: the largest window whose nested windows all balance the covariates "
                             "(rdwinselect); its p-value is the smallest balance p-value in it.")
    return ReportTables(main=main, design=design, appendix=appendix, notes=_notes(result, bands),
                        bands=list(bands), alpha=result.alpha, digits=int(digits), caption=caption,
                        appendix_caption=appendix_caption, label=label, appendix_label=appendix_label,
                        appendix_notes=app_notes)
