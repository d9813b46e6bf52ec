"""The course site: every lesson as a page, with the outputs of a real run (``bash scripts/site.sh``).

``python -m course_utils.build.site [--executed build/executed/student] [--out build/site]``

The pages are the student notebooks as ``scripts/test.sh`` executed them under nbmake (what CI
runs anyway: the site executes nothing again): lesson text, demonstrations and their outputs,
exercises unanswered with the checks' messages as a learner first sees them. Sphinx with myst-nb
renders them (``nb_execution_mode = "off"``) in the book theme, with its search and table of
contents; measured: see docs/site.md. For each lesson page this module adds, in a copy:

- a note with the date and the machine of the run (``run.json``, written by ``record`` when the
  notebooks were executed), a Colab link and a download link to the clean notebook;
- the diagrams of ``diagrams.py`` under their headings.

The Colab badge image of the notebooks (an external image) becomes a plain link: the site loads
nothing from elsewhere. ``record FOLDER`` writes ``FOLDER/run.json``: date, CPU, cores, memory,
load average.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import re
import shutil
import sys
import tarfile
import time
from pathlib import Path

from .. import BRANCH, REPO

ROOT = Path(__file__).resolve().parent.parent.parent
SOURCES = ROOT / "site"  # conf.py and the home page, committed
MATHJAX = "3.2.2"  # served with the site (version 4 loads its fonts from a CDN)
BADGE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\(([^)]*)\)")
RELATIVE_LINK = re.compile(r"\]\((?!https?:|#|mailto:)([^)\s]+)\)")  # a repository file, from notebooks/


def machine() -> dict:
    """Date, CPU, cores, memory and load of this machine, for the pages' "measured on" note."""
    cpu = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return {"date": time.strftime("%Y-%m-%d"), "cpu": cpu, "cores": os.cpu_count(),
            "memory_gib": round(memory), "load_average": [round(x, 2) for x in os.getloadavg()],
            "gpu": gpu}


def record(folder: Path) -> Path:
    """Write ``folder/run.json`` (called when the notebooks in ``folder`` are executed)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "run.json"
    path.write_text(json.dumps(machine(), indent=1) + "\n")
    return path


def _repository_url(relative: str) -> str:
    """A link relative to notebooks/ (a file of the repository) as its address on GitHub."""
    path = os.path.normpath(os.path.join("notebooks", relative))
    return f"https://github.com/{REPO}/blob/{BRANCH}/{path}"


def _markdown(text: str) -> dict:
    return {"cell_type": "markdown", "id": f"site-{abs(hash(text)) % 10**8}", "metadata": {},
            "source": text}


def _note(lesson: str, run: dict) -> str:
    colab = f"https://colab.research.google.com/github/{REPO}/blob/{BRANCH}/notebooks/{lesson}.ipynb"
    load = ", ".join(str(x) for x in run.get("load_average", []))
    return (f":::{{note}}\nThis page is lesson {lesson[:2]} as a learner meets it, with the outputs "
            f"of a run on **{run['date']}** on the machine that ran it ({run['cpu']}, {run['cores']} "
            f"cores, {run['memory_gib']} GiB, {run.get('gpu', 'no GPU')}; load average {load}, "
            "taken as the run ended). Every figure on this page is that machine's: the notebook "
            "measures your own. Exercises are shown unanswered.\n\n"
            f"[Open in Colab]({colab}) · {{download}}`Download the notebook <downloads/{lesson}.ipynb>`"
            "\n:::")


def lesson_page(nb: dict, lesson: str, run: dict) -> dict:
    """The executed notebook as the site shows it: note, plain Colab link, diagrams."""
    from .diagrams import DIAGRAMS

    nb = copy.deepcopy(nb)
    nb["metadata"].pop("widgets", None)  # progress bars: their text stays, no widget JavaScript
    cells = nb["cells"]
    for cell in cells:
        for output in cell.get("outputs", []):
            output.get("data", {}).pop("application/vnd.jupyter.widget-view+json", None)
        if cell["cell_type"] == "markdown":
            text = "".join(cell["source"])
            text = BADGE.sub(r"[Open in Colab](\1)", text)
            cell["source"] = RELATIVE_LINK.sub(lambda m: f"]({_repository_url(m.group(1))})", text)
    cells.insert(1, _markdown(_note(lesson, run)))
    for name, (_draw, number, heading, caption) in DIAGRAMS.items():
        if not lesson.startswith(number):
            continue
        at = next((i for i, c in enumerate(cells) if c["cell_type"] == "markdown" and any(
            line.startswith(heading) for line in "".join(c["source"]).splitlines())), None)
        if at is None:
            raise ValueError(f"diagram {name!r}: lesson {lesson} has no heading starting "
                             f"{heading!r}; update DIAGRAMS in course_utils/build/diagrams.py")
        cells.insert(at + 1, _markdown(f"```{{figure}} /diagrams/{name}.svg\n:alt: {caption}\n\n"
                                       f"{caption}\n```"))
    return nb


def figures(nb: dict) -> int:
    """How many plots a notebook's outputs hold."""
    return sum(1 for cell in nb["cells"] for output in cell.get("outputs", [])
               if {"image/png", "image/svg+xml"} & set(output.get("data", {})))


def _mathjax(folder: Path) -> None:
    """MathJax 3 (lesson 02's formulas), from its npm package, served with the site."""
    packed = sorted((ROOT / "build").glob(f"mathjax-{MATHJAX}.tgz"))
    if not packed:
        raise SystemExit(f"error: no build/mathjax-{MATHJAX}.tgz: `bash scripts/site.sh` fetches it "
                         f"(npm pack mathjax@{MATHJAX} --pack-destination build)")
    with tarfile.open(packed[0]) as archive:
        wanted = [m for m in archive.getmembers() if m.name == "package/es5/tex-mml-chtml.js"
                  or m.name.startswith("package/es5/output/chtml/fonts/woff-v2/")]
        for member in wanted:
            member.name = member.name.removeprefix("package/es5/")
        archive.extractall(folder, members=wanted, filter="data")


def prepare(executed: Path, source: Path) -> list[str]:
    """Fill ``source`` with what Sphinx reads: conf, home page, lessons, downloads, diagrams."""
    from .diagrams import write_all

    notebooks = sorted(executed.glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        raise SystemExit(f"error: no executed notebooks in {executed}: run `bash scripts/test.sh` "
                         "(or `bash scripts/site.sh`, which runs them) first")
    run_file = executed / "run.json"
    run = json.loads(run_file.read_text()) if run_file.is_file() else {**machine(), "date": "?"}
    if source.exists():
        shutil.rmtree(source)
    shutil.copytree(SOURCES, source)
    write_all(source / "diagrams")
    _mathjax(source / "_static" / "mathjax")
    (source / "lessons" / "downloads").mkdir(parents=True)
    lessons, drawn = [], {}
    for path in notebooks:
        lesson = path.stem
        page = lesson_page(json.loads(path.read_text()), lesson, run)
        drawn[lesson] = figures(page)
        (source / "lessons" / path.name).write_text(json.dumps(page, indent=1))
        shutil.copy(ROOT / "notebooks" / path.name, source / "lessons" / "downloads" / path.name)
        lessons.append(lesson)
    print("figures drawn by the run: " + ", ".join(f"{k[:2]} {v}" for k, v in drawn.items()), file=sys.stderr)
    if not any(drawn.values()):
        raise SystemExit(f"error: the notebooks in {executed} hold no plot: were they run with "
                         "MPLBACKEND=Agg? Run them without it (scripts/test.sh and site.sh do)")
    return lessons


def build(executed: Path, out: Path) -> list[Path]:
    """Build the site into ``out``; the HTML pages it wrote."""
    from sphinx.cmd.build import build_main

    source = out.parent / f"{out.name}-source"
    lessons = prepare(executed, source)
    if out.exists():
        shutil.rmtree(out)
    status = build_main(["-b", "html", "-q", "-j", "1", str(source), str(out)])
    if status:
        raise SystemExit(f"error: sphinx-build failed (exit {status}); its messages are above")
    (out / ".nojekyll").touch()  # GitHub Pages: serve _static/ and _images/ as they are
    pages = sorted(out.rglob("*.html"))
    missing = [lesson for lesson in lessons if not (out / "lessons" / f"{lesson}.html").is_file()]
    if missing:
        raise SystemExit(f"error: no page for {missing}")
    return pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.build.site",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("command", nargs="?", choices=("build", "record"), default="build")
    parser.add_argument("--executed", type=Path, default=ROOT / "build" / "executed" / "student",
                        help="the executed student notebooks (default: build/executed/student)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site", help="default: build/site")
    args = parser.parse_args(argv)
    if args.command == "record":
        print(record(args.executed))
        return 0
    started = time.perf_counter()
    pages = build(args.executed, args.out)
    print(f"site: {len(pages)} pages in {args.out} ({time.perf_counter() - started:.0f} s); "
          f"open {args.out / 'index.html'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
