"""Process-level tuning for JAX on a small CPU: glibc allocator settings and the compilation cache.

Nothing here imports jax at module level, so importing it is free and it can run before jax starts.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_ALLOCATOR_TUNED = False
_JAX_CONFIGURED = False

# mallopt parameter numbers from glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3


def tune_allocator() -> bool:
    """Keep glibc from returning XLA's per-step scratch buffers to the kernel.

    XLA allocates and frees the same large temporaries every step. With glibc's defaults each one is
    an mmap/munmap pair and fresh pages are faulted in again, which showed up as seconds of system
    time per hundred steps. Raising the mmap and trim thresholds keeps them in the heap.
    Returns True when the settings were applied (glibc on Linux only).
    """
    global _ALLOCATOR_TUNED
    if _ALLOCATOR_TUNED:
        return True
    if not sys.platform.startswith("linux") or os.environ.get("TRAINING_EXPLORER_NO_MALLOPT"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl or another libc: leave it alone
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = bool(mallopt(_M_MMAP_THRESHOLD, 1 << 30))  # 1 GiB: nearly every buffer stays in the heap
    ok &= bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))  # never trim the top of the heap
    ok &= bool(mallopt(_M_TOP_PAD, 256 << 20))  # grow the heap in 256 MiB strides
    _ALLOCATOR_TUNED = ok
    return ok


def configure_jax() -> None:
    """Point JAX's persistent compilation cache at the user's cache folder.

    A repeat run then loads its compiled train step instead of compiling it again (seconds on 2 cores).
    Called once, lazily, by the modules that jit.
    """
    global _JAX_CONFIGURED
    if _JAX_CONFIGURED:
        return
    import jax

    from engine.user_paths import compilation_cache_dir

    try:
        jax.config.update("jax_compilation_cache_dir", str(compilation_cache_dir()))
        # Our steps compile in ~1-2 s: cache them all, not only the slow ones.
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    except (AttributeError, ValueError, OSError):  # an older jax without these options still works
        pass
    _JAX_CONFIGURED = True
