"""The site, checked in a real headless browser: ``python -m course_utils.build.site_check``.

Serves ``build/site`` on the loopback address and opens every page in Chromium (Debian's
``chromium``, driven by Playwright, which does not download a browser of its own here). A page
fails when the browser logs a console error or an uncaught exception, a request fails or answers
4xx/5xx, an image does not load, or a link to another page of the site (or an anchor in it) leads
nowhere. Requests to other hosts are blocked and listed (the site loads nothing from elsewhere).
The search page must find a term of the lessons. A screenshot of the home page and of each lesson
page is written to ``build/site-screenshots/`` and its path printed.
"""

from __future__ import annotations

import argparse
import functools
import shutil
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urldefrag, urlparse

ROOT = Path(__file__).resolve().parent.parent.parent
SEARCH_TERM = "KV cache"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # the report says what failed; no access log
        pass


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):  # the browser left mid-transfer: not a fault
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def serve(folder: Path) -> tuple[ThreadingHTTPServer, str]:
    """A static file server for ``folder`` on 127.0.0.1 (a free port), in a thread."""
    server = _Server(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    raise SystemExit("error: no Chromium found: install Debian's `chromium` (apt-get install chromium); "
                     "`bash scripts/site.sh` does it when it runs as root")


def visit(page, url: str, problems: list[str]) -> dict:
    """Open one page: its problems (``problems`` also gets the browser's console errors meanwhile),
    the links it makes and the ids it has."""
    problems.clear()
    response = page.goto(url, wait_until="load")
    if response is None or response.status >= 400:
        problems.append(f"the page answered {response.status if response else 'nothing'}")
    page.wait_for_load_state("networkidle")
    broken = page.evaluate("Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0)"
                           ".map(i => i.getAttribute('src'))")
    problems += [f"image not loaded: {src}" for src in broken]
    links = page.evaluate("Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
    ids = set(page.evaluate("Array.from(document.querySelectorAll('[id]')).map(e => e.id)"))
    return {"problems": list(problems), "links": links, "ids": ids}


def check(site: Path, shots: Path) -> int:
    from playwright.sync_api import sync_playwright

    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html")
                   if not p.relative_to(site).parts[0].startswith("_"))  # _static: theme templates
    if not pages:
        raise SystemExit(f"error: no pages in {site}: build the site first (`bash scripts/site.sh`)")
    server, base = serve(site)
    shots.mkdir(parents=True, exist_ok=True)
    problems: dict[str, list[str]] = {}
    external: set[str] = set()
    seen: dict[str, dict] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=find_chromium(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})

        def route(request_route):
            if urlparse(request_route.request.url).hostname == "127.0.0.1":
                request_route.continue_()
            else:
                external.add(request_route.request.url)
                request_route.abort()

        page.route("**/*", route)
        console: list[str] = []  # the page being visited's
        page.on("console", lambda m: console.append(f"console error: {m.text}")
                if m.type == "error" else None)
        page.on("pageerror", lambda err: console.append(f"uncaught: {err}"))
        page.on("requestfailed", lambda r: None if urlparse(r.url).hostname != "127.0.0.1" else
                problems.setdefault("(requests)", []).append(f"{r.url}: {r.failure}"))
        for name in pages:
            seen[name] = visit(page, f"{base}/{name}", console)
            if name == "index.html" or name.startswith("lessons/"):
                shot = shots / (Path(name).stem + ".png")
                page.screenshot(path=str(shot))
                print(f"screenshot: {shot}")
        page.goto(f"{base}/search.html?q={SEARCH_TERM.replace(' ', '+')}")
        page.wait_for_selector("#search-results li", timeout=20_000)
        hits = page.locator("#search-results li").count()
        print(f"search for {SEARCH_TERM!r}: {hits} pages found")
        browser.close()
    server.shutdown()
    for name, found in seen.items():
        for link in found["links"]:
            address, anchor = urldefrag(link)
            if not address.startswith(base):
                continue
            target = address[len(base) + 1:] or "index.html"
            if target.endswith("/"):
                target += "index.html"
            if not (site / target).is_file():
                found["problems"].append(f"link to a missing page: {target}")
            elif anchor and target in seen and anchor not in seen[target]["ids"]:
                found["problems"].append(f"link to a missing anchor: {target}#{anchor}")
        if found["problems"]:
            problems[name] = sorted(set(found["problems"]))
    for name, found in problems.items():
        print(f"FAIL {name}:\n  " + "\n  ".join(found[:20]))
    if external:
        print(f"blocked (not loaded): {len(external)} requests to other hosts, e.g. {sorted(external)[:3]}")
    print(f"{len(pages)} pages checked in Chromium, {sum(len(v) for v in problems.values())} problems")
    return 1 if problems or external else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.build.site_check",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--site", type=Path, default=ROOT / "build" / "site")
    parser.add_argument("--screenshots", type=Path, default=ROOT / "build" / "site-screenshots")
    args = parser.parse_args(argv)
    return check(args.site, args.screenshots)


if __name__ == "__main__":
    sys.exit(main())
