"""The allocator settings are applied at start-up in a fresh process, change how glibc reuses
memory, and can be turned off."""

import json
import os
import platform
import subprocess
import sys

import pytest

from seq2seq.memory import CACHE_ENV, ENV

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc",
                                reason="mallopt tuning exists only on glibc")

PROBE = """
import ctypes, json, resource
import os
from seq2seq.memory import CACHE_ENV, tune_memory
setting = tune_memory()
caches = [os.environ.get(k) for k in CACHE_ENV]
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
size = 24 << 20  # over glibc's initial mmap threshold (128 KiB), under the 32 MiB cap
faults = []
for _ in range(3):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    p = libc.malloc(size)
    ctypes.memset(p, 1, size)
    libc.free(ctypes.c_void_p(p))
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps({"setting": setting, "faults": faults, "caches": caches}))
"""


def run_probe(**env) -> dict:
    full = {k: v for k, v in os.environ.items() if k != ENV and k not in CACHE_ENV}
    out = subprocess.run([sys.executable, "-c", PROBE], env={**full, **env}, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def test_tuned_allocator_keeps_freed_memory_for_the_next_step():
    r = run_probe()
    assert r["setting"] == "malloc tuned, oneDNN/ideep caches 64/4"
    assert r["caches"] == ["64", "4"]  # in the environment that oneDNN and ideep read
    pages = (24 << 20) // 4096
    assert r["faults"][0] >= pages // 2  # the first use of the memory faults it in
    assert max(r["faults"][1:]) < pages // 20  # later steps reuse it: no new page faults


def test_turned_off_leaves_glibc_defaults():
    r = run_probe(SEQ2SEQ_MALLOC="system", ONEDNN_PRIMITIVE_CACHE_CAPACITY="1024",
                  LRU_CACHE_CAPACITY="512")
    assert r["setting"] == "malloc system, oneDNN/ideep caches 1024/512"  # a user's own wins
    assert r["caches"] == ["1024", "512"]
    pages = (24 << 20) // 4096
    assert r["faults"][1] >= pages // 2  # glibc gave the block back and faults it in again


@pytest.mark.slow
def test_unknown_setting_is_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-c", "from seq2seq.memory import tune_malloc; "
                        "from seq2seq.errors import reported_errors\n"
                        "with reported_errors(): tune_malloc()"],
                       env={**os.environ, "SEQ2SEQ_MALLOC": "fast"}, capture_output=True,
                       text=True)
    assert r.returncode == 2
    assert r.stderr.strip() == "error: SEQ2SEQ_MALLOC=fast: choose tuned or system"
