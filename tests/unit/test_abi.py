"""dnasgen.abi: the layouts it computes are the ones the kernels were written against (sizes the cost
model prices, the byte offsets kernels_m4.S reads); tests/integration/test_abi_layouts.py checks them
against the C compilers."""
from __future__ import annotations

from dnasgen import abi


def test_target_layouts_are_the_kernels_figures():
    sizes = {s.name: abi.layout(s.name).size for s in abi.STRUCTS}
    assert sizes == {"dn_conv_t": 88, "dn_fc_t": 40, "dn_add_t": 52, "dn_mean_t": 28, "dn_pool_t": 56,
                     "dn_softmax_t": 16, "dn_chq_t": 12, "dn_gemm_args_t": 60, "dn_dwk_t": 120,
                     "dn_dw3_t": 96}
    dwk = abi.layout("dn_dwk_t").offsets      # what kernels_m4.S read before the offsets were named
    assert (dwk["x"], dwk["wend"], dwk["out"], dwk["rowadj"], dwk["kw"], dwk["off"], dwk["q"], dwk["bias"],
            dwk["clamp"]) == (0, 8, 12, 28, 32, 40, 52, 100, 116)
    host = abi.layout("dn_dwk_t", 8)          # 64-bit pointers: four 8-byte fields first
    assert (host.offsets["n"], host.offsets["q"], host.size) == (32, 68, 136)
    assert abi.descriptor_bytes("conv1x1") == abi.descriptor_bytes("dwconv") == 88
