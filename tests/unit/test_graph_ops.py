"""graph.py: TF SAME padding, op names and order, residual adds, odd input sizes."""
import pytest

from dnasgen.candidate import ArchConfig, Candidate, DataConfig, StageConfig
from dnasgen.graph import build_graph, same_padding


@pytest.mark.parametrize("size,k,s,expect", [(96, 3, 2, (48, 0, 1)), (75, 3, 2, (38, 1, 1)),
                                             (5, 3, 1, (5, 1, 1)), (4, 5, 2, (2, 1, 2)), (1, 3, 2, (1, 1, 1))])
def test_same_padding_is_tf_same(size, k, s, expect):
    assert same_padding(size, k, s) == expect          # extra row/column goes after (bottom/right)


def candidate(res=75, depths=(1, 2, 1, 1, 1, 1, 1)):
    stages = [StageConfig(d, (3,) * d, ((1,) if i == 0 else (6,)) * d) for i, d in enumerate(depths)]
    return Candidate(DataConfig(res, "rgb"), ArchConfig(1.0, tuple(stages)))


def test_op_names_order_and_residual_adds():
    g = build_graph(candidate(), num_classes=3)
    names = [op.name for op in g.ops]
    assert names[:8] == ["stem", "s0b0.dw", "s0b0.project", "s1b0.expand", "s1b0.dw", "s1b0.project",
                         "s1b1.expand", "s1b1.dw"]
    assert names[-3:] == ["head", "pool", "classifier"]
    # an add only where the block keeps stride 1 and its channels: s1b1 (24 -> 24); s0b0 is 32 -> 16
    assert [n for n in names if n.endswith(".add")] == ["s1b1.add"]
    add = g.ops[names.index("s1b1.add")]
    assert add.inputs == ("s1b0.project", "s1b1.project")
    assert g.tensors[g.output] == (1, 1, 3) and g.output == "classifier"


def test_odd_input_sizes_follow_same_padding():
    g = build_graph(candidate(75), num_classes=2)
    stem = g.ops[0]
    assert stem.in_shape == (75, 75, 3) and stem.out_shape == (38, 38, 32) and stem.pad == (1, 1, 1, 1)
    s1 = next(op for op in g.ops if op.name == "s1b0.dw")
    assert s1.in_shape[:2] == (38, 38) and s1.out_shape[:2] == (19, 19) and s1.pad == (0, 1, 0, 1)
    assert g.tensors["head"][:2] == (3, 3)             # 75 -> 38 -> 19 -> 10 -> 5 -> 5 -> 3 -> 3


def test_every_exported_op_has_a_codegen_lowering():
    from dnasgen.codegen.lower_ops import LOWER
    from dnasgen.codegen.lowering import _LOWER, SUPPORTED_OPS
    from dnasgen.graph import EXPORTED_OPS
    assert set(EXPORTED_OPS) <= set(SUPPORTED_OPS)
    lowered = set(_LOWER) | set(LOWER) | {"RESHAPE"}   # RESHAPE lowers to an alias of its input
    assert set(SUPPORTED_OPS) <= lowered, sorted(set(SUPPORTED_OPS) - lowered)
