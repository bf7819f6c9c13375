"""dnasgen.abi: the layouts it computes are the ones the kernels were written against (sizes the cost
model prices, the byte offsets kernels_m4.S reads); tests/integration/test_abi_layouts.py checks them
against the C compilers."""
from __future__ import annotations

from dnasgen import abi


def test_target_layouts_are_the_kernels_figures():
    sizes = {s.name: abi.layout(s.name).size for s in abi.STRUCTS}
    assert sizes == {"dn_conv_t": 88, "dn_fc_t": 40, "dn_add_t": 52, "dn_mean_t": 28, "dn_pool_t": 56,
                     "dn_softmax_t": 16, "dn_chq_t": 12, "dn_gemm_args_t": 60, "dn_dwk_t": 112,
                     "dn_dw3_t": 96}
    dwk = abi.layout("dn_dwk_t").offsets      # what kernels_m4.S read before the offsets were named
    assert (dwk["x"], dwk["out"], dwk["rowadj"], dwk["off"], dwk["q"], dwk["bias"], dwk["clamp"]) == (
        0, 8, 24, 32, 44, 92, 108)
    host = abi.layout("dn_dwk_t", 8)          # 64-bit pointers: three 8-byte fields first
    assert (host.offsets["n"], host.offsets["q"], host.size) == (24, 56, 128)
    assert abi.descriptor_bytes("conv1x1") == abi.descriptor_bytes("dwconv") == 88


def test_depthwise_scratch_holds_the_kernels_tables():
    # 3 x 3: the weights once per band-row rotation + the band of 8 output pixels (stride 1: 10 columns)
    p3 = {"k_h": 3, "k_w": 3, "out_w": 20, "stride_w": 1}
    assert abi.op_scratch_words("dwconv", p3) == 54 + 6 * 10
    # other sizes: dn_dwk's table, the entry, then per kernel row 2 words a tap + where to go next
    assert abi.dw_kernel_words(7, 7) == 1 + 7 * 15 == abi.op_scratch_words("dwconv", {"k_h": 7, "k_w": 7})
    assert abi.dw_kernel_words(2, 5) == 23 and (abi.DWK_MAX_KW, abi.DWK_TAP_BYTES) == (7, 34)
