"""Independent work of one round split across processes: the windows of one FIFO iteration, the local
calls of one NUWA-XL level.

Both read one snapshot (FIFO-Diffusion's multi-GPU script sends each window of the snapshot to
its own GPU; NUWA-XL runs a level's local calls in parallel), so each process computes its share,
writes it into a zero tensor, and a sum over processes (``all_reduce``, gloo on CPUs) gives every
process every result: adding zeros is exact, and each process then holds the same queue or
video for the next round. Processes come from ``accelerate launch`` (or torchrun) and accelerate
sets up the process group; noise is drawn identically everywhere, so the video is the one a
single process makes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Split:
    """This process's rank among ``world`` processes (one process: rank 0 of 1)."""

    rank: int = 0
    world: int = 1

    def mine(self, count: int) -> list[int]:
        """Which of ``count`` independent items this process computes (round robin)."""
        return list(range(self.rank, count, self.world))

    def merge(self, shares: torch.Tensor) -> torch.Tensor:
        """Sum of every process's ``shares`` (zero where a process computed nothing), in place."""
        if self.world > 1:
            import torch.distributed as dist

            dist.all_reduce(shares, op=dist.ReduceOp.SUM)
        return shares

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def process_split() -> Split:
    """This process's share under ``accelerate launch`` / torchrun (gloo on CPUs); one process otherwise."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return Split()
    from accelerate import PartialState

    state = PartialState(cpu=not torch.cuda.is_available())
    return Split(state.process_index, state.num_processes)
