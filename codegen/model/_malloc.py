"""Keep glibc from handing the golden model's working arrays back to the kernel between operations.

The batched solvers allocate many temporaries of a few hundred kB to a few MB (a (100, 900) float64
array is 720 kB).  glibc serves allocations above ``M_MMAP_THRESHOLD`` with a fresh ``mmap`` and
trims the heap top above ``M_TRIM_THRESHOLD``; both thresholds adapt to the sizes freed, but with
several temporaries live at once the heap top is trimmed and regrown on almost every numpy
operation, and every page of every temporary is faulted in anew.  On the 2-core benchmark machine
that made elementwise work 3–8× slower than the arithmetic (a product of two 90 000-element arrays:
40 µs in a loop of its own, 150–300 µs inside the diode function).  Fixed thresholds (32 MiB, 256
MiB) keep the freed pages in the process instead, at the cost of up to that much resident memory
not returned to the system while the process lives.

No library does this for numpy (jemalloc/tcmalloc would replace the allocator of the whole
interpreter at start-up); ``mallopt`` is one libc call, so it is done here, once per process, on
glibc only (elsewhere it does nothing).  ``EQP_KEEP_MALLOC=1`` in the environment leaves the
allocator as it is.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys

__all__ = ["keep_freed_memory"]

#: mallopt parameter numbers (glibc malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: allocations up to this size come from the heap (bytes)
MMAP_THRESHOLD_BYTES = 32 * 2**20  # glibc's largest (DEFAULT_MMAP_THRESHOLD_MAX, 64-bit)
#: free memory at the heap top kept before trimming (bytes)
TRIM_THRESHOLD_BYTES = 256 * 2**20


@functools.cache
def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds (once per process); True if they were set."""
    if not sys.platform.startswith("linux") or os.environ.get("EQP_KEEP_MALLOC") == "1":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
    return mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1 and ok
