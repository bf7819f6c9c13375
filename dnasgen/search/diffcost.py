"""Differentiable prices for `search.strategy: differentiable`, from THE cost model (dnasgen.cost).

The architecture parameters are one categorical *gene* per choice of the space: `data`
(resolution x colour), `width`, `depth{i}` per stage and `kernel{i}.{j}` / `expand{i}.{j}` per block
slot (j < the stage's largest depth). The genes are independent, so the expected cost under their
probabilities is a sum over per-choice terms, each priced with the cost model's own functions
(`op_flash_bytes`, `op_cycles`, `code_bytes`, `preprocess_*`) on graphs that `build_graph` makes:

- a block's ops depend only on (data, width, stage, slot, kernel, expand), so one full-depth graph per
  (data, width, kernel, expand) gives every block's flash, cycles and live bytes;
- flash and latency: exact expected values (a block counts with the probability that its stage is
  that deep; code: the ADD kernel and each depthwise kernel code (abi.dw_code: dw3, one dwk for every
  other size) with the probability that some block uses it, which is exact too because stages choose
  independently);
- peak RAM: the planner's live-set structure, a (smooth) max over the per-block live bytes (block
  input / skip tensor included). At a one-hot choice the hard max is the plan's `peak_live_bytes`
  (the arena's lower bound, which the planner reaches on ~99 % of MobileNetV2s); the search uses the
  exact planner value of the sampled architecture forward and this surrogate's gradient backward.
torch is imported by the functions that compute with tensors only.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np

from dnasgen.abi import dw_code
from dnasgen.candidate import ArchConfig, Candidate, SearchSpace, StageConfig
from dnasgen.cost.footprint import (code_bytes, op_flash_bytes, preprocess_code_bytes, preprocess_planes,
                                    preprocess_ram_bytes, static_ram_bytes)
from dnasgen.cost.inplace import DEFAULT_MEMORY
from dnasgen.cost.memory import step_live_bytes
from dnasgen.cost.latency import op_cycles
from dnasgen.cost.model import core_coefficients
from dnasgen.graph import build_graph

ALWAYS_KINDS = ("conv", "dwconv", "mean", "fc")       # every candidate has a stem, blocks, pool, classifier
BASE_OPS = ("stem", "head", "pool", "classifier")


def gene_options(space: SearchSpace) -> dict[str, tuple]:
    """Gene name -> its options, in a fixed order."""
    genes: dict[str, tuple] = {"data": tuple(space.data_configs()), "width": tuple(space.widths)}
    for i, depths in enumerate(space.depths):
        genes[f"depth{i}"] = tuple(depths)
    for i, depths in enumerate(space.depths):
        for j in range(max(depths)):
            genes[f"kernel{i}.{j}"] = tuple(space.kernels)
            genes[f"expand{i}.{j}"] = space.expand_choices(i)
    return genes


def decode(space: SearchSpace, index: dict[str, int]) -> Candidate:
    """The candidate of one option index per gene (block slots beyond a stage's depth are unused)."""
    opts = gene_options(space)
    stages = []
    for i in range(len(space.depths)):
        d = opts[f"depth{i}"][index[f"depth{i}"]]
        stages.append(StageConfig(d, tuple(opts[f"kernel{i}.{j}"][index[f"kernel{i}.{j}"]] for j in range(d)),
                                  tuple(opts[f"expand{i}.{j}"][index[f"expand{i}.{j}"]] for j in range(d))))
    return Candidate(opts["data"][index["data"]], ArchConfig(opts["width"][index["width"]], tuple(stages)))


def encode(space: SearchSpace, cand: Candidate) -> dict[str, int]:
    """The gene indices of a candidate (unused block slots take option 0)."""
    opts = gene_options(space)
    index = {"data": opts["data"].index(cand.data), "width": opts["width"].index(cand.arch.width)}
    for i, st in enumerate(cand.arch.stages):
        index[f"depth{i}"] = opts[f"depth{i}"].index(st.depth)
        for j in range(max(space.depths[i])):
            index[f"kernel{i}.{j}"] = opts[f"kernel{i}.{j}"].index(st.kernel[j]) if j < st.depth else 0
            index[f"expand{i}.{j}"] = opts[f"expand{i}.{j}"].index(st.expand[j]) if j < st.depth else 0
    return index


@dataclass
class CostTables:
    """Per-choice cost terms (numpy). D data configs, W widths, per stage J slots, K kernels, E expands."""
    base_flash: np.ndarray        # [D, W] stem/head/pool/classifier + always-present code + preprocessing code
    base_cycles: np.ndarray       # [D, W]
    base_live: np.ndarray         # [D, W] max live bytes over the non-block ops
    ram_extra: np.ndarray         # [D, W] stack + static + scratch (largest) + preprocessing buffer
    block_flash: list             # per stage [D, W, J, K, E]
    block_cycles: list
    block_live: list              # per stage [D, W, J, K, E] max live bytes over the block's ops
    add_first: np.ndarray         # [W, stages] first slot with a residual ADD (-1: none)
    add_code: float               # the ADD kernel's code bytes
    dw_code: np.ndarray           # [U] code bytes of each depthwise kernel code (abi.dw_code: dw3, dwk)
    clock_khz: float
    dw_uses: np.ndarray           # [U, K] 1 where kernel size k runs on code u


def _block_rows(graph, ops_cycles, live) -> dict[str, list]:
    """Per op-name prefix (s{i}b{j}, or a base op): [flash, cycles, max live bytes]."""
    rows: dict[str, list] = {}
    for op, cyc, lv in zip(graph.ops, ops_cycles, live):
        key = op.name.split(".")[0]
        row = rows.setdefault(key, [0.0, 0.0, 0.0])
        row[0] += op_flash_bytes(op)
        row[1] += cyc
        row[2] = max(row[2], lv)
    return rows


def _full_depth(space: SearchSpace, data, width: float, kernel: int, expand: int) -> Candidate:
    stages = tuple(StageConfig(max(d), (kernel,) * max(d), (space.expand_choices(i)[0] if i == 0 else expand,)
                               * max(d)) for i, d in enumerate(space.depths))
    return Candidate(data, ArchConfig(width, stages))


def _empty(space: SearchSpace, n_data: int, n_width: int) -> list:
    return [np.zeros((n_data, n_width, max(d), len(space.kernels), len(space.expand_choices(i))))
            for i, d in enumerate(space.depths)]


def build_tables(space: SearchSpace, num_classes: int, head_channels: int, core: str, clock_mhz: float,
                 sensor_format: str | None, memory: str = DEFAULT_MEMORY) -> CostTables:
    """The per-choice terms, priced on one full-depth graph per (data, width, kernel, expand); live
    bytes in the memory mode `memory` (an in-place pair's input and output only depend on its block)."""
    datas, widths, stages = space.data_configs(), space.widths, range(len(space.depths))
    coeffs = core_coefficients(core)
    shape = (len(datas), len(widths))
    base = [np.zeros(shape) for _ in range(4)]
    blocks = [_empty(space, *shape) for _ in range(3)]
    add_first = -np.ones((len(widths), len(space.depths)), dtype=np.int64)
    for (a, data), (b, width), (c, kernel), (e, expand) in product(
            enumerate(datas), enumerate(widths), enumerate(space.kernels), enumerate(space.expands)):
        graph = build_graph(_full_depth(space, data, width, kernel, expand), num_classes, head_channels)
        rows = _block_rows(graph, [op_cycles(op, coeffs) for op in graph.ops], step_live_bytes(graph, mode=memory))
        base[0][a, b] = sum(rows[n][0] for n in BASE_OPS) + preprocess_code_bytes(sensor_format, data.channels)
        base[1][a, b] = sum(rows[n][1] for n in BASE_OPS)
        base[2][a, b] = max(rows[n][2] for n in BASE_OPS)
        planes = preprocess_planes(sensor_format, data.channels)
        base[3][a, b] = max(base[3][a, b], static_ram_bytes(graph) + preprocess_ram_bytes(data.resolution, planes))
        for i in stages:
            for j in range(max(space.depths[i])):
                if i == 0 and e > 0:
                    continue                    # stage 0 never expands: one option
                for table, value in zip(blocks, rows[f"s{i}b{j}"]):
                    table[i][a, b, j, c, e] = value
                if f"s{i}b{j}.add" in graph.tensors and add_first[b, i] < 0:
                    add_first[b, i] = j
    base[0] += code_bytes(ALWAYS_KINDS, ())
    none = code_bytes(ALWAYS_KINDS, ())
    units = sorted({dw_code(k, k) for k in space.kernels})
    return CostTables(*base, *blocks, add_first, float(code_bytes(ALWAYS_KINDS + ("add",), ()) - none),
                      np.array([code_bytes(ALWAYS_KINDS, (u,)) - none for u in units], float),
                      float(clock_mhz) * 1000.0,
                      np.array([[float(dw_code(k, k) == u) for k in space.kernels] for u in units]))


def tables_for_spec(spec) -> CostTables:
    """build_tables with the spec's space, classes, head, board core/clock and sensor pixel format."""
    return build_tables(spec.space, spec.num_classes, spec.space.head_channels, spec.board.core,
                        spec.board.clock_mhz, spec.sensor.pixel_format, spec.export.memory)


# ---- relaxed costs (torch): probs maps every gene name to a probability vector over its options ----
def _t(array, like):
    import torch
    return torch.as_tensor(array, dtype=like.dtype, device=like.device)


def torch_tables(ct: CostTables, dtype=None, device=None) -> CostTables:
    """The tables as tensors once (a search step then converts nothing)."""
    import torch
    dtype = dtype or torch.float32

    def conv(x):
        return torch.as_tensor(x, dtype=dtype, device=device)
    return CostTables(conv(ct.base_flash), conv(ct.base_cycles), conv(ct.base_live), conv(ct.ram_extra),
                      [conv(t) for t in ct.block_flash], [conv(t) for t in ct.block_cycles],
                      [conv(t) for t in ct.block_live], ct.add_first, ct.add_code, conv(ct.dw_code), ct.clock_khz,
                      conv(ct.dw_uses))


def _stage_probs(space: SearchSpace, probs: dict, i: int):
    """(kernel [J, K], expand [J, E], P(slot j exists) [J]) of stage i."""
    import torch
    slots, depths = range(max(space.depths[i])), space.depths[i]
    pk = torch.stack([probs[f"kernel{i}.{j}"] for j in slots])
    pe = torch.stack([probs[f"expand{i}.{j}"] for j in slots])
    exists = _t([[1.0 if d > j else 0.0 for d in depths] for j in slots], pk) @ probs[f"depth{i}"]
    return pk, pe, exists


def _blocks(space: SearchSpace, tables: list, probs: dict, like):
    """[D, W]: sum over block slots of P(slot exists) x the expected block term."""
    total = 0.0
    for i, table in enumerate(tables):
        pk, pe, exists = _stage_probs(space, probs, i)
        total = total + (_t_einsum("dwjke,jk,je->dwj", _t(table, like), pk, pe) * exists).sum(-1)
    return total


def _t_einsum(eq: str, *ops):
    import torch
    return torch.einsum(eq, *ops)


def _add_probability(space: SearchSpace, ct: CostTables, probs: dict, like):
    """[W]: P(some block has a residual ADD) = 1 - prod over stages of P(not deep enough for one)."""
    import torch
    exists = [_stage_probs(space, probs, i)[2] for i in range(len(space.depths))]
    out = []
    for w in range(len(space.widths)):
        none = _t(1.0, like)
        for i, j in enumerate(ct.add_first[w]):
            if j >= 0:
                none = none * (1 - exists[i][j])
        out.append(1 - none)
    return torch.stack(out)


def _dw_code(space: SearchSpace, ct: CostTables, probs: dict, like):
    """Expected depthwise code: each kernel code (dw3, dwk) with the probability that some block uses
    a kernel size that runs on it."""
    import torch
    unused = _t(np.ones(len(ct.dw_code)), like)
    uses = _t(ct.dw_uses, like)                                   # [U, K]
    for i, depths in enumerate(space.depths):
        pk, _, _ = _stage_probs(space, probs, i)
        kept = torch.cumprod(1 - pk @ uses.T, dim=0)              # [J, U]: slots 0..j all avoid code u
        unused = unused * sum(probs[f"depth{i}"][a] * kept[d - 1] for a, d in enumerate(depths))
    return (_t(ct.dw_code, like) * (1 - unused)).sum()


def _over_data(probs: dict, per_dw):
    return _t_einsum("d,w,dw->", probs["data"], probs["width"], per_dw)


def expected_flash(space: SearchSpace, ct: CostTables, probs: dict):
    like = probs["data"]
    per_dw = (_t(ct.base_flash, like) + _blocks(space, ct.block_flash, probs, like)
              + ct.add_code * _add_probability(space, ct, probs, like)[None, :])
    return _over_data(probs, per_dw) + _dw_code(space, ct, probs, like)


def expected_latency_ms(space: SearchSpace, ct: CostTables, probs: dict):
    like = probs["data"]
    return _over_data(probs, _t(ct.base_cycles, like) + _blocks(space, ct.block_cycles, probs, like)) / ct.clock_khz


def peak_live_by_data(space: SearchSpace, ct: CostTables, probs: dict, smooth: float | None = 0.05):
    """[D, W]: per (data, width), the max over ops of the live bytes (P(exists)-weighted expected block
    terms); smooth: logsumexp temperature as a share of the largest term, None: the hard max."""
    import torch
    like = probs["data"]
    terms = [_t(ct.base_live, like)]
    for i, table in enumerate(ct.block_live):
        pk, pe, exists = _stage_probs(space, probs, i)
        per = _t_einsum("dwjke,jk,je->dwj", _t(table, like), pk, pe) * exists
        terms += [per[..., j] for j in range(per.shape[-1])]
    stacked = torch.stack(terms, dim=-1)
    if smooth is None:
        return stacked.amax(-1)
    tau = smooth * stacked.detach().amax()
    return tau * torch.logsumexp(stacked / tau, dim=-1)


def peak_live(space: SearchSpace, ct: CostTables, probs: dict, smooth: float | None = 0.05):
    """peak_live_by_data's expectation over (data, width)."""
    return _over_data(probs, peak_live_by_data(space, ct, probs, smooth))


def ram_by_data(space: SearchSpace, ct: CostTables, probs: dict, smooth: float | None = 0.05):
    """[D, W]: the RAM surrogate per (data, width): peak live bytes + stack, static, scratch, preprocessing."""
    return peak_live_by_data(space, ct, probs, smooth) + _t(ct.ram_extra, probs["data"])


def expected_ram_violation(space: SearchSpace, ct: CostTables, probs: dict, budget: float):
    """E over (data, width) of max(0, RAM surrogate / budget - 1): configurations that fit cost nothing."""
    import torch
    return _over_data(probs, torch.relu(ram_by_data(space, ct, probs) / budget - 1.0))


def relaxed_costs(space: SearchSpace, ct: CostTables, probs: dict, smooth: float | None = 0.05) -> dict:
    """flash_bytes and latency_ms (exact expectations), ram_bytes (peak-live surrogate + overheads)."""
    return {"flash_bytes": expected_flash(space, ct, probs), "latency_ms": expected_latency_ms(space, ct, probs),
            "ram_bytes": _over_data(probs, ram_by_data(space, ct, probs, smooth))}


def one_hot(space: SearchSpace, cand: Candidate, dtype=None) -> dict:
    """Probabilities that put all mass on a candidate's options (unused slots: option 0)."""
    import torch
    opts, index = gene_options(space), encode(space, cand)
    return {g: torch.nn.functional.one_hot(torch.tensor(index[g]), len(o)).to(dtype or torch.float64)
            for g, o in opts.items()}
