"""The book's conventions, checked on the sources (no build needed).

* Reading order equals file order: chapter files are ``NN_topic`` (NN = the chapter number, as in
  the title "# NN. Title") and appendices ``A1_topic`` ("# Appendix A. Title"), listed in the table
  of contents in that order, appendices after every chapter.
* Chapter and exercise numbers are never typed into the prose: ``{chapter}`09_schooling_uk```
  and ``{chapnum}`...``` take them from the titles (``book/_ext/chapters.py``), and ``{ref}`` to
  an exercise's label shows its per-chapter number ("Exercise 9.3").
* Students see a course: at most ``MAX_VISIBLE_ASSERT_CELLS`` code cells with an ``assert`` are
  shown on the site (the others carry the ``remove-cell`` or ``remove-input`` tag, and nbval still
  runs them), and warnings are filtered only by message or category.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
MAX_VISIBLE_ASSERT_CELLS = 40
HIDDEN_TAGS = {"remove-cell", "remove-input"}

CHAPTER = re.compile(r"^(?P<num>\d\d)_[a-z0-9_]+$")
APPENDIX = re.compile(r"^A(?P<num>\d)_[a-z0-9_]+$")


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [c["file"] for c in part.get("chapters", [])]
    files += [c["file"] for c in toc.get("chapters", [])]
    return files


def _notebooks() -> list[Path]:
    return sorted(BOOK.glob("*.ipynb"))


def _cells(path: Path, kind: str):
    for i, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
        if cell["cell_type"] == kind:
            yield i, "".join(cell["source"]), cell.get("metadata", {}).get("tags", [])


def _title(path: Path) -> str:
    if path.suffix == ".ipynb":
        text = next(src for _, src, _ in _cells(path, "markdown"))
    else:
        text = path.read_text(encoding="utf-8")
    return next(line for line in text.splitlines() if line.startswith("# "))


def _prose() -> list[tuple[str, str]]:
    """(where, text) of every markdown cell and markdown page of the book."""
    out = [(f"{p.name} cell {i}", src) for p in _notebooks() for i, src, _ in _cells(p, "markdown")]
    out += [(p.name, p.read_text(encoding="utf-8")) for p in sorted(BOOK.glob("*.md"))]
    return out


def test_titles_carry_the_file_number():
    for name in [f.split("/")[-1] for f in _toc_files()]:
        path = next(BOOK.glob(name + ".*"))
        title = _title(path)
        if m := CHAPTER.match(name):
            assert title.startswith(f"# {int(m['num'])}. "), f"{path.name}: title {title!r} does not start with its number"
        elif m := APPENDIX.match(name):
            letter = chr(ord("A") + int(m["num"]) - 1)
            assert title.startswith(f"# Appendix {letter}. "), f"{path.name}: title {title!r}"


def test_toc_lists_chapters_in_file_order_and_appendices_last():
    names = [f.split("/")[-1] for f in _toc_files()]
    numbered = [n for n in names if CHAPTER.match(n) or APPENDIX.match(n)]
    assert numbered == sorted(numbered), f"table of contents out of file order: {numbered}"
    on_disk = sorted(p.stem for p in _notebooks() if CHAPTER.match(p.stem) or APPENDIX.match(p.stem))
    assert numbered == on_disk, "every chapter file is in the table of contents, once"


#: "chapter 9", "Chapters 2 to 5", "exercise 2" typed into the prose (a citation of another book's
#: chapter, "({cite:t}`key`, Chapter 21)", is not one of ours)
TYPED = re.compile(r"(?<!`, )\b(chapters?|exercises?)\s+\d", re.IGNORECASE)


def test_no_chapter_or_exercise_number_typed_into_the_prose():
    hits = [(where, m.group(0), text[max(0, m.start() - 40):m.end() + 20].replace("\n", " "))
            for where, text in _prose() for m in TYPED.finditer(text)]
    assert not hits, "use {chapter}`file`, {chapnum}`file` or {ref}`exercise-label`:\n" + \
        "\n".join(f"  {w}: {h!r} in ...{c}..." for w, h, c in hits)


def test_few_assert_cells_are_visible():
    visible = [(p.name, i) for p in _notebooks() for i, src, tags in _cells(p, "code")
               if re.search(r"^\s*assert\b", src, re.MULTILINE) and not HIDDEN_TAGS & set(tags)]
    assert len(visible) <= MAX_VISIBLE_ASSERT_CELLS, f"{len(visible)} visible assert cells: {visible}"


#: a filter that silences every warning (no message=, category= or a positional category)
BLANKET = re.compile(r"(filterwarnings|simplefilter)\(\s*[\"']ignore[\"']\s*\)")


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.name)
def test_warnings_are_filtered_by_message_or_category(path):
    bad = [i for i, src, _ in _cells(path, "code") if BLANKET.search(src)]
    assert not bad, f"{path.name}: cells {bad} silence every warning; filter by message or category and say why"
