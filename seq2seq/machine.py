"""What machine this is: processor model and the instruction sets that matter for speed."""

from __future__ import annotations

import platform
from pathlib import Path

ISA = ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16")


def _cpuinfo_field(name: str) -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(name):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    return _cpuinfo_field("model name") or platform.processor() or platform.machine()


def cpu_isa() -> list[str]:
    """The speed-relevant instruction sets this CPU has (from /proc/cpuinfo flags)."""
    flags = set((_cpuinfo_field("flags") or "").split())
    return [f for f in ISA if f in flags]
