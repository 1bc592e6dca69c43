"""Keep freed tensor memory in the process, so that each training step does not fault it in again.

A training step of the tiny detector allocates and frees tens of megabytes of activations and
gradients (issue 23). With glibc's defaults, blocks above a dynamic threshold are mapped and
unmapped one by one, and the top of the heap is given back to the system when it is freed, so
the next step touches fresh pages: about 7,900 page faults per step of 8 clips, measured on a
2-core AMD EPYC with ``resource.getrusage``. Fixing ``M_MMAP_THRESHOLD`` at glibc's largest
value (32 MiB) and raising ``M_TRIM_THRESHOLD`` to 1 GiB lets the freed blocks be reused: 880
faults per step, and the step took 102 ms instead of 124 ms (``benchmarks/bench_round.py``
measures the whole round). Either setting alone was slower than neither. Nothing computed
changes; the process keeps up to its peak heap, which it would reach again at the next step.

Entry points that train or score call :func:`reuse_freed_memory` once (``claus`` and every
worker of ``claus run --jobs N``); on a C library other than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

logger = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1  # mallopt parameters of glibc's malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest allowed value on 64-bit systems
TRIM_THRESHOLD = 1024 * 1024 * 1024


def reuse_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds (see the module docstring); True when set."""
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c") or "libc.so.6"
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        logger.debug("no mallopt in %s: the allocator keeps its defaults", name)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    done = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
    logger.debug("glibc mmap / trim thresholds set: %s", done)
    return done
