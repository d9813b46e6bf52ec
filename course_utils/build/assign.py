"""``python -m course_utils.build``: build every lesson from its master notebook with otter-grader.

For each ``notebooks/masters/NN_name.ipynb`` (the source of truth: lesson, solutions, tests) it writes

- ``notebooks/NN_name.ipynb``: the student notebook (what Colab opens), solutions replaced by ``...``;
- ``notebooks/solutions/NN_name.ipynb``: the readable solutions (otter's markers removed), whose
  checks raise on failure so that CI notices a broken solution;
- ``course_utils/checks/NN_name/{student,autograder}/*.py``: the public and the full tests;

and stamps the Colab badge and setup cell (generated from ``course_utils.REPO``) into all three.
``--check`` builds into a temporary folder and fails if anything committed differs; ``--run-tests``
lets otter execute the master and run its tests against the solutions while building.
"""

from __future__ import annotations

import argparse
import filecmp
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

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


def build_lesson(master: Path, out_root: Path, run_tests: bool = False) -> list[Path]:
    """Build one lesson into ``out_root`` (the repository root, or a scratch copy for --check)."""
    lesson = master.stem
    nb = nbformat.read(master, as_version=4)
    stamp_header(nb, lesson, "master")
    normalize(nb, lesson)
    problems = skeleton_problems(nb, lesson, "master")
    if problems:
        raise SystemExit(f"{master}: the notebook breaks the course skeleton:\n  - "
                         + "\n  - ".join(problems))
    written = [out_root / "notebooks" / "masters" / master.name]
    _write(nb, written[0])
    with tempfile.TemporaryDirectory(prefix=f"assign-{lesson}-") as tmp:
        tmp_path = Path(tmp)
        _write(nb, tmp_path / master.name)
        cmd = [sys.executable, "-m", "otter", "assign", master.name, "dist", "--no-pdfs"]
        if not run_tests:
            cmd.append("--no-run-tests")
        done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"otter assign failed for {master}:\n{done.stdout}\n{done.stderr}")
        dist = tmp_path / "dist"

        student = nbformat.read(dist / "student" / master.name, as_version=4)
        stamp_header(student, lesson, "student")
        normalize(student, lesson)
        written.append(out_root / "notebooks" / master.name)
        _write(student, written[-1])

        solutions = nbformat.read(dist / "autograder" / master.name, as_version=4)
        for cell in solutions.cells:
            if cell.cell_type == "code":
                cell.source = strip_solution_markers(cell.source)
        stamp_header(solutions, lesson, "solutions")
        normalize(solutions, lesson)
        written.append(out_root / "notebooks" / "solutions" / master.name)
        _write(solutions, written[-1])

        checks = out_root / "course_utils" / "checks" / lesson
        shutil.rmtree(checks, ignore_errors=True)
        for part, source in (("student", dist / "student" / "tests"),
                             ("autograder", dist / "autograder" / "tests")):
            (checks / part).mkdir(parents=True)
            for test in sorted(source.glob("*.py")):
                shutil.copy(test, checks / part / test.name)
                written.append(checks / part / test.name)
    return written


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
    parser.add_argument("lessons", nargs="*", help="lesson names (default: every master)")
    parser.add_argument("--check", action="store_true",
                        help="fail if the committed notebooks or tests are out of sync")
    parser.add_argument("--run-tests", action="store_true",
                        help="let otter execute each master and run its tests on the solutions")
    args = parser.parse_args(argv)
    masters = sorted(MASTERS.glob("*.ipynb"))
    if args.lessons:
        masters = [m for m in masters if m.stem in args.lessons]
        if not masters:
            print(f"error: no master notebook for {args.lessons} in {MASTERS}", file=sys.stderr)
            return 2
    if not args.check:
        for master in masters:
            for path in build_lesson(master, ROOT, run_tests=args.run_tests):
                print(f"wrote {path.relative_to(ROOT)}")
        return 0
    with tempfile.TemporaryDirectory(prefix="assign-check-") as tmp:
        diffs = []
        for master in masters:
            diffs += differences(Path(tmp), build_lesson(master, Path(tmp)))
    if diffs:
        print("Out of sync with the masters (run `python -m course_utils.build`):")
        print("\n".join(f"  {d}" for d in diffs))
        return 1
    print(f"{len(masters)} lesson(s) in sync with their masters")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
