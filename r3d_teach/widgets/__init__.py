"""Pure update functions behind the book's sliders (ipywidgets), one module per chapter.

Each function takes the slider values and returns plain data (arrays, numbers) or draws on a
given matplotlib Axes; it never touches ipywidgets, so it is tested headlessly.  The notebooks
wire them to sliders with ``ipywidgets.interact`` and always show a static figure as well.

Modules: :mod:`.quantiles_locpoly` (chapters 1–2), :mod:`.frechet_bandwidth` (3–4),
:mod:`.inference_fuzzy` (5–6), :mod:`.simulations` (7), :mod:`.application` (8). The data of the
chapters' sliders come from the designs of :mod:`r3d_teach.simulate`; the widgets only compute
and draw.

>>> from r3d_teach.widgets import quantiles_locpoly
>>> d = quantiles_locpoly.empirical_quantile_curves(n_draws=25, seed=4)
>>> d["q"].shape == d["linear"].shape == d["inverted_cdf"].shape
True
"""
