"""Sphinx extension for the API reference pages (``book/api.md``, ``book/api/*.md``).

The pages are written by hand only as far as their order and headings go; what they show is
generated from the library at build time, so a new public name appears without editing a page:

* ``{api-module} r3d_teach.locrand`` documents one module: its docstring, then every name of its
  ``__all__`` (``automodule`` with ``:members:``). A name whose object is documented on another
  module's entry (``r3d_teach.r3d`` is ``r3d_teach.core.estimator.r3d``) is documented once, at
  the first module in :data:`API_MODULES` that exports it, and listed with a link where it is
  re-exported.
* ``{api-summary} r3d_teach.locrand`` is a table of that module's ``__all__``, one line each
  (autosummary, no generated stub pages), each name linked to its entry.
* ``{command-help}`` prints the ``r3d`` command's ``--help`` texts.
* The library's docstrings are numpy-style with the description on the name's line
  (``x : (n,) running variable, one value per unit``); napoleon would read that text as a *type*.
  :func:`description_fields` moves it below the name before napoleon runs, so it renders as the
  parameter's description.
* A small style sheet (:data:`CSS`, written to ``_static/`` at the end of the build): the API
  pages' code wraps instead of scrolling, and a fit's summary table fits the page's column.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import re
import sys
import textwrap
import types

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.ext.autosummary import Autosummary
from sphinx.pycode import ModuleAnalyzer
from sphinx.util.docutils import SphinxDirective

#: every documented module, in the order of the pages; an object re-exported by several of them
#: is documented at the first
API_MODULES = (
    "r3d_teach",
    "r3d_teach.core.inputs",
    "r3d_teach.core.quantiles",
    "r3d_teach.core.kernels",
    "r3d_teach.core.bandwidth",
    "r3d_teach.core.locpoly",
    "r3d_teach.core.frechet",
    "r3d_teach.core.residuals",
    "r3d_teach.core.influence",
    "r3d_teach.core.dof",
    "r3d_teach.core.bootstrap",
    "r3d_teach.core.gini",
    "r3d_teach.core.options",
    "r3d_teach.core.results",
    "r3d_teach.core.summary",
    "r3d_teach.core.estimator",
    "r3d_teach.core.plotting",
    "r3d_teach.validity",
    "r3d_teach.locrand",
    "r3d_teach.rdplot",
    "r3d_teach.report",
    "r3d_teach.power",
    "r3d_teach.datasets",
    "r3d_teach.outofcore",
    "r3d_teach.cli",
    "r3d_teach.simulate",
    "r3d_teach.simulate.laws",
    "r3d_teach.simulate.baselines",
    "r3d_teach.simulate.montecarlo",
)

#: numpy docstring sections whose entries are "name : description"
FIELD_SECTIONS = ("Parameters", "Other Parameters", "Attributes", "Keyword Arguments")
#: numpy docstring sections written as prose
RETURN_SECTIONS = ("Returns", "Yields")
_UNDERLINE = re.compile(r"^-{3,}\s*$")
_FIELD = re.compile(r"^(?P<names>\*{0,2}[A-Za-z_][\w]*(?:\s*,\s*\*{0,2}[A-Za-z_][\w]*)*)\s+:\s+(?P<text>\S.*)$")


def public_names(modname: str) -> list[str]:
    """The module's ``__all__``, minus sub-modules (they have their own entries)."""
    mod = importlib.import_module(modname)
    return [n for n in getattr(mod, "__all__", []) if not isinstance(getattr(mod, n), types.ModuleType)]


def home(modname: str, name: str) -> str:
    """Where ``modname.name`` is documented: a class or function at the first module of
    API_MODULES that exports it; a constant at every module that exports it."""
    obj = getattr(importlib.import_module(modname), name)
    if not (inspect.isclass(obj) or inspect.isfunction(obj)):
        return modname
    for other in API_MODULES:
        if other == modname:
            break
        mod = importlib.import_module(other)
        if name in getattr(mod, "__all__", []) and getattr(mod, name, None) is obj:
            return other
    return modname


def _role(obj) -> str:
    if inspect.isclass(obj):
        return "class"
    if callable(obj):
        return "func"
    return "data"


def _is_data(obj) -> bool:
    return not (inspect.isclass(obj) or inspect.isfunction(obj) or inspect.isbuiltin(obj) or callable(obj))


def data_comment(modname: str, name: str) -> list[str]:
    """The ``#:`` comment above a constant, in the module that defines it."""
    obj = getattr(importlib.import_module(modname), name)
    root = modname.split(".")[0]
    mods = [modname] + sorted(m for m in sys.modules if m.startswith(root + ".") and m != modname)
    for m in mods:
        mod = sys.modules.get(m) or importlib.import_module(m)
        if getattr(mod, name, None) is not obj:
            continue
        try:
            docs = ModuleAnalyzer.for_module(m).find_attr_docs()
        except Exception:  # noqa: BLE001 - no source
            continue
        if ("", name) in docs:
            return [line for line in docs[("", name)] if line is not None]
    return []


#: values longer than this are not printed on the page
MAX_VALUE = 72


class ApiModule(SphinxDirective):
    """``{api-module} dotted.name``: automodule over ``__all__``, re-exports linked, not repeated;
    constants listed with their ``#:`` comment and, when short, their value."""

    required_arguments = 1

    def run(self):
        modname = self.arguments[0]
        if modname not in API_MODULES:
            raise self.error(f"{modname} is not in API_MODULES of {__name__}")
        mod = importlib.import_module(modname)
        names = public_names(modname)
        elsewhere = [(n, home(modname, n)) for n in names if home(modname, n) != modname]
        data = [n for n in names if _is_data(getattr(mod, n))]
        lines = [f".. automodule:: {modname}", "   :members:"]
        skip = [n for n, _ in elsewhere] + data
        if skip:
            lines.append("   :exclude-members: " + ", ".join(skip))
        lines.append("")
        for n in data:
            value = repr(getattr(mod, n))
            lines += [f".. py:data:: {n}", f"   :module: {modname}"]
            if len(value) <= MAX_VALUE and "\n" not in value:
                lines.append(f"   :value: {value}")
            lines.append("")
            lines += ["   " + c if c.strip() else "" for c in plain_text_markup(data_comment(modname, n))] + [""]
        if elsewhere:
            refs = ", ".join(f":py:{_role(getattr(mod, n))}:`{where}.{n} <{where}.{n}>`" for n, where in elsewhere)
            lines += [f"Also exported by ``{modname}``, documented above: {refs}.", ""]
        container = nodes.container(classes=["api-entries"])
        self.state.nested_parse(StringList(lines, source=self.get_source_info()[0]), self.content_offset, container)
        return [container]


class ApiSummary(Autosummary):
    """``{api-summary} dotted.name``: an autosummary table of the module's ``__all__``."""

    required_arguments = 1
    has_content = False
    option_spec = {}

    def run(self):
        modname = self.arguments[0]
        entries = [f"~{home(modname, n)}.{n}" for n in public_names(modname)]
        self.content = StringList(entries, source=self.get_source_info()[0])
        self.options["nosignatures"] = True
        self.arguments = []
        return super().run()

    def get_items(self, names):
        """A constant's line is its ``#:`` comment's first sentence (autosummary would show the
        docstring of its type: ``dict() -> new empty dictionary``)."""
        items = super().get_items(names)
        out = []
        for display, sig, summary, real in items:
            modname, _, name = real.rpartition(".")
            mod = sys.modules.get(modname)
            if mod is not None and _is_data(getattr(mod, name, None)):
                text = " ".join(plain_text_markup(data_comment(modname, name))).strip()
                summary = re.split(r"(?<=[.;])\s", text, maxsplit=1)[0] if text else ""
            out.append((display, sig, summary, real))
        return out


#: the width of the printed help (argparse wraps to it; longer example lines and prose are refilled)
HELP_WIDTH = 80


class CommandHelp(SphinxDirective):
    """``{command-help}``: ``r3d --help`` and the help of each sub-command, at :data:`HELP_WIDTH`
    columns (what a terminal of that width shows; commands too long for it are continued with a
    backslash, as a shell reads them)."""

    def run(self):
        from r3d_teach import cli

        saved = os.environ.get("COLUMNS")
        os.environ["COLUMNS"] = str(HELP_WIDTH)
        try:
            parser = cli.build_parser()
            texts = [("r3d --help", parser.format_help())]
            for action in parser._actions:
                if isinstance(action, argparse._SubParsersAction):
                    texts += [(f"r3d {name} --help", sub.format_help()) for name, sub in action.choices.items()]
        finally:
            if saved is None:
                os.environ.pop("COLUMNS", None)
            else:
                os.environ["COLUMNS"] = saved
        out = []
        for command, text in texts:
            body = fit_width(text.rstrip(), HELP_WIDTH)
            block = nodes.literal_block(body, f"$ {command}\n{body}")
            block["language"] = "text"
            out.append(block)
        return [nodes.container("", *out, classes=["api-entries"])]


def fit_width(text: str, width: int) -> str:
    """Lines of a help text within ``width``: a paragraph of prose is refilled, a long command line
    is continued on the next line (:func:`_continue`)."""
    out = []
    for block in text.split("\n\n"):
        lines = block.split("\n")
        if all(len(line) <= width for line in lines):
            out.append(block)
            continue
        if any(line.lstrip().startswith("r3d ") for line in lines):
            out.append("\n".join(part for line in lines for part in _continue(line, width)))
        else:
            indent = lines[0][:len(lines[0]) - len(lines[0].lstrip())]
            out.append(textwrap.fill(" ".join(line.strip() for line in lines), width,
                                     initial_indent=indent, subsequent_indent=indent))
    return "\n\n".join(out)


def _continue(line: str, width: int) -> list[str]:
    """A command line too long for ``width``: its comment on a line of its own above it, and the
    command broken before an option (``--flag value`` stays together), continued with `` \\``."""
    lead = line[:len(line) - len(line.lstrip())]
    parts = []
    if len(line) > width and "  # " in line:
        line, comment = line.split("  # ", 1)
        parts.append(f"{lead}# {comment.strip()}")
        line = line.rstrip()
    indent = lead + "      "
    while len(line) > width:
        cut = line.rfind(" --", len(indent), width - 1)
        if cut <= len(indent):
            break
        parts.append(line[:cut] + " \\")
        line = indent + line[cut:].lstrip()
    return parts + [line]


def numpy_sections(app, what, name, obj, options, lines: list[str]) -> None:
    """Adapt the library's numpy-style sections to napoleon (runs before it, in place).

    * In "Parameters" and "Attributes", "name : description" becomes "name" + the indented
      description (napoleon would read the text after the colon as a type); a paragraph after
      the entries gets a second blank line before it, which ends the section (napoleon's rule).
    * "Returns" and "Yields" hold prose ("DataFrame, one row per radius: ``radius, ...``"), not
      "type" + description: they become a ``:returns:`` field with the text as it is.
    """
    out: list[str] = []
    section = None
    i, n = 0, len(lines)

    def header(j):
        return j + 1 < n and lines[j].strip() and not lines[j].startswith(" ") and _UNDERLINE.match(lines[j + 1])

    while i < n:
        line = lines[i]
        if header(i):
            section = line.strip()
            if section in RETURN_SECTIONS:
                j, body = i + 2, []
                while j < n and not header(j):
                    body.append(lines[j])
                    j += 1
                while body and not body[-1].strip():
                    body.pop()
                while body and not body[0].strip():
                    body.pop(0)
                if body:
                    field = ":returns:" if section == "Returns" else ":Yields:"
                    out += ["", "", f"{field} {body[0].strip()}"]
                    out += ["    " + b if b.strip() else "" for b in body[1:]] + [""]
                i, section = j, None
                continue
            out += [line, lines[i + 1]]
            i += 2
            continue
        if section in FIELD_SECTIONS:
            m = _FIELD.match(line)
            if m:
                out += [m["names"], "    " + m["text"]]
                i += 1
                continue
            if line.strip() and not line.startswith(" ") and out and not out[-1].strip():
                out.append("")
                section = None
        out.append(line)
        i += 1
    lines[:] = plain_text_markup(out)


#: what rst reads as markup inside a line: inline literals, roles, interpreted text
_INLINE = re.compile(r"``.+?``|:[\w:+.-]+:`[^`]*`|`[^`]*`_{0,2}")
#: the start of a list item, a field, a directive or a doctest
_BLOCK_START = re.compile(r"^\s*([*+-]\s|\d+[.)]\s|#\.\s|:[^:]+:|\.\.\s|>>>)")


def _escape(text: str) -> str:
    """Formulas in prose: ``|x|`` is an absolute value, not a substitution, and ``V_`` a
    subscript, not a link; escape both outside inline literals and roles."""
    out, last = [], 0
    for m in _INLINE.finditer(text):
        out.append(_escape_plain(text[last:m.start()]))
        out.append(m.group(0))
        last = m.end()
    out.append(_escape_plain(text[last:]))
    return "".join(out)


def _escape_plain(text: str) -> str:
    text = text.replace("|", "\\|")
    return re.sub(r"(?<=\w)_(?!\w)", r"\\_", text)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def plain_text_markup(lines: list[str]) -> list[str]:
    """Prose formulas as the library writes them, rendered as written.

    * A formula set off as an indented block after a paragraph (a block quote to rst) becomes a
      literal block: its alignment is kept and nothing inside is read as markup.
    * Elsewhere, ``|`` and a word-final ``_`` are escaped (:func:`_escape`); doctests, literal
      blocks and directive bodies are left as they are.
    """
    out = list(lines)
    literal_indent = None  # inside a literal block / directive body / doctest: its parent indent
    doctest = False
    para_start = None  # index of the first line of the current paragraph
    for i, line in enumerate(out):
        if not line.strip():
            doctest = False
            para_start = None
            continue
        ind = _indent(line)
        if literal_indent is not None:
            if ind > literal_indent:
                continue
            literal_indent = None
        if doctest or line.lstrip().startswith(">>>"):
            doctest = True
            continue
        blank_before = i > 0 and not out[i - 1].strip()
        if blank_before:
            # previous paragraph: its first line and last line
            j = i - 1
            while j >= 0 and not out[j].strip():
                j -= 1
            if j >= 0:
                k = j
                while k > 0 and out[k - 1].strip():
                    k -= 1
                prev_ind = _indent(out[k])
                if (ind > prev_ind and not _BLOCK_START.match(out[k]) and not out[j].rstrip().endswith("::")
                        and not out[k].lstrip().startswith(">>>") and _indent(out[j]) == prev_ind):
                    out[j] = out[j].rstrip() + (":" if out[j].rstrip().endswith(":") else " ::")
                    literal_indent = prev_ind
                    continue
        if para_start is None:
            para_start = i
        if line.rstrip().endswith("::") or re.match(r"^\s*\.\.\s+[\w:-]+::", line):
            out[i] = _escape(line) if not line.lstrip().startswith("..") else line
            literal_indent = ind
            continue
        out[i] = _escape(line)
    return out


_PROSE = {}


def keep_prose(app, what, name, obj, options, lines: list[str]) -> None:
    """Attribute and property docstrings are prose: napoleon would take the text before a first
    colon for a type ("The right boundary curve's part φ^+ (n_r, M): ..."), so they are stored
    before napoleon runs and put back after it (:func:`restore_prose`)."""
    if what in ("attribute", "property", "data"):
        _PROSE[(what, name)] = list(lines)


def restore_prose(app, what, name, obj, options, lines: list[str]) -> None:
    saved = _PROSE.pop((what, name), None)
    if saved is not None:
        lines[:] = saved


def resolve_short_names(app, env, node, contnode):
    """A reference napoleon and the python domain could not resolve, in a docstring.

    * ``:func:`grid_weights``` written in a module whose object is documented elsewhere (under
      the name it is re-exported by): linked to the one documented object of that name.
    * A name that exists (importable, e.g. a module-private constant, a sub-module the pages do
      not document, ``numpy.ndarray``) but has no entry: shown as code, without a link.
    * Anything else (a name that does not exist, a stale module path) stays a warning.
    """
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip(".~")
    domain = env.get_domain("py")
    # canonical aliases (``r3d_teach.simulate.laws.NormalSide`` of ``r3d_teach.simulate.NormalSide``)
    # are the same entry
    matches = sorted(full for full, entry in domain.objects.items()
                     if (full == target or full.endswith("." + target)) and not entry.aliased)
    if matches:
        modname = node.get("py:module") or ""
        same = [m for m in matches if m.startswith(modname + ".")] if modname else []
        if len(same) == 1 or len(matches) == 1:
            full = same[0] if len(same) == 1 else matches[0]
            return domain.resolve_xref(env, node["refdoc"], app.builder, "obj", full, node, contnode)
    for candidate in _candidates(target, node.get("py:module"), node.get("py:class")):
        if _exists(candidate):
            return contnode
    return None


def _candidates(target: str, modname: str | None, classname: str | None) -> list[str]:
    out = []
    if modname:
        if classname:
            out.append(f"{modname}.{classname}.{target}")
        parts = modname.split(".")
        out += [".".join(parts[:k] + [target]) for k in range(len(parts), 0, -1)]
    out.append(target)
    return out


def _exists(dotted: str) -> bool:
    parts = dotted.split(".")
    for k in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:k]))
        except ImportError:
            continue
        except Exception:  # noqa: BLE001 - a module that fails to import is not a target
            return False
        try:
            for attr in parts[k:]:
                obj = getattr(obj, attr)
        except AttributeError:
            # a sub-module not imported yet
            try:
                importlib.import_module(dotted)
            except Exception:  # noqa: BLE001
                return False
        return True
    return False


#: the API pages' code (doctests, formulas, help texts) wraps instead of scrolling sideways; the
#: summary table of a fit (``R3DResult.summary()`` in a notebook: eleven columns) is set small
#: enough to fit the page's column, and scrolls rather than being cut where it does not; the
#: chapters' printed outputs wrap too (a long line of output is never cut at the column's edge)
CSS = """
.api-entries pre { white-space: pre-wrap; overflow-wrap: anywhere; font-size: 0.82em; }
div.cell_output pre { white-space: pre-wrap; overflow-wrap: anywhere; }
.api-entries dl.py > dt { overflow-wrap: anywhere; }
div.r3d-summary { overflow-x: auto; max-width: 100%; }
div.r3d-summary table.dataframe { font-size: 0.78em; }
"""


CSS_FILE = "r3d_book.css"


def write_css(app, exception):
    if exception is None and app.builder.format == "html":
        static = os.path.join(app.outdir, "_static")
        os.makedirs(static, exist_ok=True)
        with open(os.path.join(static, CSS_FILE), "w", encoding="utf-8") as f:
            f.write(CSS)


def setup(app):
    app.add_css_file(CSS_FILE)
    app.connect("build-finished", write_css)
    app.add_directive("api-module", ApiModule)
    app.add_directive("api-summary", ApiSummary)
    app.add_directive("command-help", CommandHelp)
    # napoleon turns the sections into fields at the default priority, 500
    app.connect("autodoc-process-docstring", numpy_sections, priority=400)
    app.connect("autodoc-process-docstring", keep_prose, priority=401)
    app.connect("autodoc-process-docstring", restore_prose, priority=600)
    app.connect("missing-reference", resolve_short_names)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
