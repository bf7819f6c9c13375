"""Distributed training: 2 CPU processes (gloo, as under torchrun) end with identical weights."""
import hashlib
import os
import socket
import textwrap

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

SPEC = """
name: tiny-ddp
task: {classes: [a, b]}
dataset: {source: synthetic, seed: 5, image_size: 32, color_decisive: false, object_size: large,
          samples: {train: 64, val: 16, test: 16}}
sensor: {width: 32, height: 32, pixel_format: rgb888}
data_options: {resolutions: [24], colors: [grayscale, rgb]}
search_space: {widths: [0.25], depths: [[1], [1], [1], [1, 2], [1], [1], [1]], kernels: [3, 5],
               expands: [2, 3], head_channels: 32}
board: {id: qemu-mps2-an386}
train: {epochs: 2, batch_size: 16, random_subnets: 1, bn_recal_samples: 16}
"""


def _digest(model: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        if value.is_floating_point():
            h.update(key.encode() + value.detach().cpu().numpy().tobytes())
    return h.hexdigest()


def _worker(rank: int, world: int, port: int, spec_path: str, work: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world),
                      RANK=str(rank), LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world))
    from dnasgen.spec import load_spec
    from dnasgen.train import train_supernet
    spec = load_spec(spec_path)
    out = []
    train_supernet(spec, work, threads=1,
                   callback=lambda record, model: out.append((record["epoch"], _digest(model))))
    with open(os.path.join(work, f"rank{rank}.txt"), "w") as fh:
        fh.write("\n".join(f"{e} {d}" for e, d in out))
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_ranks_end_with_identical_weights(tmp_path):
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(textwrap.dedent(SPEC))
    work = tmp_path / "work"
    mp.spawn(_worker, args=(2, _free_port(), str(spec_path), str(work)), nprocs=2, join=True)
    ranks = [(work / f"rank{r}.txt").read_text().split("\n") for r in range(2)]
    assert len(ranks[0]) == 2 and ranks[0] == ranks[1]
    assert ranks[0][0].split()[1] != ranks[0][1].split()[1]      # weights moved in epoch 2
    from dnasgen.nn import load_supernet
    assert _digest(load_supernet(work / "supernet.pt")) == ranks[0][1].split()[1]
