"""Sphinx extension: chapter numbers come from one place, the chapter titles.

Every chapter's title starts with its number ("9. Compulsory schooling ...") or its appendix
letter ("Appendix A. ..."). This extension makes everything else follow those titles, so that
moving a chapter changes one line:

* ``{chapter}`09_schooling_uk``` renders "chapter 9" as a link to that chapter, and
  ``{chapnum}`09_schooling_uk``` renders just "9" (for "chapters {chapnum}`02_...`–{chapnum}`05_...`"
  or a capital "Chapter {chapnum}`...`" at the start of a sentence). The target is the file name
  without its suffix (the name used in ``_toc.yml``, without ``book/``); an appendix renders as
  "appendix A". An unknown target, or a target whose title carries no number, is a build
  warning (so ``jupyter-book build -W`` fails on it).
* Exercises are numbered per chapter: the third exercise of chapter 9 is "Exercise 9.3"
  (sphinx-exercise numbers them through the whole book otherwise), and ``{ref}`` to an
  exercise's label shows that number.
"""

from __future__ import annotations

import re

from docutils import nodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxRole

logger = logging.getLogger(__name__)

#: "9. Title" -> "9"; "Appendix A. Title" -> "A"
_NUMBERED = re.compile(r"^\s*(?:(?P<num>\d+)|Appendix\s+(?P<app>[A-Z]))\.\s")
#: enumerable types numbered per chapter
PER_CHAPTER = ("exercise",)


class chapter_reference(nodes.Inline, nodes.Element):
    """Placeholder for a chapter reference, resolved once every title is known."""


def chapter_label(env, docname: str) -> tuple[str, str] | None:
    """(kind, label) of a document from its title: ("chapter", "9") or ("appendix", "A")."""
    title = env.titles.get(docname)
    if title is None:
        return None
    m = _NUMBERED.match(title.astext())
    if m is None:
        return None
    return ("chapter", m["num"]) if m["num"] else ("appendix", m["app"])


class ChapterRole(SphinxRole):
    """``{chapter}`target``` ("chapter N") and ``{chapnum}`target``` ("N")."""

    def __init__(self, number_only: bool):
        self.number_only = number_only

    def run(self):
        target = self.text.strip()
        node = chapter_reference(target=target, number_only=self.number_only, rawtext=self.rawtext)
        self.set_source_info(node)
        return [node], []


def _docname(env, fromdoc: str, target: str) -> str | None:
    """The document a target names: relative to the citing document's folder, or from the root."""
    folder = fromdoc.rsplit("/", 1)[0] + "/" if "/" in fromdoc else ""
    for cand in (folder + target, target, "book/" + target):
        if cand in env.all_docs:
            return cand
    return None


def resolve_chapter_references(app, doctree, fromdocname):
    env = app.builder.env
    for node in list(doctree.findall(chapter_reference)):
        target = node["target"]
        docname = _docname(env, fromdocname, target)
        label = chapter_label(env, docname) if docname else None
        if label is None:
            what = "no such document" if docname is None else "its title carries no chapter number"
            logger.warning(f"chapter reference {target!r}: {what}", location=node)
            node.replace_self(nodes.Text(target))
            continue
        kind, number = label
        text = number if node["number_only"] else f"{kind} {number}"
        ref = nodes.reference("", "", internal=True)
        try:
            ref["refuri"] = app.builder.get_relative_uri(fromdocname, docname)
        except Exception:  # builders without URIs (e.g. linkcheck): plain text
            node.replace_self(nodes.Text(text))
            continue
        ref += nodes.Text(text)
        node.replace_self(ref)


def number_exercises_per_chapter(app, env):
    """Renumber the enumerable types of ``PER_CHAPTER`` as (chapter, k), k = 1, 2, ... in the
    order Sphinx numbered them (document order); documents without a chapter number keep theirs."""
    for docname, types in env.toc_fignumbers.items():
        label = chapter_label(env, docname)
        if label is None:
            continue
        for typ in PER_CHAPTER:
            numbers = types.get(typ)
            if not numbers:
                continue
            order = sorted(numbers, key=lambda ident: numbers[ident])
            types[typ] = {ident: (label[1], k) for k, ident in enumerate(order, start=1)}
    return []


def setup(app):
    app.add_node(chapter_reference)
    app.add_role("chapter", ChapterRole(number_only=False))
    app.add_role("chapnum", ChapterRole(number_only=True))
    app.connect("doctree-resolved", resolve_chapter_references)
    # after Sphinx's own figure numbering (TocTreeCollector listens to env-get-updated)
    app.connect("env-get-updated", number_exercises_per_chapter, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
