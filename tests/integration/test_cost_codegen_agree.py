"""The cost model prices what codegen lays out, fact for fact, without a compiler.

For real exported models (both colours, kernels 3/5/7, a 1280-input classifier whose widened input
is the largest DSP scratch): every op lowers to the kernel the cost model assumes, its constant
arrays have the byte sizes the cost model counts, the cost model's DSP scratch is codegen's
DN_SCRATCH_WORDS, and its arrays + descriptors + input table are codegen's DN_MODEL_DATA_BYTES
exactly. (tests/integration/test_cost_footprint.py compares the totals with arm-none-eabi-size.)
"""
from __future__ import annotations

import random

import pytest

from dnasgen import abi
from dnasgen.candidate import DataConfig, SearchSpace

SPACE = SearchSpace(resolutions=(32, 40), colors=("grayscale", "rgb"), widths=(0.25, 0.35), kernels=(3, 5, 7),
                    expands=(1, 3, 6), depths=((1,), (1, 2), (1, 2), (1, 2), (1,), (1, 2), (1,)),
                    head_channels=1280, num_classes=3)
DATA = [DataConfig(32, "rgb"), DataConfig(40, "grayscale")]


@pytest.fixture(scope="module")
def lowered():
    """(graph, lowered program, codegen's model context) per model."""
    from dnasgen.codegen.context import model_context
    from dnasgen.codegen.lowering import lower
    from dnasgen.codegen.project import plan_program
    from dnasgen.export import make_test_model
    from dnasgen.graph import build_graph
    rng, out = random.Random(7), []
    for i, data in enumerate(DATA):
        cand = SPACE.sample(rng, data)
        blob = make_test_model(cand, num_classes=SPACE.num_classes, head_channels=SPACE.head_channels,
                               seed=i, calib_n=2)
        program = lower(blob)
        plan = plan_program(program)
        context = model_context(program, plan.offsets, plan.arena_bytes, [0] * abi.INPUT_TABLE_BYTES)
        out.append((build_graph(cand, SPACE.num_classes, SPACE.head_channels), program, context))
    return out


def test_ops_lower_to_the_kernels_and_arrays_the_cost_model_prices(lowered):
    from dnasgen.cost.footprint import op_arrays, op_kernel
    for graph, program, _ in lowered:
        assert [op_kernel(op) for op in graph.ops] == [op.kernel.replace("mean_same", "mean_sum")
                                                       for op in program.ops]
        for gop, cop in zip(graph.ops, program.ops):
            names = [name for name, _ in abi.OP_ARRAYS] if cop.arrays else []
            assert list(cop.arrays) == names, cop.name
            assert op_arrays(gop) == tuple(cop.arrays[n].nbytes for n in names), gop.name


def test_scratch_and_model_data_bytes_are_codegens(lowered):
    from dnasgen.cost.footprint import op_flash_bytes, scratch_bytes, footprint_table
    call = footprint_table()["flash"]["op_call_bytes"]
    for graph, program, context in lowered:
        assert scratch_bytes(graph) == abi.SCRATCH_WORD_BYTES * program.scratch_words
        assert program.scratch_words >= program.tensors[program.ops[-1].inputs[0]].bytes // 2 + 1   # the fc's
        priced = sum(op_flash_bytes(op) - call for op in graph.ops) + abi.INPUT_TABLE_BYTES
        assert priced == context["model_data_bytes"]
