"""A printable summary of a fit or of a bandwidth selection: header lines, a per-quantile table
and the tests, rendered once (text in a terminal, HTML in a notebook), and exported as LaTeX or
Markdown (small formatters here: no jinja2 or tabulate needed).

Example
-------
>>> import pandas as pd
>>> from r3d_teach.core.summary import Summary
>>> s = Summary(header=["R3D (sharp)"], table=pd.DataFrame({"q": [0.5], "tau": [1.25], "P>|z|": [0.01]}),
...             tests=pd.DataFrame())
>>> print(s)
R3D (sharp)
     q    tau  P>|z|
0.5000 1.2500 0.0100
>>> print(s.to_markdown())
**R3D (sharp)**
<BLANKLINE>
| q | tau | P>\\|z\\| |
|---:|---:|---:|
| 0.5000 | 1.2500 | 0.0100 |
>>> print(s.to_latex())
% R3D (sharp)
\\begin{tabular}{rrr}
\\hline
$q$ & $\\hat\\tau$ & $P>|z|$ \\\\
\\hline
0.5000 & 1.2500 & 0.0100 \\\\
\\hline
\\end{tabular}
"""
from __future__ import annotations

import html
import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Summary"]

#: column names typeset as mathematics in LaTeX
_LATEX_NAMES = {"q": "$q$", "tau": r"$\hat\tau$", "se": "se", "z": "$z$", "P>|z|": "$P>|z|$",
                "plus": r"$\hat m_+$", "minus": r"$\hat m_-$"}
_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  "|": r"\textbar{}", "<": r"\textless{}", ">": r"\textgreater{}"}


def _cell(v, digits: int) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, numbers.Integral):
        return str(int(v))
    if isinstance(v, numbers.Real):
        return "" if np.isnan(v) else f"{float(v):.{digits}f}"
    return str(v)


def _latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def _latex_table(df: pd.DataFrame, digits: int) -> list[str]:
    align = "".join("r" if pd.api.types.is_numeric_dtype(df[c]) else "l" for c in df.columns)
    head = " & ".join(_LATEX_NAMES.get(c, _latex_escape(c)) for c in df.columns)
    out = [f"\\begin{{tabular}}{{{align}}}", "\\hline", head + " \\\\", "\\hline"]
    for row in df.itertuples(index=False):
        out.append(" & ".join(_latex_escape(_cell(v, digits)) for v in row) + " \\\\")
    out += ["\\hline", "\\end{tabular}"]
    return out


def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|")


def _md_table(df: pd.DataFrame, digits: int) -> list[str]:
    out = ["| " + " | ".join(_md_escape(c) for c in df.columns) + " |",
           "|" + "|".join("---:" if pd.api.types.is_numeric_dtype(df[c]) else ":---" for c in df.columns) + "|"]
    for row in df.itertuples(index=False):
        out.append("| " + " | ".join(_md_escape(_cell(v, digits)) for v in row) + " |")
    return out


@dataclass
class Summary:
    """A fit's summary: header lines, the per-quantile table and the tests.  ``str()`` gives
    text, notebooks render ``_repr_html_`` (once: no text copy is printed beside it),
    ``to_frame()`` returns the table, ``to_latex()`` and ``to_markdown()`` export it."""

    header: list
    table: pd.DataFrame
    tests: pd.DataFrame
    gini: dict | None = None

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def __str__(self) -> str:
        with pd.option_context("display.float_format", "{:.4f}".format, "display.width", 160,
                               "display.max_columns", 40):
            parts = ["\n".join(self.header), self.table.to_string(index=False)]
            if len(self.tests):
                parts += ["Tests:", self.tests.to_string(index=False)]
        return "\n".join(parts)

    def __repr__(self) -> str:
        return self.__str__()

    def _repr_html_(self) -> str:
        head = "<br>".join(html.escape(h).replace("  ", "&nbsp;&nbsp;") for h in self.header)
        out = [f"<div class='r3d-summary'><p style='font-family:monospace'>{head}</p>",
               self.table.to_html(index=False, float_format="{:.4f}".format)]
        if len(self.tests):
            out += ["<p><b>Tests</b></p>", self.tests.to_html(index=False, float_format="{:.4f}".format)]
        out.append("</div>")
        return "\n".join(out)

    def to_latex(self, digits: int = 4) -> str:
        """The summary as LaTeX: the header lines as ``%`` comments, then a ``tabular`` of the
        per-quantile table and, if any, one of the tests (plain ``\\hline`` rules, no package
        needed); numbers with ``digits`` decimals."""
        out = ["% " + h.strip() for h in self.header]
        out += _latex_table(self.table, digits)
        if len(self.tests):
            out += ["", "% tests"] + _latex_table(self.tests, digits)
        return "\n".join(out)

    def to_markdown(self, digits: int = 4) -> str:
        """The summary as Markdown: the first header line in bold, the others as a list, then
        pipe tables of the per-quantile table and the tests; numbers with ``digits`` decimals."""
        out = [f"**{self.header[0].strip()}**", ""] if self.header else []
        rest = [f"- {h.strip()}" for h in self.header[1:]]
        if rest:
            out += rest + [""]
        out += _md_table(self.table, digits)
        if len(self.tests):
            out += ["", "**Tests**", ""] + _md_table(self.tests, digits)
        return "\n".join(out)
