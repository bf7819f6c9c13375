"""The kernel variants a lowered program switches on in dnasgen_config.h: only the code its ops can
reach is compiled (the DSP path's C fallbacks, the generic depthwise kernel, the clamp)."""
from __future__ import annotations

from dnasgen.codegen.lowering import COp, Program


def _op(kernel: str, k: int = 1, in_c: int = 8, fast: int = 1, act=(-128, 127)) -> COp:
    params = {"k_h": k, "k_w": k, "in_c": in_c, "fast": fast, "act_min": act[0], "act_max": act[1]}
    return COp(0, "OP", kernel, ("t0",), "t1", params)


def _variants(*ops: COp) -> dict:
    p = Program({}, ops, "t0", "t1")
    return {"conv": p.conv_fallback, "dw": p.dw_fallback, "generic": p.dw_generic, "clamp": p.act_clamp,
            "k3": "dw3" in p.dw_codes}


def test_fast_whole_word_ops_leave_the_fallbacks_out():
    model = (_op("conv", 3, in_c=3), _op("conv1x1", in_c=16), _op("dwconv", 3, in_c=16), _op("fc"))
    assert _variants(*model) == {"conv": 0, "dw": 0, "generic": 0, "clamp": 0, "k3": True}


def test_each_fallback_is_compiled_for_the_op_that_needs_it():
    assert _variants(_op("conv1x1", in_c=6))["conv"] == 1                 # k % 4: no assembly GEMM
    assert _variants(_op("conv", 3, in_c=3, fast=0))["conv"] == 1         # slow requantisation
    assert _variants(_op("conv", 3, in_c=3))["conv"] == 0                 # k x k rows are padded to 4n
    assert _variants(_op("dwconv", 3, in_c=12, fast=0))["dw"] == 1
    assert _variants(_op("dwconv", 5, in_c=10)) == {"conv": 0, "dw": 1, "generic": 1, "clamp": 0, "k3": False}
    assert _variants(_op("dwconv", 7, in_c=8, act=(-128, 100)))["clamp"] == 1
