"""The course site (course_utils/build/site.py, site_check.py, diagrams.py): pages, diagrams, and a
browser check that fails a broken page. ``scripts/test.sh`` builds and checks the real site."""

from __future__ import annotations

import base64
import io
import json
import shutil
from pathlib import Path

import pytest

from course_utils.build import site
from course_utils.build.diagrams import DIAGRAMS, write_all

RUN = {"date": "2026-12-03", "cpu": "a test CPU", "cores": 2, "memory_gib": 24, "load_average": [1.5],
       "gpu": "no GPU"}


def _cell(kind, text, outputs=None):
    cell = {"cell_type": kind, "id": str(abs(hash(text)) % 10**8), "metadata": {}, "source": text}
    if kind == "code":
        cell.update(execution_count=1, outputs=outputs or [])
    return cell


def _png() -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _notebook(plot=True):
    widget = {"output_type": "display_data", "metadata": {},
              "data": {"text/plain": "100%", "application/vnd.jupyter.widget-view+json": {"model_id": "x"}}}
    outputs = [{"output_type": "display_data", "metadata": {}, "data": {"image/png": _png(),
                                                                        "text/plain": "<Figure>"}}]
    cells = [_cell("markdown", "# Lesson 01: a test\n\n[![Open In Colab](https://badge.svg)]"
                               "(https://colab.example/nb.ipynb)"),
             _cell("markdown", "## 2. The three stages by hand\n\nSee [compare](../course_utils/compare.py) "
                               "and [the docs](https://example.org/x)."),
             _cell("code", "for _ in tqdm(range(3)): pass", [widget]),
             _cell("code", "plt.plot([0, 1])", outputs if plot else []),
             _cell("markdown", "### Exercise 5 🦁: the loop")]
    return {"cells": cells, "metadata": {"widgets": {"state": {}}, "kernelspec": {"name": "python3",
            "display_name": "Python 3", "language": "python"}, "language_info": {"name": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def test_a_lesson_page_gets_its_note_diagrams_and_plain_links():
    page = site.lesson_page(_notebook(), "01_pipeline_basics", RUN)
    texts = ["".join(c["source"]) for c in page["cells"]]
    assert "[Open in Colab](https://colab.example/nb.ipynb)" in texts[0] and "badge.svg" not in texts[0]
    note = texts[1]
    assert "2026-12-03" in note and "a test CPU" in note and "load average 1.5" in note and "no GPU" in note
    assert "{download}`Download the notebook <downloads/01_pipeline_basics.ipynb>`" in note
    assert "/blob/main/course_utils/compare.py)" in texts[2] and "(https://example.org/x)" in texts[2]
    wanted = [name for name, (_d, number, *_r) in DIAGRAMS.items() if number == "01"]
    for name in wanted:  # each under its heading
        heading = DIAGRAMS[name][2]
        at = next(i for i, t in enumerate(texts) if t.startswith(heading))
        assert f"/diagrams/{name}.svg" in texts[at + 1], (name, texts[at + 1])
    assert "widgets" not in page["metadata"]
    assert all("application/vnd.jupyter.widget-view+json" not in o.get("data", {})
               for c in page["cells"] for o in c.get("outputs", []))
    assert site.figures(page) == 1
    assert "widgets" in _notebook()["metadata"], "the executed notebook itself is left as it was"


def test_a_diagram_whose_heading_is_gone_is_named():
    nb = _notebook()
    nb["cells"][1]["source"] = "## 2. Renamed"
    with pytest.raises(ValueError, match="The three stages by hand"):
        site.lesson_page(nb, "01_pipeline_basics", RUN)


def test_every_diagram_is_drawn_as_svg(tmp_path):
    written = write_all(tmp_path)
    assert sorted(written) == sorted(DIAGRAMS)
    for path in written.values():
        text = path.read_text()
        assert "<svg" in text and len(text) > 5000, path


def _chromium_or_skip():
    pytest.importorskip("playwright")
    pytest.importorskip("myst_nb")
    if not any(shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")):
        pytest.skip("no Chromium here (scripts/site.sh installs it; CI checks the real site)")


def test_the_browser_check_passes_a_site_and_fails_a_broken_one(tmp_path, monkeypatch, capsys):
    _chromium_or_skip()
    from course_utils.build import site_check

    executed = tmp_path / "executed"
    executed.mkdir()
    (executed / "01_pipeline_basics.ipynb").write_text(json.dumps(_notebook()))
    monkeypatch.setattr(site, "_mathjax", lambda folder: None)  # no formulas on this page
    out = tmp_path / "site"
    site.build(executed, out)
    assert (out / "lessons" / "01_pipeline_basics.html").is_file() and (out / ".nojekyll").is_file()
    assert site_check.check(out, tmp_path / "shots") == 0, capsys.readouterr().out
    assert (tmp_path / "shots" / "01_pipeline_basics.png").stat().st_size > 10_000

    for image in (out / "_images").glob("*.png"):
        image.unlink()  # the run's plot is gone
    page = out / "lessons" / "01_pipeline_basics.html"
    broken_link = '<a href="../lessons/99_nowhere.html">x</a></article>'
    page.write_text(page.read_text().replace("</article>", broken_link))
    capsys.readouterr()
    assert site_check.check(out, tmp_path / "shots") == 1
    report = capsys.readouterr().out
    assert "image not loaded" in report and "link to a missing page: lessons/99_nowhere.html" in report


def test_a_run_without_plots_is_refused(tmp_path, monkeypatch):
    executed = tmp_path / "executed"
    executed.mkdir()
    (executed / "01_pipeline_basics.ipynb").write_text(json.dumps(_notebook(plot=False)))
    monkeypatch.setattr(site, "_mathjax", lambda folder: None)
    with pytest.raises(SystemExit, match="MPLBACKEND=Agg"):
        site.prepare(executed, tmp_path / "source")


def test_no_executed_notebooks_says_what_to_run(tmp_path):
    with pytest.raises(SystemExit, match="scripts/test.sh"):
        site.prepare(tmp_path, tmp_path / "source")


def test_record_writes_the_machine(tmp_path):
    path = site.record(tmp_path)
    run = json.loads(Path(path).read_text())
    assert run["cores"] >= 1 and run["memory_gib"] >= 1 and len(run["load_average"]) == 3 and run["gpu"]
