"""The course site's diagrams, drawn with matplotlib from the code below (no pasted images).

Each function returns a figure; ``write_all(folder)`` saves them as SVG for the site
(``course_utils.build.site``), and ``DIAGRAMS`` says which lesson shows each one, under which
heading. Drawn by hand because they are pictures of the course's own ideas (boxes, arrows, time
lines); a diagram language (Mermaid, Graphviz) would need a JavaScript bundle or a binary the
course does not otherwise install.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

BLUE, ORANGE, GREEN, GREY = "#4C72B0", "#DD8452", "#55A868", "#8C8C8C"


def _box(ax, x, y, w, h, title, body="", colour=BLUE):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02", fc=colour, alpha=0.15,
                                ec=colour, lw=1.5))
    ax.text(x + w / 2, y + h - 0.12, title, ha="center", va="top", fontsize=11, weight="bold")
    if body:
        ax.text(x + w / 2, y + h / 2 - 0.12, body, ha="center", va="center", fontsize=9,
                family="monospace")


def _arrow(ax, start, end, label="", colour="black"):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=14, lw=1.3, color=colour))
    if label:
        ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.1, label, ha="center",
                va="bottom", fontsize=8, color=colour)


def _chain(ax, boxes, left, bottom, width, height, gap):
    """Boxes (title, body, colour) in a row, each with an arrow to the next."""
    for i, (title, body, colour) in enumerate(boxes):
        x = left + i * (width + gap)
        _box(ax, x, bottom, width, height, title, body, colour)
        if i:
            _arrow(ax, (x - gap + 0.05, bottom + height / 2), (x - 0.05, bottom + height / 2))


def _flow(size, title, boxes, note, layout, note_y):
    """A titled row of boxes joined by arrows, with a note under it."""
    fig, ax = _canvas(*size, title)
    _chain(ax, boxes, **layout)
    ax.text(size[0] / 2, note_y, note, ha="center", fontsize=9, style="italic")
    return fig


def _canvas(width, height, title):
    fig, ax = plt.subplots(figsize=(width, height))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")
    ax.set_title(title, fontsize=12)
    return fig, ax


def pipeline_stages():
    """Lesson 01: the three stages of ``pipeline()`` for text generation."""
    return _flow((11, 2.6), "pipeline(\"text-generation\"): three stages", [
        ("1. pre-processing", "tokenizer(text)\n'Hi there'\n-> [id, id]", BLUE),
        ("2. forward pass", "model(ids) -> logits\none score per\nvocabulary token", ORANGE),
        ("3. post-processing", "tokenizer.decode(ids)\n[id, id]\n-> 'I am'", GREEN)],
        "generate() repeats stage 2, one new token at a time, until an end token or max_new_tokens",
        layout=dict(left=0.3, bottom=0.3, width=3.0, height=1.8, gap=0.7), note_y=0.05)


def kv_cache():
    """Lesson 01 (Exercise 5): what a KV cache saves at each decoding step."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.2), sharey=True)
    steps, prompt = 6, 4
    for ax, cached in zip(axes, (False, True)):
        for step in range(steps):
            length = prompt + step
            for pos in range(length):
                new = not cached or step == 0 or pos == length - 1  # step 0 reads the prompt
                colour = ORANGE if new else GREY
                ax.add_patch(plt.Rectangle((pos, steps - 1 - step), 0.9, 0.8, fc=colour,
                                           alpha=0.8 if new else 0.35))
        computed = (sum(prompt + s for s in range(steps)) if not cached else prompt + steps - 1)
        ax.set_title(("with a KV cache" if cached else "without a cache")
                     + f": {computed} token positions computed", fontsize=11)
        ax.set_xlim(0, prompt + steps)
        ax.set_ylim(0, steps)
        ax.set_xlabel("token position (4 prompt tokens, then new ones)")
        ax.set_yticks([s + 0.4 for s in range(steps)], [f"step {steps - s}" for s in range(steps)])
    fig.text(0.5, 0.01, "orange: keys and values computed at this step; grey: read back from the cache",
             ha="center", fontsize=9)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def batching_timeline():
    """Lesson 04: static batching against step-level (continuous) batching, over time."""
    lengths = [3, 8, 4, 6, 2, 5]  # tokens each request generates; requests 0-3 come first
    fig, axes = plt.subplots(2, 1, figsize=(11, 4.2), sharex=True)
    # static: batches of 4 in arrival order; a batch ends when its longest row ends
    start = 0
    for first in (0, 4):
        batch = lengths[first:first + 4]
        for row, n in enumerate(batch):
            axes[0].barh(first + row, n, left=start, color=BLUE)
            axes[0].barh(first + row, max(batch) - n, left=start + n, color=GREY, alpha=0.3)
        start += max(batch)
    axes[0].set_title("static batching: a batch runs until its longest row ends; the next batch "
                      "waits (grey: a slot doing nothing)", fontsize=10)
    # step-level: 4 slots; a request joins at the first step after a slot frees
    free, waiting = [0, 0, 0, 0], list(range(len(lengths)))
    while waiting:
        slot = min(range(4), key=lambda s: free[s])
        request = waiting.pop(0)
        axes[1].barh(request, lengths[request], left=free[slot], color=GREEN)
        free[slot] += lengths[request]
    axes[1].set_title("step-level batching: a finished row's slot is given to a waiting request "
                      "at the next step", fontsize=10)
    for ax in axes:
        ax.set_yticks(range(len(lengths)), [f"request {i}" for i in range(len(lengths))])
        ax.invert_yaxis()
    axes[1].set_xlabel("decoding steps (4 rows at most in a step)")
    fig.tight_layout()
    return fig


def request_path():
    """Lesson 03: a request's path through the course's reference server."""
    return _flow((12, 3.4), "a request's path through the reference server (course_utils/server)", [
        ("client", "openai, curl,\nLangChain", GREY),
        ("HTTP route", "FastAPI: body\nvalidated (pydantic)\nbad -> 400/422", BLUE),
        ("admission", "queue full?\n-> 429 at once,\nRetry-After", ORANGE),
        ("batching worker", "one model step for\nevery running row;\nnew rows join", GREEN),
        ("response", "JSON, or a stream\nof server-sent\nevents", BLUE)],
        "/health and /metrics answer while the worker generates: the event loop only waits, the "
        "model runs in its own thread",
        layout=dict(left=0.2, bottom=0.9, width=2.0, height=2.0, gap=0.4), note_y=0.35)


# name: (drawing, lesson, the heading the diagram goes under, its caption)
DIAGRAMS = {
    "pipeline-stages": (pipeline_stages, "01", "## 2. The three stages by hand",
                        "The three stages this section runs by hand."),
    "kv-cache": (kv_cache, "01", "### Exercise 5",
                 "What the cache saves: each step computes the keys and values of one new token."),
    "request-path": (request_path, "03", "## 4. The course's reference server",
                     "The fixes of section 3, in the order a request meets them."),
    "batching-timeline": (batching_timeline, "04", "### Static and step-level batching",
                          "Six requests of different lengths, four rows at most per step."),
}


def write_all(folder: Path) -> dict[str, Path]:
    """Draw every diagram into ``folder`` as SVG: name -> file."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, (draw, *_rest) in DIAGRAMS.items():
        fig = draw()
        written[name] = folder / f"{name}.svg"
        fig.savefig(written[name], bbox_inches="tight", metadata={"Date": None})
        plt.close(fig)
    return written
