"""claus_core.allocator: glibc's thresholds are set where glibc is the C library."""

from __future__ import annotations

import platform
import sys

import pytest
import torch

from claus_core.allocator import reuse_freed_memory


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="mallopt thresholds are glibc's",
)
def test_glibc_thresholds_are_set_and_tensors_still_work() -> None:
    assert reuse_freed_memory()
    assert reuse_freed_memory()  # idempotent
    for _ in range(3):  # a freed block above the old dynamic threshold is reused
        big = torch.ones(4_000_000)
        assert float(big.sum()) == 4_000_000.0
        del big
