"""Self-describing checkpoints: constructor arguments travel with the weights (nanoGPT style)."""
from __future__ import annotations

import pickle
from pathlib import Path

import torch

from dnasgen.candidate import Candidate, SearchSpace
from dnasgen.errors import DnasgenError
from dnasgen.io import atomic_path

CHECKPOINT_VERSION = 1


def space_to_dict(space: SearchSpace) -> dict:
    return {"resolutions": list(space.resolutions), "colors": list(space.colors),
            "widths": list(space.widths), "depths": [list(d) for d in space.depths],
            "kernels": list(space.kernels), "expands": list(space.expands),
            "head_channels": space.head_channels, "num_classes": space.num_classes}


def space_from_dict(obj: dict) -> SearchSpace:
    return SearchSpace(resolutions=tuple(obj["resolutions"]), colors=tuple(obj["colors"]),
                       widths=tuple(obj["widths"]), depths=tuple(tuple(d) for d in obj["depths"]),
                       kernels=tuple(obj["kernels"]), expands=tuple(obj["expands"]),
                       head_channels=int(obj["head_channels"]), num_classes=int(obj["num_classes"]))


def atomic_torch_save(obj: dict, path: Path) -> Path:
    """torch.save to a temp file in the same directory, then os.replace (dnasgen.io.atomic_path).
    Saved through a file object: the archive's inner folder is then "archive", not the temp file's
    random name, so the same checkpoint always has the same bytes (and sha256)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        torch.save(obj, fh)
    return Path(path)


def read_checkpoint(path: Path, kind: str) -> dict:
    """The checkpoint dict at `path`, checked to be of `kind` and this version; else DnasgenError."""
    path = Path(path)
    if not path.is_file():
        raise DnasgenError(f"{path}: no such checkpoint")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError) as exc:   # truncated / not torch
        raise DnasgenError(f"{path}: not a readable {kind} checkpoint ({exc})") from exc
    if not isinstance(obj, dict) or obj.get("kind") != kind:
        raise DnasgenError(f"{path}: not a {kind} checkpoint")
    if obj.get("version") != CHECKPOINT_VERSION:
        raise DnasgenError(f"{path}: {kind} checkpoint version {obj.get('version')!r}, expected "
                           f"{CHECKPOINT_VERSION}; run the stage again")
    return obj


def supernet_payload(model) -> dict:
    """The self-describing part of a supernet checkpoint (training adds its own state)."""
    return {"kind": "supernet", "version": CHECKPOINT_VERSION, "space": space_to_dict(model.space),
            "options": model.options,
            "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}}


def copy_matching(model, path: Path) -> tuple[int, int]:
    """Copy every tensor of the supernet checkpoint at `path` whose name and shape match `model`'s;
    (tensors copied, tensors of the model)."""
    source = read_checkpoint(path, "supernet")["state_dict"]
    own = model.state_dict()
    match = {k: v for k, v in source.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict({**own, **match})
    return len(match), len(own)


def save_supernet(model, path: Path) -> Path:
    return atomic_torch_save(supernet_payload(model), path)


def load_supernet(path: Path):
    from dnasgen.nn.supernet import Supernet
    obj = read_checkpoint(path, "supernet")
    model = Supernet(space_from_dict(obj["space"]), **obj.get("options", {}))
    model.load_state_dict(obj["state_dict"])
    return model.eval()


def save_static(net, path: Path, **extra) -> Path:
    payload = {"kind": "static", "version": CHECKPOINT_VERSION, **net.init_kwargs(),
               "state_dict": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()},
               "extra": extra}
    return atomic_torch_save(payload, path)


def load_static(path: Path):
    from dnasgen.nn.static import StaticNet
    obj = read_checkpoint(path, "static")
    net = StaticNet(Candidate.from_dict(obj["candidate"]), int(obj["num_classes"]),
                    int(obj["head_channels"]))
    net.load_state_dict(obj["state_dict"])
    return net.eval()
