"""Build course editions of the book's notebooks: student notebooks WITHOUT the solutions and
instructor notebooks WITH them.

    python scripts/build_course_notebooks.py                      # every notebook in _toc.yml
    python scripts/build_course_notebooks.py book/13_theory.ipynb  # chosen notebooks
    python scripts/build_course_notebooks.py --execute            # and run every edition

Output: ``_build/course/student/NAME.ipynb`` and ``_build/course/instructor/NAME.ipynb`` (change
the folder with ``--out``). Both editions are stored without outputs and start with a one-line
banner that names the edition. With ``--execute`` each edition is run top to bottom (working
directory ``book/``, as in the book build) and the script fails if a cell fails: that catches a
student notebook that needs a variable only a solution defines.

What counts as a solution (the convention every chapter follows):

1. **Gated solutions**, sphinx-exercise's form for solutions that contain code cells: everything
   from the markdown line that opens a ``{solution-start}`` directive to the closing fence of the
   next ``{solution-end}`` directive, across any number of cells::

       ```{solution-start} ch13_ex1
       :class: dropdown
       ```
       (markdown and code cells of the solution)
       ```{solution-end}
       ```

   Text before the start directive and after the end directive in the same markdown cell stays.
2. **Solution directives** inside one markdown cell, ``{solution}`` fenced with backticks or
   colons (any fence length; fences nested inside it must be shorter, as Markdown requires).
3. **Cells tagged** ``solution`` (code or markdown), wherever they are.

Fenced code blocks that are not directives (```` ```python ````, ``~~~``) are opaque: a
directive written inside one, e.g. to document this convention, is text and stays. The student
edition drops solution material and any cell left empty; the instructor edition keeps every
cell. A ``{solution-start}`` without its ``{solution-end}`` (or the reverse) is an error naming
the notebook and the cell.

Notebooks that read files relative to ``book/`` (data, results) need those files next to them
when they are handed out; the library itself comes with ``pip install`` of this repository.
"""
from __future__ import annotations

import argparse
import copy
import re
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat.warnings import MissingIDFieldWarning

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "_build" / "course"
SOLUTION_TAG = "solution"
EDITIONS = ("student", "instructor")

_OPEN = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,}|:{3,})\s*(?P<info>.*)$")
_DIRECTIVE = re.compile(r"^\{(?P<name>[A-Za-z0-9_:.-]+)\}")
BANNER = {
    "student": "*Student edition of `{name}`: the exercises without their solutions.*",
    "instructor": "*Instructor edition of `{name}`: the exercises with their solutions.*",
}


class CourseError(ValueError):
    """A notebook that breaks the solution convention (the message names notebook and cell)."""


@dataclass
class Fence:
    char: str
    length: int
    kind: str  # "opaque" (code), "directive", "solution", "gated-start", "gated-end"


@dataclass
class Stripper:
    """Walks a notebook's cells in order; ``gated`` carries over between cells."""

    notebook: str
    gated_since: int | None = None
    removed: int = 0
    log: list = field(default_factory=list)

    @staticmethod
    def _closes(line: str, top: Fence) -> bool:
        """A closing fence: up to 3 spaces, then only the opening character, at least as many."""
        s = line.strip()
        return len(line) - len(line.lstrip(" ")) <= 3 and len(s) >= top.length and set(s) == {top.char}

    def markdown(self, text: str, cell: int) -> str:
        """The student text of one markdown cell (solution material removed)."""
        keep: list[str] = []
        stack: list[Fence] = []
        for line in text.split("\n"):
            drop = self.gated_since is not None or any(f.kind == "solution" for f in stack)
            top = stack[-1] if stack else None
            if top is not None and self._closes(line, top):
                stack.pop()
                if top.kind == "gated-end":
                    self.gated_since = None
                    self.removed += 1
                    drop = True
                elif top.kind in ("solution", "gated-start"):
                    drop = True
                if not drop:
                    keep.append(line)
                continue
            m = _OPEN.match(line)
            if m and (top is None or top.kind != "opaque"):
                d = _DIRECTIVE.match(m.group("info"))
                fence = m.group("fence")
                name = d.group("name") if d else None
                if name == "solution-start":
                    if self.gated_since is not None:
                        raise CourseError(f"{self.notebook}: cell {cell}: a second {{solution-start}} before the "
                                          f"{{solution-end}} of the one in cell {self.gated_since}")
                    self.gated_since = cell
                    stack.append(Fence(fence[0], len(fence), "gated-start"))
                    continue
                if name == "solution-end":
                    if self.gated_since is None:
                        raise CourseError(f"{self.notebook}: cell {cell}: {{solution-end}} without a {{solution-start}}")
                    stack.append(Fence(fence[0], len(fence), "gated-end"))
                    continue
                if name == "solution":
                    if not drop:
                        self.removed += 1
                    stack.append(Fence(fence[0], len(fence), "solution"))
                    continue
                stack.append(Fence(fence[0], len(fence), "directive" if d else "opaque"))
            if not drop:
                keep.append(line)
        if stack and any(f.kind in ("solution", "gated-start", "gated-end") for f in stack):
            raise CourseError(f"{self.notebook}: cell {cell}: a solution directive is not closed in this cell")
        return "\n".join(keep).strip("\n")


def _clean(cell) -> None:
    if cell.cell_type == "code":
        cell.outputs = []
        cell.execution_count = None


def _tags(cell) -> list:
    return list(cell.get("metadata", {}).get("tags", []))


def make_editions(nb, name: str = "notebook") -> tuple:
    """(student, instructor, number of solution blocks and cells removed) for one notebook."""
    nb = copy.deepcopy(nb)
    used = {c.get("id") for c in nb.cells}
    for idx, cell in enumerate(nb.cells):  # older notebooks may lack cell ids (nbformat < 4.5)
        if not cell.get("id"):
            cell["id"] = next(f"cell-{idx}-{k}" for k in range(len(nb.cells) + 1) if f"cell-{idx}-{k}" not in used)
            used.add(cell["id"])
    nb.nbformat, nb.nbformat_minor = 4, max(nb.get("nbformat_minor", 5), 5)
    instructor = copy.deepcopy(nb)
    student = copy.deepcopy(nb)
    st = Stripper(name)
    cells = []
    for idx, cell in enumerate(student.cells):
        if SOLUTION_TAG in _tags(cell):
            inside = st.gated_since is not None  # already part of a gated solution
            if cell.cell_type == "markdown":
                st.markdown(cell.source, idx)  # keeps the gated state right
            st.removed += 0 if inside else 1
            continue
        if cell.cell_type == "markdown":
            text = st.markdown(cell.source, idx)
            if not text.strip():
                continue
            cell.source = text
        elif st.gated_since is not None:
            continue
        cells.append(cell)
    if st.gated_since is not None:
        raise CourseError(f"{name}: cell {st.gated_since}: {{solution-start}} is never closed by {{solution-end}}")
    student.cells = cells
    for edition, book in (("student", student), ("instructor", instructor)):
        for cell in book.cells:
            _clean(cell)
        banner = nbformat.v4.new_markdown_cell(BANNER[edition].format(name=name))
        banner["id"] = f"course-{edition}-banner"
        book.cells.insert(0, banner)
        nbformat.validate(book)
    return student, instructor, st.removed


def toc_notebooks(root: Path = ROOT) -> list[Path]:
    """The notebooks listed in _toc.yml, in reading order (every book/*.ipynb if there is no toc)."""
    toc = root / "_toc.yml"
    if not toc.exists():
        return sorted((root / "book").glob("*.ipynb"))
    files = re.findall(r"^\s*-?\s*(?:file|root):\s*(\S+)\s*$", toc.read_text(), flags=re.M)
    return [root / f"{f}.ipynb" for f in files if (root / f"{f}.ipynb").exists()]


def execute(path: Path, cwd: Path, timeout: int = 600) -> None:
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()


def build(notebooks, out: Path = DEFAULT_OUT, run: bool = False, cwd: Path | None = None, quiet: bool = False) -> dict:
    """Write both editions of each notebook under ``out``; returns {name: solutions removed}."""
    out = Path(out)
    done = {}
    for edition in EDITIONS:
        (out / edition).mkdir(parents=True, exist_ok=True)
    for path in map(Path, notebooks):
        if path.suffix != ".ipynb" or not path.exists():
            raise CourseError(f"{path}: not an existing .ipynb file")
        with warnings.catch_warnings():  # missing cell ids are filled in by make_editions
            warnings.simplefilter("ignore", MissingIDFieldWarning)
            nb = nbformat.read(path, as_version=4)
        student, instructor, removed = make_editions(nb, path.name)
        for edition, book in (("student", student), ("instructor", instructor)):
            target = out / edition / path.name
            nbformat.write(book, target)
            if run:
                execute(target, cwd or path.parent)
        done[path.name] = removed
        if not quiet:
            print(f"{path.name}: {removed} solution block(s) removed from the student edition"
                  + (" (both editions executed)" if run else ""))
    return done


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Student (no solutions) and instructor (with solutions) "
                                                 "notebooks under _build/course/.")
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks (default: every notebook in _toc.yml)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default _build/course)")
    parser.add_argument("--execute", action="store_true", help="run both editions (working directory book/)")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or toc_notebooks()
    if not notebooks:
        print("build_course_notebooks: no notebooks found", file=sys.stderr)
        return 1
    try:
        build(notebooks, args.out, run=args.execute, cwd=ROOT / "book" if args.execute else None)
    except CourseError as exc:
        print(f"build_course_notebooks: error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {len(notebooks)} notebook(s) to {args.out / 'student'} and {args.out / 'instructor'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
