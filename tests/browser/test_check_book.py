"""``scripts/check_book.py`` fails on what a reader would see broken: raw maths, a dead explorer,
a missing figure, a console error. Runs headless Chromium on tiny pages written here."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from claus_core.data.types import Tube, VideoRecord
from claus_core.stew_explorer import ExplorerGrid, static_explorer_html

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
MATHJAX = ROOT / "book" / "_vendor" / "mathjax"


def _check_book():
    spec = importlib.util.spec_from_file_location("check_book", ROOT / "scripts" / "check_book.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _explorer() -> str:
    x = np.linspace(2, 10, 12)
    boxes = np.stack([x, np.full_like(x, 3), np.full_like(x, 5), np.full_like(x, 6)], axis=1)
    video = VideoRecord("Cls/v_tiny", 0, 14, 20, 16, (Tube(0, 1, 13, boxes),))
    frames = np.random.default_rng(0).integers(0, 256, (14, 16, 20, 3), dtype=np.uint8)
    grid = ExplorerGrid(sigmas=(1.0, 3.0), windows=(1, 3), spacings=(2, 5))
    return static_explorer_html({video.name: (video, frames)}, grid=grid)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    shutil.copytree(MATHJAX, root / "mathjax")
    typeset = '<script defer src="mathjax/tex-chtml.js"></script>'
    math = '<p><span class="math notranslate nohighlight">\\(w_j = e^{-d^2}\\)</span></p>'
    pages = {
        "good.html": f"<html><head>{typeset}</head><body>{math}{_explorer()}</body></html>",
        "raw_maths.html": f"<html><body>{math}</body></html>",
        "dead_explorer.html": "<html><body>"
        + _explorer().replace('c.addEventListener("input", draw);', "")
        + "</body></html>",
        "missing_figure.html": '<html><body><img src="nowhere.png"></body></html>',
        "console_error.html": "<html><body><script>console.error('boom')</script></body></html>",
    }
    for name, text in pages.items():
        (root / name).write_text(text)
    return root


def _problems(site: Path, page: str) -> list[str]:
    check_book = _check_book()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=check_book.chromium(), args=check_book.LAUNCH_ARGS
        )
        try:
            return check_book.check_page(browser, site, page, None).problems
        finally:
            browser.close()


def test_a_good_page_passes(site: Path) -> None:
    assert _problems(site, "good.html") == []


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("raw_maths.html", "the page loads no MathJax"),
        ("dead_explorer.html", "moving 'frame' did not redraw the picture"),
        ("missing_figure.html", "did not load"),
        ("console_error.html", "console error: boom"),
    ],
)
def test_each_defect_is_reported(site: Path, page: str, expected: str) -> None:
    problems = _problems(site, page)
    assert any(expected in p for p in problems), problems
