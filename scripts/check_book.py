"""Load the built book's pages in headless Chromium and check what a reader sees.

Usage::

    python scripts/check_book.py _build/html                 # every page of the book
    python scripts/check_book.py _build/html book/metrics.html --screenshots shots/

On every page it checks that:

- no console error, uncaught exception or failed request happens (the book is offline);
- every figure (``<img>``) has loaded and has a size;
- every formula is typeset by MathJax (each ``.math`` element holds an ``mjx-container``, none
  holds a MathJax error);
- the ipywidgets views render from the saved widget state (some widget element appears, and
  none says "Error rendering widget");
- every kernel-free STeW explorer (``[data-stew-explorer]``) changes its picture when any of its
  controls (video, frame, sigma, window, spacing) is moved.

Chromium is Debian's ``chromium`` package (``.ci/run`` installs it), driven by Playwright over
the DevTools protocol; every wait is bounded.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

REFRESH = re.compile(r'http-equiv="refresh" content="0; url=([^"]+)"', re.IGNORECASE)
SKIPPED = {"genindex.html", "search.html"}
TIMEOUT_MS = 20_000
REDRAW_MS = 5_000
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic"]


@dataclass
class PageReport:
    page: str
    problems: list[str] = field(default_factory=list)
    facts: dict[str, int] = field(default_factory=dict)


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    raise SystemExit("check_book: no Chromium found (apt-get install chromium)")


def book_pages(root: Path) -> list[str]:
    pages = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.html"))
    return [p for p in pages if not p.startswith("_") and Path(p).name not in SKIPPED]


def check_images(page: Page, report: PageReport) -> None:
    sources = page.eval_on_selector_all(
        "img",
        """images => Promise.all(images.map(img => img.decode().then(
               () => [img.getAttribute('src'), img.naturalWidth],
               () => [img.getAttribute('src'), 0])))""",
    )
    report.facts["figures"] = len(sources)
    for src, width in sources:
        if width == 0:
            report.problems.append(f"figure {str(src)[:80]} did not load")


def check_maths(page: Page, report: PageReport) -> None:
    count = page.locator(".math").count()
    report.facts["formulas"] = count
    if count == 0:
        return
    if not page.locator('script[src*="mathjax" i]').count():
        report.problems.append(f"{count} formulas but the page loads no MathJax: none is typeset")
        return
    try:
        page.wait_for_function(
            "() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=TIMEOUT_MS
        )
        page.evaluate("() => MathJax.startup.promise")
        page.wait_for_function(
            "() => [...document.querySelectorAll('.math')].every(e => e.querySelector('mjx-container'))",
            timeout=TIMEOUT_MS,
        )
    except Exception:  # reported below with the count
        pass
    raw = page.evaluate(
        "() => [...document.querySelectorAll('.math')].filter(e => !e.querySelector('mjx-container'))"
        ".map(e => e.textContent.trim().slice(0, 40))"
    )
    errors = page.locator("mjx-merror").count()
    report.facts["typeset"] = count - len(raw)
    if raw:
        report.problems.append(f"{len(raw)} of {count} formulas not typeset, e.g. {raw[0]!r}")
    if errors:
        report.problems.append(f"{errors} formulas typeset as MathJax errors")


def check_widgets(page: Page, report: PageReport) -> None:
    views = page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count()
    if views == 0:
        return
    selector = ".jupyter-widgets, .widget-box, .lm-Widget"
    try:
        page.wait_for_selector(selector, timeout=TIMEOUT_MS)
    except Exception:  # reported below
        pass
    rendered = page.locator(selector).count()
    report.facts["widget_views"] = views
    report.facts["widget_elements"] = rendered
    if rendered == 0:
        report.problems.append(f"{views} widget views saved, none rendered")
    if page.get_by_text("Error rendering widget", exact=False).count():
        report.problems.append("a widget failed to render from its saved state")


def _picture(page: Page, explorer: int, panel: str) -> str:
    return page.evaluate(
        "([k, panel]) => document.querySelectorAll('[data-stew-explorer]')[k]"
        '.querySelector(`[data-panel="${panel}"]`).toDataURL()',
        [explorer, panel],
    )


def _set(page: Page, explorer: int, name: str, value: str) -> bool:
    """Set one control like a reader would; True once both panels are redrawn (within 5 s)."""
    page.evaluate(
        """([k, name, value]) => {
               const root = document.querySelectorAll('[data-stew-explorer]')[k];
               root.querySelectorAll('canvas.view').forEach(c => delete c.dataset.drawn);
               const c = root.querySelector(`[data-control="${name}"]`);
               c.value = value; c.dispatchEvent(new Event('input', {bubbles: true}));
           }""",
        [explorer, name, value],
    )
    try:
        page.wait_for_function(
            "k => [...document.querySelectorAll('[data-stew-explorer]')[k].querySelectorAll('canvas.view')]"
            ".every(c => c.dataset.drawn)",
            arg=explorer,
            timeout=REDRAW_MS,
        )
    except PlaywrightTimeout:
        return False
    return True


def _values(page: Page, explorer: int, name: str) -> list[str]:
    return page.evaluate(
        """([k, name]) => {
               const c = document.querySelectorAll('[data-stew-explorer]')[k]
                   .querySelector(`[data-control="${name}"]`);
               if (c.tagName === 'SELECT') return [...c.options].map(o => o.value);
               return Array.from({length: +c.max - +c.min + 1}, (_, i) => String(+c.min + i));
           }""",
        [explorer, name],
    )


def check_explorers(page: Page, report: PageReport) -> None:
    """Each control of each kernel-free explorer must change the picture it controls."""
    count = page.locator("[data-stew-explorer]").count()
    report.facts["explorers"] = count
    for k in range(count):
        page.wait_for_function(
            "k => [...document.querySelectorAll('[data-stew-explorer]')[k].querySelectorAll('canvas.view')]"
            ".every(c => c.dataset.drawn)",
            arg=k,
            timeout=TIMEOUT_MS,
        )
        for name, panel in (("video", "frame"), ("frame", "frame")):
            current = page.evaluate(
                "([k, name]) => document.querySelectorAll('[data-stew-explorer]')[k]"
                '.querySelector(`[data-control="${name}"]`).value',
                [k, name],
            )
            others = [v for v in _values(page, k, name) if v != current]
            if not others:  # one video only: nothing to move to
                continue
            before = _picture(page, k, panel)
            if not _set(page, k, name, others[len(others) // 2]):
                report.problems.append(f"explorer {k}: moving '{name}' did not redraw the picture")
                break
            if _picture(page, k, panel) == before:
                report.problems.append(f"explorer {k}: moving '{name}' left the {panel} unchanged")
        else:
            _check_weight_controls(page, k, report)


def _check_weight_controls(page: Page, k: int, report: PageReport) -> None:
    """sigma, window and spacing change the weight map on most frames, not on all (an annotated
    frame weighs 1 everywhere): look for one frame where each of them does."""
    frames = _values(page, k, "frame")
    for name in ("sigma", "window", "spacing"):
        values = _values(page, k, name)
        changed = False
        for frame in frames[1:-1]:
            if not (_set(page, k, "frame", frame) and _set(page, k, name, values[0])):
                break
            before = _picture(page, k, "weight")
            if _set(page, k, name, values[-1]) and _picture(page, k, "weight") != before:
                changed = True
                break
        if not changed:
            report.problems.append(f"explorer {k}: moving '{name}' never changed the weight map")


def check_page(
    browser: Browser, root: Path, page_name: str, screenshots: Path | None
) -> PageReport:
    report = PageReport(page_name)
    path = (root / page_name).resolve()
    if not path.exists():
        report.problems.append("missing")
        return report
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on(
        "console",
        lambda m: (
            report.problems.append(f"console error: {m.text[:200]}") if m.type == "error" else None
        ),
    )
    page.on("pageerror", lambda e: report.problems.append(f"uncaught: {str(e)[:200]}"))
    page.on(
        "requestfailed",
        lambda r: report.problems.append(f"request failed: {r.url[:120]} ({r.failure})"),
    )
    try:
        page.goto(path.as_uri(), wait_until="load", timeout=TIMEOUT_MS)
        refresh = REFRESH.search(path.read_text(errors="replace"))
        if refresh:  # index.html: a redirect; check the page it lands on
            page.wait_for_url(f"**/{refresh.group(1)}", timeout=TIMEOUT_MS)
            page.wait_for_load_state("load", timeout=TIMEOUT_MS)
        check_images(page, report)
        check_maths(page, report)
        check_widgets(page, report)
        if screenshots is not None:  # as the reader first sees it
            target = screenshots / (page_name.replace("/", "__").removesuffix(".html") + ".png")
            page.screenshot(path=str(target), full_page=True)
        check_explorers(page, report)
    except Exception as error:  # one broken page must not hide the others
        report.problems.append(f"check stopped: {type(error).__name__}: {str(error)[:300]}")
    finally:
        page.close()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="the built book, e.g. _build/html")
    parser.add_argument("pages", nargs="*", help="pages relative to root (default: every page)")
    parser.add_argument(
        "--screenshots", type=Path, help="save a full-page screenshot of each page here"
    )
    parser.add_argument(
        "--expect",
        action="append",
        default=[],
        metavar="PAGE:FACT=N",
        help="require at least N of a fact on a page, e.g. book/metrics.html:typeset=10",
    )
    args = parser.parse_args(argv)
    pages = args.pages or book_pages(args.root)
    if args.screenshots is not None:
        args.screenshots.mkdir(parents=True, exist_ok=True)
    reports = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=LAUNCH_ARGS)
        try:
            for name in pages:
                report = check_page(browser, args.root, name, args.screenshots)
                reports.append(report)
                facts = ", ".join(f"{v} {k}" for k, v in report.facts.items())
                status = "ok" if not report.problems else "FAILED"
                sys.stdout.write(f"check_book: {name}: {facts or 'no facts'}: {status}\n")
                for problem in report.problems:
                    sys.stdout.write(f"check_book:   {problem}\n")
        finally:
            browser.close()
    by_page = {r.page: r for r in reports}
    failed = sum(bool(r.problems) for r in reports)
    for expectation in args.expect:
        page_name, _, rule = expectation.partition(":")
        fact, _, least = rule.partition("=")
        have = by_page[page_name].facts.get(fact, 0) if page_name in by_page else 0
        if have < int(least):
            sys.stdout.write(f"check_book: {page_name}: {have} {fact}, expected at least {least}\n")
            failed += 1
    sys.stdout.write(f"check_book: {len(reports)} pages, {failed} problems\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
