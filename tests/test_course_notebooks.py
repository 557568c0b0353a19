"""scripts/build_course_notebooks.py: student editions without solutions, instructor editions with
them, on a small synthetic notebook that uses every form of the convention (gated solutions
across cells, a one-cell {solution} directive, a cell tagged `solution`, and a directive quoted
inside a code fence that must stay)."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "build_course_notebooks.py"


def _load():
    spec = importlib.util.spec_from_file_location("build_course_notebooks", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while the class is created
    spec.loader.exec_module(mod)
    return mod


bc = _load()

GATED_START = "Intro text.\n\n```{exercise}\n:label: ex1\n\nCompute 6 x 7.\n```\n\n```{solution-start} ex1\n:class: dropdown\n```\n\nSECRET-MD-1: the answer is 42."
GATED_END = "SECRET-MD-2: as the cell above shows.\n\n```{solution-end}\n```\n\nAFTER-GATED text stays."
ONE_CELL = (
    "Before the second exercise.\n\n```{exercise}\n:label: ex2\n\nName a prime.\n```\n\n"
    "````{solution} ex2\n:class: dropdown\n\nSECRET-MD-3\n\n```python\nprint('SECRET-CODE-3')\n```\n````\n\n"
    ":::{solution} ex2\nSECRET-MD-4 in a colon fence\n:::\n\nAFTER-ONE-CELL text stays."
)
QUOTED = (
    "How to write a solution (this is documentation, not a solution):\n\n~~~markdown\n"
    "```{solution} ex9\nQUOTED-DIRECTIVE stays\n```\n~~~"
)


def _notebook():
    nb = nbformat.v4.new_notebook()
    cells = [
        nbformat.v4.new_markdown_cell("# A tiny chapter"),
        nbformat.v4.new_code_cell("base = 6"),
        nbformat.v4.new_markdown_cell(GATED_START),
        nbformat.v4.new_code_cell("answer = base * 7  # SECRET-CODE-1\nassert answer == 42"),
        nbformat.v4.new_markdown_cell(GATED_END),
        nbformat.v4.new_markdown_cell(ONE_CELL),
        nbformat.v4.new_code_cell("tagged = 'SECRET-CODE-2'"),
        nbformat.v4.new_markdown_cell(QUOTED),
        nbformat.v4.new_code_cell("print('student code runs', base + 1)"),
    ]
    cells[6].metadata["tags"] = ["solution", "hide-input"]
    cells[1].outputs = [nbformat.v4.new_output("stream", text="old output\n")]
    cells[1].execution_count = 3
    for i, c in enumerate(cells):
        c["id"] = f"c{i}"
    nb.cells = cells
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def _text(nb) -> str:
    return "\n".join(c.source for c in nb.cells)


def test_student_edition_drops_every_form_of_solution():
    student, instructor, removed = bc.make_editions(_notebook(), "tiny.ipynb")
    s = _text(student)
    assert "SECRET" not in s
    assert removed == 4  # one gated block, two one-cell directives, one tagged cell
    for kept in ("Intro text.", "Compute 6 x 7.", "AFTER-GATED text stays.", "Before the second exercise.",
                 "Name a prime.", "AFTER-ONE-CELL text stays.", "QUOTED-DIRECTIVE stays", "print('student code runs'"):
        assert kept in s, kept
    # the exercise directives themselves are complete (opening and closing fences kept)
    assert s.count("```{exercise}") == 2
    assert "{solution-start}" not in s and "{solution-end}" not in s
    # banner + 6 cells: heading, base, gated-start text, gated-end text, one-cell, quoted, last code
    assert [c.cell_type for c in student.cells] == ["markdown", "markdown", "code", "markdown", "markdown",
                                                    "markdown", "markdown", "code"]


def test_instructor_edition_keeps_everything_without_outputs():
    nb = _notebook()
    _, instructor, _ = bc.make_editions(nb, "tiny.ipynb")
    t = _text(instructor)
    for secret in ("SECRET-MD-1", "SECRET-CODE-1", "SECRET-MD-2", "SECRET-MD-3", "SECRET-CODE-3", "SECRET-MD-4",
                   "SECRET-CODE-2"):
        assert secret in t, secret
    assert len(instructor.cells) == len(nb.cells) + 1  # plus the banner
    assert "Instructor edition" in instructor.cells[0].source
    for cell in instructor.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    # the input notebook is not modified
    assert nb.cells[1].outputs and "SECRET-CODE-2" in nb.cells[6].source


@pytest.mark.parametrize("cells, message", [
    (["```{solution-start} ex1\n```\nno end"], "never closed"),
    (["```{solution-end}\n```"], "without a {solution-start}"),
    (["```{solution-start} a\n```", "```{solution-start} b\n```"], "second {solution-start}"),
    (["````{solution} ex1\nunclosed"], "not closed in this cell"),
])
def test_broken_conventions_are_errors_naming_the_cell(cells, message):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(c) for c in cells]
    with pytest.raises(bc.CourseError, match="broken.ipynb: cell [0-9]") as err:
        bc.make_editions(nb, "broken.ipynb")
    assert message in str(err.value)


def test_command_line_writes_both_editions_and_they_run(tmp_path):
    src = tmp_path / "book"
    src.mkdir()
    nbformat.write(_notebook(), src / "tiny.ipynb")
    out = tmp_path / "course"
    assert bc.main([str(src / "tiny.ipynb"), "--out", str(out)]) == 0
    student = nbformat.read(out / "student" / "tiny.ipynb", as_version=4)
    instructor = nbformat.read(out / "instructor" / "tiny.ipynb", as_version=4)
    nbformat.validate(student)
    nbformat.validate(instructor)
    assert "SECRET" not in json.dumps(student)
    assert "SECRET-CODE-1" in json.dumps(instructor)
    # both editions execute (the student one does not need the solutions' variables)
    done = bc.build([src / "tiny.ipynb"], out, run=True, cwd=src, quiet=True)
    assert done == {"tiny.ipynb": 4}


def test_missing_file_is_an_error(tmp_path, capsys):
    assert bc.main([str(tmp_path / "nope.ipynb"), "--out", str(tmp_path / "o")]) == 1
    assert "nope.ipynb: not an existing .ipynb file" in capsys.readouterr().err


def test_default_list_is_the_toc_notebooks(tmp_path):
    (tmp_path / "book").mkdir()
    for name in ("a", "b"):
        nbformat.write(nbformat.v4.new_notebook(), tmp_path / "book" / f"{name}.ipynb")
    (tmp_path / "book" / "intro.md").write_text("# intro\n")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n- file: book/b\n- file: book/a\n")
    assert [p.name for p in bc.toc_notebooks(tmp_path)] == ["b.ipynb", "a.ipynb"]


def test_cells_without_ids_get_ids():
    nb = _notebook()
    for cell in nb.cells:
        del cell["id"]
    nb.nbformat_minor = 4
    student, instructor, _ = bc.make_editions(nb, "old.ipynb")
    for book in (student, instructor):
        ids = [c["id"] for c in book.cells]
        assert len(set(ids)) == len(ids) and all(ids)
        nbformat.validate(book)
