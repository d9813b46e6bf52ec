"""The rules for graded questions, checked on each master by the build (``skeleton_problems``).

A master marks a question with otter's raw cells: ``# BEGIN QUESTION`` (with ``name:``), then
``# BEGIN SOLUTION`` / ``# END SOLUTION`` around the answer cells, ``# BEGIN TESTS`` / ``# END
TESTS`` around the test cells, ``# END QUESTION``. The rules (CONTRIBUTING.md):

- its first markdown cell is headed ``### Exercise N 🐢|🐕|🦁: title`` inside ``## Exercises``
  (numbered 1, 2, 3 ...) or ``#### Predict 🐢|🐕: question`` in the lesson (after the setup cell,
  before ``## Exercises``);
- its tests come after its answer cells (the student notebook's check cell is generated where
  the tests are);
- every ``assert`` in a test has a message (learners read it, hidden tests' too);
- every parameter of a test is defined by an untagged cell before the tests, so that grading,
  which skips the cells tagged ``otter_ignore``, still finds it;
- no untagged cell reads a name that only cells tagged ``otter_ignore`` define (the top level of
  a cell, and the whole of an answer cell, whose functions the tests call): under grading it would
  raise, and an answer would lose points it earned.

Each problem names the question, the cell (its index in the master) and the fix.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

LEVELS = ("🐢", "🐕", "🦁")
PREDICT_LEVELS = ("🐢", "🐕")
IGNORE_TAG = "otter_ignore"
EXERCISE = re.compile(r"^###\s+Exercise\s+(\d+)\s*(\S*)\s*:\s*\S")  # level checked apart
PREDICT = re.compile(r"^####\s+Predict\s*(\S*)\s*:\s*\S")


@dataclass
class Question:
    """One otter question of a master: where its cells are."""

    name: str
    begin: int
    end: int | None = None
    answers: list[int] = field(default_factory=list)
    tests: list[int] = field(default_factory=list)


def _raw(cell, marker: str) -> bool:
    return cell.cell_type == "raw" and cell.source.lstrip().upper().startswith(f"# {marker}")


def questions_of(nb) -> list[Question]:
    """The questions of a master, in order (cells between otter's raw markers)."""
    found: list[Question] = []
    current, block = None, None
    for index, cell in enumerate(nb.cells):
        if _raw(cell, "BEGIN QUESTION"):
            name = re.search(r"^\s*name:\s*(\S+)", cell.source, re.MULTILINE)
            current = Question(name.group(1) if name else f"<unnamed, cell {index}>", index)
            found.append(current)
        elif _raw(cell, "END QUESTION") and current:
            current.end, current, block = index, None, None
        elif _raw(cell, "BEGIN SOLUTION"):
            block = "answers"
        elif _raw(cell, "BEGIN TESTS"):
            block = "tests"
        elif _raw(cell, "END SOLUTION") or _raw(cell, "END TESTS"):
            block = None
        elif current and block and cell.cell_type == "code":
            getattr(current, block).append(index)
    return found


def _python(source: str) -> ast.Module | None:
    """The cell's code as Python (IPython magics turned into calls), or None if it does not parse."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return ast.parse(TransformerManager().transform_cell(source))
    except SyntaxError:
        return None


def bound_names(tree: ast.Module) -> set[str]:
    """Names a cell binds at top level: assignments, defs, classes, imports, for/with targets,
    walrus targets, a function's ``global`` names (``*`` when it star-imports: anything)."""
    names: set[str] = set()

    def targets(node) -> None:
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, (ast.Tuple, ast.List)):
            for element in node.elts:
                targets(element)
        elif isinstance(node, ast.Starred):
            targets(node.value)

    def visit(statements) -> None:
        for node in statements:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)  # and what it declares `global` (assumed called)
                names.update(n for g in ast.walk(node) if isinstance(g, ast.Global) for n in g.names)
                continue
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    names.add(alias.asname or alias.name.split(".")[0])
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    targets(target)
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
                targets(node.target)
            elif isinstance(node, (ast.For, ast.AsyncFor)):
                targets(node.target)
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    if item.optional_vars is not None:
                        targets(item.optional_vars)
            elif isinstance(node, ast.Try):
                for handler in node.handlers:
                    if handler.name:
                        names.add(handler.name)
            for child in ast.walk(node):
                if isinstance(child, ast.NamedExpr):
                    targets(child.target)
            for attr in ("body", "orelse", "finalbody"):
                visit(getattr(node, attr, []))
            for handler in getattr(node, "handlers", []):
                visit(handler.body)

    visit(tree.body)
    return names


def read_names(tree: ast.Module, deep: bool) -> set[str]:
    """Names a cell reads that it does not bind itself: at its top level (what runs when the cell
    runs) or, with ``deep``, inside its functions too (what an answer reads when a test calls it).
    Names bound anywhere in the cell (assignments, parameters, loop and comprehension targets,
    imports) are left out, so a name a function takes or makes is never counted."""
    own: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            own.add(node.id)
        elif isinstance(node, ast.arg):
            own.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            own.add(node.name)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            own.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            own.update(alias.asname or alias.name.split(".")[0] for alias in node.names)
    read: set[str] = set()

    def visit(node) -> None:
        if not deep and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda,
                                          ast.ClassDef)):
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            read.add(node.id)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return read - own


def _grading_read_problems(nb, questions: list[Question], defined: dict[int, set[str]]) -> list[str]:
    """Untagged cells that read a name only tagged cells (skipped when grading) define before them."""
    tests = {i for q in questions for i in q.tests}
    answers = {i for q in questions for i in q.answers}
    problems, untagged, tagged = [], set(), set()
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or (tree := _python(cell.source)) is None:
            continue
        if _tagged(cell):
            tagged |= bound_names(tree)
            continue
        if index not in tests and "*" not in untagged:
            only_tagged = sorted((read_names(tree, deep=index in answers) & tagged) - untagged)
            if only_tagged:
                problems.append(f"cell {index} reads `{only_tagged[0]}`, which only cells tagged "
                                "otter_ignore (skipped when grading) define before it: define it in an "
                                "untagged cell, or tag this cell otter_ignore too")
        untagged |= defined.get(index, set())
    return problems


def _tagged(cell) -> bool:
    return IGNORE_TAG in cell.metadata.get("tags", [])


def _heading_cell(nb, question: Question) -> int | None:
    """The question's heading: the first markdown cell inside it, else the one right before it."""
    end = question.end if question.end is not None else len(nb.cells)
    inside = next((i for i in range(question.begin, end) if nb.cells[i].cell_type == "markdown"), None)
    before = question.begin - 1
    if before < 0 or nb.cells[before].cell_type != "markdown":
        before = None
    for index in (inside, before):
        if index is not None and _heading_match(nb.cells[index]):
            return index
    return inside if inside is not None else before


def _heading_line(cell) -> str:
    """The cell's question heading (its last line that is one), else its last heading, else its
    first line."""
    lines = [ln.strip() for ln in cell.source.strip().splitlines()] or [""]
    questions = [ln for ln in lines if EXERCISE.match(ln) or PREDICT.match(ln)]
    headings = [ln for ln in lines if ln.startswith("#")]
    return (questions or headings or lines[:1])[-1]


def _heading_match(cell):
    line = _heading_line(cell)
    return EXERCISE.match(line) or PREDICT.match(line)


def _heading_problems(nb, question: Question, exercises_at: int | None, setup_at: int | None,
                      numbers: list[int]) -> list[str]:
    where = f"question {question.name!r} (cell {question.begin})"
    want = ("'### Exercise N 🐢|🐕|🦁: title' (inside '## Exercises') or '#### Predict 🐢|🐕: "
            "question' (in the lesson, before '## Exercises')")
    markdown = _heading_cell(nb, question)
    if markdown is None:
        return [f"{where}: give it a markdown cell, right before '# BEGIN QUESTION' or first inside "
                f"it, headed {want}"]
    first = _heading_line(nb.cells[markdown])
    exercise, predict = EXERCISE.match(first), PREDICT.match(first)
    in_exercises = exercises_at is not None and markdown > exercises_at
    if exercise:
        numbers.append(int(exercise.group(1)))
        problems = []
        if exercise.group(2) not in LEVELS:
            problems.append(f"{where}: cell {markdown} '{first}' needs a level after the number "
                            "(🐢, 🐕 or 🦁)")
        if not in_exercises:
            problems.append(f"{where}: cell {markdown} '{first}' is an exercise: move the question "
                            "inside '## Exercises', or make it a '#### Predict ...' where the idea is taught")
        return problems
    if predict:
        problems = []
        if predict.group(1) not in PREDICT_LEVELS:
            problems.append(f"{where}: cell {markdown} '{first}' needs the level 🐢 or 🐕 "
                            "(a prediction is never 🦁)")
        if in_exercises or (setup_at is not None and markdown < setup_at):
            problems.append(f"{where}: cell {markdown} '{first}' is a prediction: it belongs in the "
                            "lesson, after the setup cell and before '## Exercises'")
        return problems
    return [f"{where}: its markdown cell {markdown} has no question heading (found '{first[:60]}'): "
            f"head it {want}"]


def _assert_problems(nb, question: Question) -> list[str]:
    problems = []
    for index in question.tests:
        tree = _python(nb.cells[index].source)
        if tree is None:
            problems.append(f"question {question.name!r}: test cell {index} is not valid Python")
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Assert) and node.msg is None:
                problems.append(
                    f"question {question.name!r}: test cell {index}, line {node.lineno}: "
                    f"`assert {ast.unparse(node.test)[:60]}` has no message; add one that says "
                    "what is wrong and how to fix it, without giving the expected value")
    return problems


def _parameter_problems(nb, question: Question, defined: dict[int, set[str]]) -> list[str]:
    """Test parameters that no untagged cell before the tests defines (``defined``: cell -> names)."""
    problems = []
    first_test = min(question.tests)
    available = set().union(*(names for i, names in defined.items() if i < first_test))
    if "*" in available:
        return []
    for index in question.tests:
        tree = _python(nb.cells[index].source)
        for node in getattr(tree, "body", []):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for arg in [a.arg for a in node.args.args + node.args.kwonlyargs]:
                if arg == "env" or arg in available:
                    continue
                tagged = [i for i, c in enumerate(nb.cells[:first_test]) if c.cell_type == "code"
                          and _tagged(c) and arg in bound_names(_python(c.source) or ast.Module([], []))]
                why = (f"only cell {tagged[-1]}, tagged otter_ignore (skipped when grading), defines it: "
                       "define it in an untagged cell" if tagged
                       else "no cell before the tests defines it: define it, or drop the parameter")
                problems.append(f"question {question.name!r}: test `{node.name}` (cell {index}) takes "
                                f"`{arg}`, but {why}")
    return problems


def question_problems(nb, exercises_at: int | None, setup_at: int | None) -> list[str]:
    """Every rule above, on a master; ``exercises_at``/``setup_at``: where those cells are."""
    questions = questions_of(nb)
    tests = {i for q in questions for i in q.tests}
    defined = {i: bound_names(tree) for i, cell in enumerate(nb.cells)
               if cell.cell_type == "code" and i not in tests and not _tagged(cell)
               and (tree := _python(cell.source)) is not None}
    problems, numbers = [], []
    for question in questions:
        where = f"question {question.name!r} (cell {question.begin})"
        if question.end is None:
            problems.append(f"{where}: no '# END QUESTION' raw cell closes it")
        problems += _heading_problems(nb, question, exercises_at, setup_at, numbers)
        if not question.answers:
            problems.append(f"{where}: no answer cell: put one between '# BEGIN SOLUTION' and "
                            "'# END SOLUTION' raw cells")
        if not question.tests:
            problems.append(f"{where}: no tests: put test cells between '# BEGIN TESTS' and "
                            "'# END TESTS' raw cells")
            continue
        if question.answers and min(question.tests) < max(question.answers):
            problems.append(f"{where}: its tests (cell {min(question.tests)}) come before its answer "
                            f"(cell {max(question.answers)}): move '# BEGIN TESTS' after the answer, "
                            "since the check cell is generated where the tests are")
        problems += _assert_problems(nb, question)
        problems += _parameter_problems(nb, question, defined)
    problems += _grading_read_problems(nb, questions, defined)
    if numbers and numbers != list(range(1, len(numbers) + 1)):
        problems.append(f"exercises are numbered {numbers}: number them 1, 2, 3 ... in order")
    return problems
