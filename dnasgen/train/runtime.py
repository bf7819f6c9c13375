"""Where training runs: device (CUDA when present, else CPU), torchrun/DDP set-up, threads, AMP."""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    rank: int = 0
    world: int = 1

    @property
    def distributed(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def autocast(self):
        """Mixed precision (bf16) on CUDA, plain fp32 elsewhere."""
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()


def _cpu_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:       # not Linux
        return os.cpu_count() or 1


def default_threads(processes: int = 1) -> int:
    """Cores per process, minus the cores other work already keeps busy (load average).

    Oversubscribed OpenMP threads spin on barriers: on a shared 2-core machine two threads
    ran 4x slower than one.
    """
    cores = _cpu_cores()
    try:
        busy = int(os.getloadavg()[0])
    except (AttributeError, OSError):
        busy = 0
    return max(1, min(cores - busy, cores) // max(1, processes))


def setup_runtime(threads: int | None = None) -> Runtime:
    """Initialise the process group when launched by torchrun (WORLD_SIZE > 1).

    NCCL on GPUs, gloo on CPU. Torch threads: `threads`, else $DNASGEN_THREADS, else the
    free cores split over the processes of this node (`default_threads`).
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", os.environ.get("RANK", "0")))
    cuda = torch.cuda.is_available()
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    rank = dist.get_rank() if dist.is_initialized() else 0
    world = dist.get_world_size() if dist.is_initialized() else 1
    if cuda:
        device = torch.device("cuda", local_rank % torch.cuda.device_count())
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    threads = threads or int(os.environ.get("DNASGEN_THREADS", "0"))
    torch.set_num_threads(threads or default_threads(local_world))
    return Runtime(device, rank, world)


def to_input(x_u8: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 NHWC -> float32 NCHW (channels-last memory) with x = (u8 - 128) / 128.

    Same values as dnasgen.data.normalize; channels-last memory makes CPU (oneDNN) depthwise
    convolutions about twice as fast.
    """
    x = torch.from_numpy(np.require(x_u8, np.uint8, ["C", "W"])).to(device, non_blocking=True)
    x = x.permute(0, 3, 1, 2).float().sub_(128.0).div_(128.0)
    return x.contiguous(memory_format=torch.channels_last)
