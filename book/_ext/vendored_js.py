"""Sphinx extension: use the vendored MathJax / ipywidgets JavaScript when it is there.

``scripts/vendor_js.sh`` downloads MathJax 3.2.2, the ipywidgets HTML manager 1.0.6 and RequireJS
2.3.4 from the npm registry into ``book/_vendor/`` (git-ignored), and ``_config.yml`` points
``html_static_path``, ``mathjax_path`` and ``nb_ipywidgets_js`` at those files, so that the built
site shows typeset math and rendered widgets with no network.

If ``book/_vendor/`` is missing (nobody ran the script, or there is no Node.js/npm), this extension
switches the three settings back to the Sphinx/myst-nb defaults, which load the same files from
public CDNs, and prints a note in the build log. It is a note, not a warning, so that
``jupyter-book build . -W`` still succeeds; the browser test (tests/test_book.py) then reports that
math was not typeset when the browser has no network.
"""

from __future__ import annotations

from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

VENDOR_DIR = "book/_vendor"
REQUIRED = ("mathjax/tex-mml-chtml.js", "widgets/require.js", "widgets/embed-amd.js")


def _use_cdn_if_not_vendored(app, config):
    vendor = Path(app.confdir) / VENDOR_DIR
    missing = [f for f in REQUIRED if not (vendor / f).is_file()]
    if not missing:
        return
    from sphinx.ext.mathjax import MATHJAX_URL

    try:
        from myst_nb.core.config import ipywidgets_js_factory
    except ImportError:  # pragma: no cover - myst-nb is pinned
        ipywidgets_js_factory = dict

    static = [p for p in config.html_static_path if Path(p).as_posix().rstrip("/") != VENDOR_DIR]
    config.html_static_path = static
    config.mathjax_path = MATHJAX_URL
    config.nb_ipywidgets_js = ipywidgets_js_factory()
    logger.info(
        "[vendored_js] %s is missing %s: MathJax and the widget JavaScript will load from "
        "public CDNs. Run `bash scripts/vendor_js.sh` for a site that works offline.",
        VENDOR_DIR,
        ", ".join(missing),
        color="darkred",
    )


def setup(app):
    # priority < 500 so that it runs before myst-nb reads its configuration
    app.connect("config-inited", _use_cdn_if_not_vendored, priority=100)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
