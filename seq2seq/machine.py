"""What machine this is: processor model and the instruction sets that matter for speed."""

from __future__ import annotations

import functools
import platform
from pathlib import Path

ISA = ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16")


@functools.cache
def _proc_cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def _cpuinfo(text: str | None = None) -> dict[str, str]:
    """The first processor's fields of `text` or /proc/cpuinfo (empty where there is none)."""
    if text is None:
        text = _proc_cpuinfo()
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            break  # the end of the first processor's block
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def cpu_model(text: str | None = None) -> str:
    """The processor's name, with its family and model numbers where the name alone does not
    tell generations apart (a virtual machine's "AMD EPYC" is Zen 3 at family 25 model 1 and
    Zen 4 at family 25 model 17)."""
    info = _cpuinfo(text)
    name = info.get("model name") or platform.processor() or platform.machine()
    if "cpu family" in info and "model" in info:
        name += f" (family {info['cpu family']}, model {info['model']})"
    return name


def cpu_isa(text: str | None = None) -> list[str]:
    """The speed-relevant instruction sets this CPU has (from /proc/cpuinfo flags)."""
    flags = set(_cpuinfo(text).get("flags", "").split())
    return [f for f in ISA if f in flags]
