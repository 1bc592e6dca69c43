"""The selection benchmark runs and agrees with its plain-loop reference (no timing checked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def test_selection_benchmark_selects_like_the_plain_loop() -> None:
    """One repeat of every setting: the benchmark asserts identical selections itself."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_selection.py"), "--repeats", "1"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("identical selections") == 4
    assert "pool: 2284 videos, 395868 frames" in done.stdout
    assert "target: one selection over the 2284-video pool in at most 0.5 s" in done.stdout
