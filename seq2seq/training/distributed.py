"""Several training processes with torch.distributed: `torchrun --nproc_per_node=N
-m seq2seq.cli.train ...` (and its rendezvous options for several machines).

Everything the training loop needs to know about ranks lives here: which process this is, the
process group (gloo on CPU, nccl on CUDA), each rank's share of a step's batches, and the few
collective decisions (stop, validation results) that must reach every rank. With one process
(no torchrun) every call is a cheap no-op, so the loop reads the same either way.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..errors import Seq2SeqError


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    backend: str | None = None  # None: a single process, no process group

    @property
    def main(self) -> bool:
        """Rank 0 validates, logs and writes every file."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def share(self, batches: list, accumulate: int) -> list:
        """This rank's batches of one step, given the step's `world * accumulate` batches in the
        shared order: rank r takes the r-th block of `accumulate` batches, so N ranks together
        see exactly the batches one process would see with N times the accumulation."""
        return batches[self.rank * accumulate: (self.rank + 1) * accumulate]

    def max(self, values: list[int]) -> list[int]:
        """Element-wise largest of every rank's `values`, on every rank (e.g. "Ctrl-C reached
        one")."""
        if not self.active:
            return values
        t = torch.tensor(values, dtype=torch.int64, device=self._device())
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return t.tolist()

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sums over every rank (e.g. the training loss of each rank's share)."""
        if not self.active:
            return values
        t = torch.tensor(values, dtype=torch.float64, device=self._device())
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t.tolist()

    def broadcast(self, obj):
        """Rank 0's `obj` on every rank (a small picklable value: a decision, a metrics row)."""
        if not self.active:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0, device=self._device())
        return box[0]

    def gather(self, obj) -> list | None:
        """Every rank's `obj`, on rank 0 (None elsewhere)."""
        if not self.active:
            return [obj]
        out = [None] * self.world if self.main else None
        dist.gather_object(obj, out, dst=0)
        return out

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def _device(self) -> torch.device:
        return torch.device("cuda", self.local_rank) if self.backend == "nccl" else \
            torch.device("cpu")

    def close(self) -> None:
        if self.active and dist.is_initialized():
            dist.destroy_process_group()


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def init_distributed(device: str, backend: str, timeout_minutes: float) -> Dist:
    """A `Dist` for this process: from torchrun's environment, else a single process.

    `backend`: auto (nccl on CUDA, gloo on CPU), gloo or nccl. A collective that waits longer
    than `timeout_minutes` (a rank died or hangs) fails instead of waiting forever.
    """
    if not launched_by_torchrun() or int(os.environ["WORLD_SIZE"]) == 1:
        return Dist()
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if backend == "auto":
        backend = "nccl" if device == "cuda" else "gloo"
    if backend == "nccl" and device != "cuda":
        raise Seq2SeqError("train.dist_backend=nccl needs train.device=cuda; use gloo on the CPU")
    if device == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise Seq2SeqError(f"local rank {local_rank} but only {torch.cuda.device_count()} "
                               f"CUDA devices; start at most that many processes per machine")
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend, rank=rank, world_size=world,
                            timeout=datetime.timedelta(minutes=timeout_minutes))
    return Dist(rank, world, local_rank, backend)
