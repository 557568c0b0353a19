"""A printable summary of a fit or of a bandwidth selection: header lines, a per-quantile table
and the tests, rendered once (text in a terminal, HTML in a notebook).

Example
-------
>>> import pandas as pd
>>> from r3d_teach.core.summary import Summary
>>> s = Summary(header=["R3D (sharp)"], table=pd.DataFrame({"q": [0.5], "tau": [1.25]}), tests=pd.DataFrame())
>>> print(s)
R3D (sharp)
     q    tau
0.5000 1.2500
"""
from __future__ import annotations

import html
from dataclasses import dataclass

import pandas as pd

__all__ = ["Summary"]


@dataclass
class Summary:
    """A fit's summary: header lines, the per-quantile table and the tests.  ``str()`` gives
    text, notebooks render ``_repr_html_`` (once), ``to_frame()`` returns the table."""

    header: list
    table: pd.DataFrame
    tests: pd.DataFrame
    gini: dict | None = None

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def __str__(self) -> str:
        with pd.option_context("display.float_format", "{:.4f}".format, "display.width", 120):
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
