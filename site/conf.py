"""Sphinx configuration of the course site (built by `bash scripts/site.sh`, see
course_utils/build/site.py; the lesson pages are executed notebooks, not executed again here)."""

project = "LLM inference with 🤗 Transformers pipelines"
author = "the course's authors"
copyright = "the course's authors, Apache-2.0"
extensions = ["myst_nb"]
nb_execution_mode = "off"  # the notebooks were executed by scripts/test.sh (nbmake)
nb_merge_streams = True
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type", "misc.highlighting_failure"]
exclude_patterns = ["_build", "lessons/downloads/*"]
html_theme = "sphinx_book_theme"
html_title = "LLM inference with 🤗 Transformers"
html_theme_options = {
    "repository_url": "https://github.com/llm-inference-course/transformers-pipelines-course",
    "use_repository_button": True,
    "show_toc_level": 2,
    "navigation_with_keys": False,
}
html_static_path = ["_static"]
html_use_index = False  # no index entries; its page only logged a theme error
mathjax_path = "mathjax/tex-mml-chtml.js"  # in _static: the site loads nothing from elsewhere
html_context = {"default_mode": "light"}  # without it the theme logs "invalid theme mode" on a first visit
