"""Process memory settings applied at start-up: glibc's allocator and the oneDNN kernel caches.

**glibc malloc.** Keep the allocator from handing memory back to the kernel after every step.

A training step allocates and frees the same large buffers again and again. With glibc's
defaults, freed memory at the top of the heap beyond a threshold is returned to the kernel
(`trim`), and buffers over the mmap threshold get fresh pages from the kernel each time, so the
next step pays a page fault for every 4 KiB it touches. `tune_malloc` raises both thresholds
through `mallopt` at start-up: memory freed by one step is kept for the next, bounded by the
peak of a step. Every entry point calls it first; `SEQ2SEQ_MALLOC=system` in the environment
leaves glibc's defaults in place. On other C libraries (macOS, musl) it does nothing.

**oneDNN.** bf16 matrix products on the CPU run in oneDNN, which compiles and keeps a kernel
(with its buffers, a few MB) for every distinct matrix shape, up to 1,024 of them by default;
token-bucketed batches have many shapes, so bf16 training grew by GBs. Two caches hold them:
oneDNN's own (`ONEDNN_PRIMITIVE_CACHE_CAPACITY`) and, in front of it, PyTorch's ideep layer's
cache of ready computations with their reordered weights (`LRU_CACHE_CAPACITY`, 1,024 by
default, about 8 MB an entry here). `bound_onednn_cache` sets both capacities (`CACHE_ENV`),
unless the user has set either variable. Measured on 2 cores of an Intel
Xeon with AMX (bf16 training steps of the default model on Multi30k batches): 1,550 MB peak RSS
with only oneDNN's cache bounded, 830 MB with both, at the same speed or a little faster.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

ENV = "SEQ2SEQ_MALLOC"  # "system": leave the allocator alone; "tuned" (default): see below

# mallopt parameters (glibc malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

SETTINGS = {
    # Freed memory at the heap top stays mapped up to this much (glibc default: 128 KiB,
    # growing with the largest freed mmap chunk up to 64 MiB).
    M_TRIM_THRESHOLD: 1 << 30,
    # Blocks up to this size come from the heap, not from a fresh mmap; 32 MiB is glibc's
    # largest allowed value on 64-bit systems.
    M_MMAP_THRESHOLD: 32 << 20,
}

CACHE_ENV = {  # the caches' environment variables (both 1,024 by default) and their bounds
    "ONEDNN_PRIMITIVE_CACHE_CAPACITY": 64,  # oneDNN's primitives: each costs memory, each miss
                                            # a recompilation
    "LRU_CACHE_CAPACITY": 4,  # ideep's ready computations: a miss rebuilds one from oneDNN's
}

_applied: str | None = None


def bound_onednn_cache() -> str:
    """Cap oneDNN's and ideep's kernel caches (read when they first run); returns both
    capacities, as "oneDNN/ideep"."""
    return "/".join(os.environ.setdefault(k, str(v)) for k, v in CACHE_ENV.items())


def tune_memory() -> str:
    """Both settings; returns a description of what is in effect (for logs and benchmarks)."""
    return f"malloc {tune_malloc()}, oneDNN/ideep caches {bound_onednn_cache()}"


def tune_malloc(mode: str | None = None) -> str:
    """Apply the allocator settings once per process; returns what is in effect:
    "tuned", "system" (turned off), or "unsupported" (not glibc)."""
    global _applied
    mode = mode or os.environ.get(ENV, "tuned")
    if mode not in ("tuned", "system"):
        from .errors import Seq2SeqError

        raise Seq2SeqError(f"{ENV}={mode}: choose tuned or system")
    if _applied is not None:
        return _applied
    if mode == "system":
        _applied = "system"
        return _applied
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        _applied = "unsupported"
        return _applied
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    ok = all(libc.mallopt(param, value) == 1 for param, value in SETTINGS.items())
    _applied = "tuned" if ok else "unsupported"
    return _applied


def memory_setting() -> str:
    """What is in effect in this process, without changing anything."""
    capacity = "/".join(os.environ.get(k, "1024") for k in CACHE_ENV)
    return f"malloc {_applied or 'not applied'}, oneDNN/ideep caches {capacity}"
