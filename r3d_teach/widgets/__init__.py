"""Pure update functions behind the book's sliders (ipywidgets), one module per chapter.

Each function takes the slider values and returns plain data (arrays, numbers) or draws on a
given matplotlib Axes; it never touches ipywidgets, so it is tested headlessly.  The notebooks
wire them to sliders with ``ipywidgets.interact`` and always show a static figure as well.

Modules: :mod:`.quantiles_locpoly` (chapters 1–2), :mod:`.frechet_bandwidth` (3–4),
:mod:`.inference_fuzzy` (5–6), :mod:`.simulations` (7), :mod:`.application` (8).
"""
