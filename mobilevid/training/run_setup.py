"""Starting a training run: the accelerator, the seed, the run record and the TensorBoard tracker."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator, DistributedDataParallelKwargs

from mobilevid.seeding import record_run, seed_everything


def start_run(out: Path, mixed_precision: str, seed: int, record: dict[str, Any], argv: list[str] | None,
              tracker: str) -> Accelerator:
    """An ``Accelerator`` for ``out``, seeded, with ``run.json`` written by the main process."""
    if mixed_precision == "bf16" and not torch.cuda.is_available() and not cpu_has_native_bf16():
        warnings.warn("bf16 autocast on a CPU without native bf16 (AVX512-BF16/AMX) is emulated and was ~6x "
                      "slower per step than fp32 on a 2-core AVX2 EPYC: pass --set mixed_precision=no", stacklevel=2)
    # cpu=True without CUDA: launched with several processes, accelerate then uses gloo (MULTI_CPU).
    # Some inputs (visual condition, pooled text) are used only in some steps: DDP must allow unused parameters.
    acc = Accelerator(cpu=not torch.cuda.is_available(), mixed_precision=mixed_precision, log_with="tensorboard",
                      project_dir=str(out / "logs"),
                      kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)])
    seed_everything(seed)
    if acc.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        record_run(out, {**record, "num_processes": acc.num_processes, "backend": str(acc.state.backend)}, argv)
    acc.init_trackers(tracker)
    return acc


def cpu_has_native_bf16() -> bool:
    """Whether oneDNN runs bf16 natively on this CPU (AVX512-BF16 or AMX); else autocast emulates it."""
    # torch has no public query for this; oneDNN's own check is what autocast's kernels depend on.
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
