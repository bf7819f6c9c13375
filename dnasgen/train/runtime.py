"""Where training runs: device (CUDA when present, else CPU), torchrun/DDP set-up, threads, AMP."""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

THREADS_ENV = "DNASGEN_THREADS"


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
    """The cores this process may run on (its CPU affinity), split over the node's processes.

    Deliberately not the load average: the thread count (and with it the last float bits of a
    reduction) must not depend on what else the machine happens to be doing.
    """
    return max(1, _cpu_cores() // max(1, processes))


def resolve_threads(threads: int | None = None, processes: int = 1) -> int:
    """Torch threads: `threads` (--threads), else $DNASGEN_THREADS, else `default_threads`.

    The default never guesses from the current load: the thread count changes the trained weights
    (different float reduction orders), so it must not depend on what else the machine is doing.
    Busy machines: `import dnasgen` sets OMP_WAIT_POLICY=PASSIVE (unless set), so OpenMP threads
    sleep instead of spinning while a sibling is descheduled; spinning made 2 threads on a loaded
    2-core box ~40x slower than 1 (12 vs 480 img/s passive, tests/benchmarks/test_bench_threads.py).
    """
    given, source = threads, "--threads"
    if given is None:
        given, source = os.environ.get(THREADS_ENV, "").strip() or None, THREADS_ENV
    if given is None:
        return default_threads(processes)
    try:
        value = int(given)
    except ValueError:
        value = 0
    if value < 1:
        from dnasgen.errors import BuildError
        raise BuildError(f"{source} must be a positive integer, got {given!r}")
    return value


def configure_threads(threads: int | None = None, processes: int = 1) -> int:
    """Set torch's intra-op threads to `resolve_threads(...)`; THE rule for training and scoring."""
    n = resolve_threads(threads, processes)
    torch.set_num_threads(n)
    return n


def setup_runtime(threads: int | None = None) -> Runtime:
    """Initialise the process group when launched by torchrun (WORLD_SIZE > 1).

    NCCL on GPUs, gloo on CPU. Torch threads: `threads`, else $DNASGEN_THREADS, else the
    available cores split over the processes of this node (`configure_threads`).
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
    configure_threads(threads, local_world)
    return Runtime(device, rank, world)


def to_input(x_u8: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 NHWC -> float32 NCHW (channels-last memory) with x = (u8 - 128) / 128.

    Same values as dnasgen.data.normalize; channels-last memory makes CPU (oneDNN) depthwise
    convolutions about twice as fast.
    """
    x = torch.from_numpy(np.require(x_u8, np.uint8, ["C", "W"])).to(device, non_blocking=True)
    x = x.permute(0, 3, 1, 2).float().sub_(128.0).div_(128.0)
    return x.contiguous(memory_format=torch.channels_last)
