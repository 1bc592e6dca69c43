"""Load built book pages in headless Chromium: no console errors, every figure present and drawn.

Usage: ``python scripts/check_book.py _build/html index.html book/generated/table5.html``

For each page it (1) dumps the DOM after scripts ran and checks that every ``<img>`` points to a
non-empty file, (2) collects Chromium's console messages and fails on errors, and (3) takes a
screenshot and checks that it is not blank. Chromium comes from Debian's ``chromium`` package
(``.ci/run`` installs it when absent).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--virtual-time-budget=5000", "--window-size=1280,900",
]
CONSOLE = re.compile(r"CONSOLE[:(]\d+\)?\] \"(.*)\", source: (\S+)")
IGNORED = ("Failed to load resource: net::ERR_", "MathJax")  # offline: CDN fonts/MathJax only


class Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.sources += [v for k, v in attrs if k == "src" and v]


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return name
    raise SystemExit("check_book: no Chromium found (apt-get install chromium)")


def check_page(root: Path, page: str) -> list[str]:
    path = (root / page).resolve()
    if not path.exists():
        return [f"{page}: missing"]
    problems = []
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [chromium(), *FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
             "--dump-dom", path.as_uri()],
            capture_output=True, text=True, timeout=120, check=False,
        )
        shot = Path(profile) / "page.png"
        subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}",
                        path.as_uri()], capture_output=True, timeout=120, check=False)
        if not shot.exists() or shot.stat().st_size < 10_000:
            problems.append(f"{page}: screenshot missing or blank")
    for message, source in CONSOLE.findall(dom.stderr):
        if ("error" in message.lower() or "uncaught" in message.lower()) and not any(
            s in message for s in IGNORED
        ):
            problems.append(f"{page}: console error {message!r} ({source})")
    parser = Images()
    parser.feed(dom.stdout)
    if not dom.stdout.strip():
        problems.append(f"{page}: empty DOM")
    for src in parser.sources:
        if src.startswith("data:"):
            continue
        target = (path.parent / src.split("#")[0]).resolve()
        if not target.exists() or target.stat().st_size == 0:
            problems.append(f"{page}: image {src} missing")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("pages", nargs="+")
    parser.add_argument("--min-images", type=int, default=0, help="each page after the first needs this many")
    args = parser.parse_args(argv)
    problems = []
    for k, page in enumerate(args.pages):
        found = check_page(args.root, page)
        problems += found
        html = (args.root / page).read_text() if (args.root / page).exists() else ""
        images = html.count("<img")
        if k > 0 and images < args.min_images:
            problems.append(f"{page}: {images} figures, expected at least {args.min_images}")
        status = "ok" if not found else "FAILED"
        sys.stdout.write(f"check_book: {page}: {images} images, {status}\n")
    for problem in problems:
        sys.stdout.write(f"check_book: {problem}\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
