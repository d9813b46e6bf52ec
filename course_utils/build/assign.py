"""``python -m course_utils.build``: build every lesson from its master notebook with otter-grader.

For each ``notebooks/masters/NN_name.ipynb`` (the source of truth: lesson, solutions, tests) it writes

- ``notebooks/NN_name.ipynb``: the student notebook (what Colab opens), solutions replaced by ``...``;
- ``notebooks/solutions/NN_name.ipynb``: the readable solutions (otter's markers removed), whose
  checks raise on failure so that CI notices a broken solution;
- ``course_utils/checks/NN_name/{student,autograder}/*.py``: the public and the full tests;

and stamps the Colab badge and setup cell (generated from ``course_utils.REPO``) into all three.
Each generated test file starts with a line saying where it comes from; the text above the
``check_all`` cell says what it runs (otter's says "all of the autograder tests": it runs the
public ones). A master that breaks the skeleton or the question rules (``skeleton``,
``questions``) is still built, and the build then fails with one line per problem.

``--check`` builds into a temporary folder and fails if anything committed differs; ``--run-tests``
lets otter execute the master and run its tests against the solutions while building. otter assign
runs in this process (importing otter costs most of a build's time: 8.6 of 8.9 s for one lesson,
profiled with cProfile), once for all lessons.
"""

from __future__ import annotations

import argparse
import filecmp
import re
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat

from ..exercises import read_test_file
from .skeleton import normalize, skeleton_problems, stamp_header

ROOT = Path(__file__).resolve().parent.parent.parent
MASTERS = ROOT / "notebooks" / "masters"
SOLUTION_MARKER = re.compile(r"^\s*# (BEGIN|END) SOLUTION\s*$")
SOLUTION_SUFFIX = re.compile(r"\s*# SOLUTION\s*$")


def strip_solution_markers(source: str) -> str:
    """Remove otter's ``# BEGIN/END SOLUTION`` lines and ``# SOLUTION`` suffixes, keep the code."""
    lines = [ln for ln in source.splitlines() if not SOLUTION_MARKER.match(ln)]
    return "\n".join(SOLUTION_SUFFIX.sub("", ln) for ln in lines)


def _write(nb, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = nbformat.writes(nb) + "\n"
    path.write_text(text, encoding="utf-8")


def generated_header(lesson: str) -> str:
    """The first line of every generated test file."""
    return (f"# generated from notebooks/masters/{lesson}.ipynb by python -m course_utils.build: "
            "edit the master\n")


CHECK_ALL_TEXT = "To double-check your work, the cell below will rerun all of the autograder tests."


def check_all_text(hidden: int) -> str:
    """What the markdown cell above ``grader.check_all()`` says (instead of otter's)."""
    return ("To double-check your work, the cell below runs every question's public checks again. "
            f"Grading also runs {hidden} hidden check{'s' if hidden != 1 else ''}, so a question "
            "can pass here and still lose its point.")


def _otter_assign(master: Path, dist: Path, run_tests: bool) -> None:
    """otter assign, in this process (see the module docstring), its chatter captured."""
    import contextlib
    import io

    from otter.assign import main as otter_assign

    chatter = io.StringIO()
    try:
        with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter):
            otter_assign(str(master), str(dist), no_pdfs=True, no_run_tests=not run_tests)
    except Exception as err:  # noqa: BLE001 - any failure of otter's: show it with its output
        raise SystemExit(f"otter assign failed for {master.name}: {type(err).__name__}: {err}\n"
                         f"{chatter.getvalue()}") from None


def _generated(nb, lesson: str, kind: str, hidden: int):
    stamp_header(nb, lesson, kind)
    for cell in nb.cells:
        if cell.cell_type == "markdown" and CHECK_ALL_TEXT in cell.source:
            cell.source = cell.source.replace(CHECK_ALL_TEXT, check_all_text(hidden))
        if kind == "solutions" and cell.cell_type == "code":
            cell.source = strip_solution_markers(cell.source)
    normalize(nb, lesson)
    return nb


def build_lesson(master: Path, out_root: Path, run_tests: bool = False) -> tuple[list[Path], list[str]]:
    """Build one lesson into ``out_root`` (the repository root, or a scratch copy for --check).

    Returns the files written and the master's skeleton problems (empty when fine)."""
    lesson = master.stem
    nb = nbformat.read(master, as_version=4)
    stamp_header(nb, lesson, "master")
    normalize(nb, lesson)
    problems = skeleton_problems(nb, lesson, "master")
    written = [out_root / "notebooks" / "masters" / master.name]
    _write(nb, written[0])
    with tempfile.TemporaryDirectory(prefix=f"assign-{lesson}-") as tmp:
        tmp_path = Path(tmp)
        _write(nb, tmp_path / master.name)
        _otter_assign(tmp_path / master.name, tmp_path / "dist", run_tests)
        dist = tmp_path / "dist"
        checks = out_root / "course_utils" / "checks" / lesson
        shutil.rmtree(checks, ignore_errors=True)
        for part in ("student", "autograder"):
            (checks / part).mkdir(parents=True)
            for test in sorted((dist / part / "tests").glob("*.py")):
                written.append(checks / part / test.name)
                written[-1].write_text(generated_header(lesson) + test.read_text(encoding="utf-8"),
                                       encoding="utf-8")
        hidden = sum(case.hidden for path in (checks / "autograder").glob("*.py")
                     for case in read_test_file(path).cases)
        for kind, source, target in (
                ("student", dist / "student", out_root / "notebooks"),
                ("solutions", dist / "autograder", out_root / "notebooks" / "solutions")):
            built = _generated(nbformat.read(source / master.name, as_version=4), lesson, kind, hidden)
            written.append(target / master.name)
            _write(built, written[-1])
            problems += [f"{kind} notebook: {p}" for p in skeleton_problems(built, lesson, kind)]
    return written, problems


def differences(built_root: Path, written: list[Path]) -> list[str]:
    """Files whose committed copy differs from a fresh build (or that the build no longer makes)."""
    diffs = []
    for path in written:
        rel = path.relative_to(built_root)
        committed = ROOT / rel
        if not committed.exists() or not filecmp.cmp(path, committed, shallow=False):
            diffs.append(str(rel))
    built_checks = {p.relative_to(built_root) for p in written if "checks" in p.parts}
    lessons = {p.parts[2] for p in built_checks}
    for lesson in lessons:
        for committed in (ROOT / "course_utils" / "checks" / lesson).rglob("*.py"):
            if committed.relative_to(ROOT) not in built_checks:
                diffs.append(f"{committed.relative_to(ROOT)} (no longer generated)")
    return diffs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course_utils.build",
        description="Generate student and solutions notebooks and the tests from the masters.",
    )
    parser.add_argument("lessons", nargs="*", help="lesson names or numbers, e.g. 04 (default: every master)")
    parser.add_argument("--check", action="store_true",
                        help="fail if the committed notebooks or tests are out of sync")
    parser.add_argument("--run-tests", action="store_true",
                        help="let otter execute each master and run its tests on the solutions")
    args = parser.parse_args(argv)
    masters = sorted(MASTERS.glob("*.ipynb"))
    if args.lessons:  # a full name or a unique start of one: 04, 04_production_serving
        chosen = {w: [m for m in masters if m.stem == w or m.stem.startswith(w)] for w in args.lessons}
        unknown = sorted(w for w, found in chosen.items() if len(found) != 1)
        if unknown:
            print(f"error: no single master notebook for {', '.join(unknown)} in {MASTERS} (there are: "
                  f"{', '.join(m.stem for m in masters)}); give a lesson's name or number", file=sys.stderr)
            return 2
        masters = sorted({found[0] for found in chosen.values()})
    if not args.check:
        failed = 0
        for master in masters:
            written, problems = build_lesson(master, ROOT, run_tests=args.run_tests)
            print(f"built {master.stem}: {len(written)} files")
            failed += _report(master, problems)
        return 1 if failed else 0
    with tempfile.TemporaryDirectory(prefix="assign-check-") as tmp:
        diffs, failed = [], 0
        for master in masters:
            written, problems = build_lesson(master, Path(tmp))
            diffs += differences(Path(tmp), written)
            failed += _report(master, problems)
    if diffs:
        print("Out of sync with the masters (run `python -m course_utils.build LESSON`):")
        print("\n".join(f"  {d}" for d in diffs))
    if diffs or failed:
        return 1
    print(f"{len(masters)} lesson(s) in sync with their masters")
    return 0


def _report(master: Path, problems: list[str]) -> int:
    """Print a master's problems (the files are written anyway); 1 if there were any."""
    if problems:
        print(f"{master.relative_to(ROOT)} breaks the course's rules (CONTRIBUTING.md):\n  - "
              + "\n  - ".join(problems), file=sys.stderr)
    return int(bool(problems))


if __name__ == "__main__":
    raise SystemExit(main())
