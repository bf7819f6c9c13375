"""Cost model: MACs/params anchors, flash and latency formulas, budgets and violations."""
import dataclasses
import random
from pathlib import Path

import pytest

from dnasgen import abi
from dnasgen.boards import board_ids, get_board
from dnasgen.candidate import ArchConfig, Candidate, DataConfig, SearchSpace, StageConfig
from dnasgen.cost import (REPORT_KEYS, budget_violations, estimate, estimate_spec, footprint_table,
                          format_report, graph_cost, latency_table, plan_graph)
from dnasgen.cost.footprint import (code_flash_bytes, kernel_params, op_arrays, op_flash_bytes, op_kernel,
                                   op_scratch_words, preprocess_planes)
from dnasgen.cost.latency import latency_kind, op_terms
from dnasgen.errors import DnasgenError
from dnasgen.graph import build_graph
from dnasgen.spec import load_spec

ROOT = Path(__file__).resolve().parents[2]

FULL_DEPTHS = (1, 2, 3, 4, 3, 3, 1)


def mobilenet_v2(width, res, color="rgb"):
    stages = tuple(StageConfig(d, (3,) * d, ((1 if i == 0 else 6),) * d) for i, d in enumerate(FULL_DEPTHS))
    return Candidate(DataConfig(res, color), ArchConfig(width, stages))


@pytest.mark.parametrize("width,res,params,macs", [
    (0.35, 96, 391_650, 10_656_688), (0.5, 160, 680_970, 48_906_560), (1.0, 224, 2_209_378, 299_496_832)])
def test_keras_anchor_figures(width, res, params, macs):
    rep = estimate(mobilenet_v2(width, res), get_board("stm32h743"), 2, 1280)
    assert (rep.params, rep.macs) == (params, macs)


def _ops(graph, *names):
    return [next(op for op in graph.ops if op.name == n) for n in names]


def test_op_flash_is_padded_arrays_descriptor_and_call():
    graph = build_graph(mobilenet_v2(0.35, 96), 2, 1280)
    fl = footprint_table()["flash"]
    assert fl["op_call_bytes"] == 18
    assert abi.ARRAY_ALIGNMENT == 16
    assert {k: abi.descriptor_bytes(k) for k in ("conv", "dwconv", "fc", "add", "mean_sum")} == {
        "conv": 88, "dwconv": 88, "fc": 40, "add": 52, "mean_sum": 28}     # 22, 10, 13, 7 32-bit fields
    stem, expand, dw, add, pool, fc = _ops(graph, "stem", "s1b0.expand", "s1b0.dw", "s1b1.add", "pool",
                                           "classifier")
    # 16 rows of 3x3x3 = 27 weights padded to 28; int32 bias, multiplier and shift per channel
    assert op_arrays(stem) == (16 * 28, 64, 64, 64)
    assert op_flash_bytes(stem) == 448 + 3 * 64 + 88 + 18
    assert op_arrays(expand) == (48 * 8, 192, 192, 192)                 # 1x1 rows are not padded
    assert op_flash_bytes(dw) == 432 + 3 * 192 + 88 + 18
    assert op_arrays(fc) == (2560, 8, 8, 8)                               # Dense is per channel too
    assert op_flash_bytes(fc) == 2560 + 3 * 16 + 40 + 18                  # each array padded to 16 B
    assert op_flash_bytes(add) == 52 + 18 and op_flash_bytes(pool) == 28 + 18
    gray = build_graph(mobilenet_v2(0.35, 96, "grayscale"), 2, 1280).ops[0]
    assert op_arrays(gray)[0] == 16 * 12                                  # 9 -> 12


def test_flash_is_ops_kernels_runtime_preprocessing_and_tables():
    cand = mobilenet_v2(0.35, 96)
    graph = build_graph(cand, 2, 1280)
    fl = footprint_table()["flash"]
    kernels = 1673 + 204 + 316 + 264 + 478 + 1396                         # conv, dw (+ 3x3), add, mean, fc
    fixed = fl["runtime_code_bytes"] + abi.INPUT_TABLE_BYTES + abi.vector_table_bytes()
    assert (abi.INPUT_TABLE_BYTES, abi.vector_table_bytes()) == (256, 64)
    for fmt, pre in (("rgb565", 520), ("rgb888", 485), ("grayscale", 355), ("yuyv", 555), (None, 555)):
        rep = estimate(cand, get_board("nucleo-f412zg"), 2, 1280, sensor_format=fmt)
        assert rep.flash_bytes == sum(map(op_flash_bytes, graph.ops)) + kernels + fixed + pre
        assert rep.model_flash_bytes + rep.code_flash_bytes == rep.flash_bytes
    gray = mobilenet_v2(0.35, 96, "grayscale")
    assert (estimate(gray, get_board("nucleo-f412zg"), 2, 1280, sensor_format="yuyv").code_flash_bytes
            == kernels + fixed + 350)                                     # luma only
    assert rep.flash_bytes > rep.params                    # int32 biases and requant data cost extra


def test_kernel_code_counted_once_per_kind_and_depthwise_size():
    def plain(kernel):
        return Candidate(DataConfig(64, "grayscale"), ArchConfig(0.35, tuple(
            StageConfig(1, (kernel if i else 3,), ((1 if i == 0 else 6),)) for i in range(7))))
    gc3, gc5, gc7 = (graph_cost(plain(k), 2, 1280) for k in (3, 5, 7))
    both = dataclasses.replace(plain(5), arch=dataclasses.replace(plain(5).arch, stages=plain(5).arch.stages[:-1]
                                                                  + (StageConfig(1, (7,), (6,)),)))
    assert "add" not in gc3.kinds
    fl = footprint_table()["flash"]
    fixed = fl["runtime_code_bytes"] + abi.INPUT_TABLE_BYTES + abi.vector_table_bytes()
    assert gc3.code_flash_bytes == sum(fl["kernel_code_bytes"][k] for k in gc3.kinds) + 1396 + fixed
    # 3x3 (stage 0) and one dn_dwk for every other size: 5x5 alone, 7x7 alone, 5x5 and 7x7 all price it once
    assert gc5.code_flash_bytes == gc7.code_flash_bytes == gc3.code_flash_bytes + 1742
    assert graph_cost(both, 2, 1280).code_flash_bytes == gc3.code_flash_bytes + 1742


def test_fallback_code_priced_by_the_rule_codegen_emits_it_with():
    graph = build_graph(mobilenet_v2(0.35, 96), 2, 1280)
    assert abi.fallbacks([(op_kernel(op), kernel_params(op)) for op in graph.ops]) == frozenset()
    narrow = {"s1b0.project": 6, "s1b1.dw": 10}           # a 1x1 conv's and a depthwise conv's in_c % 4
    ops = [dataclasses.replace(op, in_shape=op.in_shape[:2] + (narrow[op.name],)) if op.name in narrow else op
           for op in graph.ops]
    for names, extra in (((), 0), (("s1b0.project",), 1456), (("s1b1.dw",), 624), (tuple(narrow), 1456 + 624)):
        g = dataclasses.replace(graph, ops=tuple(o if o.name in names else p for o, p in zip(ops, graph.ops)))
        assert code_flash_bytes(g) == code_flash_bytes(graph) + extra, names
    assert abi.op_fallback("conv", {"fast": 0, "in_c": 8}) == "conv"        # slow requantisation (codegen only)
    assert abi.op_fallback("dwconv", {"fast": 0, "in_c": 8}) == "dwconv"
    assert abi.op_fallback("conv", {"fast": 1, "in_c": 3}) is None          # k x k rows padded to whole words


@pytest.mark.parametrize("fmt,color,planes", [
    ("rgb565", "rgb", 3), ("rgb888", "grayscale", 3), ("grayscale", "rgb", 1), ("grayscale", "grayscale", 1),
    ("yuyv", "rgb", 3), ("yuyv", "grayscale", 1), (None, "grayscale", 3)])
def test_ram_is_arena_stack_statics_dsp_scratch_and_preprocess_rows(fmt, color, planes):
    cand = mobilenet_v2(0.35, 96, color)
    rep = estimate(cand, get_board("nucleo-f412zg"), 2, 1280, sensor_format=fmt)
    assert preprocess_planes(fmt, cand.data.channels) == planes
    arena = plan_graph(build_graph(cand, 2, 1280)).arena_bytes
    # in place (the default): s1b0.dw's 24x24x48 output starts 1,152 B (one output row) before its
    # 48x48x48 input, the s1b0.expand input 8 B (+ alignment) past the end: 111,760 (layer: 138,240)
    assert rep.arena_bytes == arena == 111_760
    assert plan_graph(build_graph(cand, 2, 1280), mode="layer").arena_bytes == 138_240
    scratch = 4 * (2 * 336 + 4)             # s5b1.project's 4 pixels of 336 inputs widened (classifier: 641 words)
    assert rep.ram_bytes == arena + 2048 + 296 + scratch + 4 * 96 * planes
    assert rep.ram_overhead_bytes == rep.ram_bytes - arena
    gc = graph_cost(cand, 2, 1280)
    assert (gc.ram_bytes_for(fmt), gc.flash_bytes_for(fmt)) == (rep.ram_bytes, rep.flash_bytes)
    assert gc.ram_bytes == gc.ram_bytes_for(None) >= rep.ram_bytes       # unknown sensor: the larger figure


def test_dsp_scratch_words_follow_the_lowering():
    graph = build_graph(mobilenet_v2(0.35, 96), 2, 1280)
    stem, expand, dw, project, fc = _ops(graph, "stem", "s1b0.expand", "s1b0.dw", "s5b1.project", "classifier")
    # the depthwise 3 x 3 stride 2: 3 x 18 weight words (row rotations) + its band, 3 rows of (8 - 1) x 2 + 3 columns of 2 words at least
    # 1x1 / im2col: 4 pixels widened (2 k words + 4), + 4 int8 windows for the im2col
    assert [op_scratch_words(op) for op in (stem, expand, dw, project, fc)] == [2 * 28 + 4 + 28, 2 * 8 + 4,
                                                                               54 + 6 * 17, 2 * 336 + 4, 641]


def test_unknown_sensor_format_is_a_clean_error():
    with pytest.raises(DnasgenError, match="unknown sensor pixel format 'bayer'"):
        estimate(mobilenet_v2(0.35, 96), get_board("nucleo-f412zg"), 2, 1280, sensor_format="bayer")


def test_estimate_spec_prices_the_spec_sensor():
    spec = load_spec(ROOT / "specs" / "quickstart.yaml", check_paths=False)
    cand = spec.space.largest()
    for fmt in ("rgb565", "grayscale", "yuyv"):
        s = dataclasses.replace(spec, sensor=dataclasses.replace(spec.sensor, pixel_format=fmt))
        assert estimate_spec(s, cand) == estimate(cand, spec.board, spec.num_classes, spec.space.head_channels,
                                                  spec.constraints.max_latency_ms, sensor_format=fmt)


def test_latency_follows_the_data_file_formula():
    cand = mobilenet_v2(0.35, 96)
    board = get_board("nucleo-f412zg")
    coeffs = latency_table()["cores"]["cortex-m4"]
    cycles = 0.0
    for op in build_graph(cand, 2, 1280).ops:
        table = coeffs["kinds"][latency_kind(op)]
        cycles += sum(table.get(t, 0.0) * v for t, v in op_terms(op).items())
    rep = estimate(cand, board, 2, 1280)
    assert rep.latency_ms == pytest.approx(cycles / (board.clock_mhz * 1000))
    assert sum(o.latency_ms for o in rep.ops) == pytest.approx(rep.latency_ms)
    assert rep.latency_calibrated is coeffs["calibrated"]


def test_every_catalogue_board_has_coefficients_and_faster_clock_is_faster():
    cand = mobilenet_v2(0.35, 96)
    reports = {b: estimate(cand, get_board(b), 2, 1280) for b in board_ids()}
    assert all(r.latency_ms > 0 for r in reports.values())
    assert reports["stm32h743"].latency_ms < reports["stm32f746-disco"].latency_ms
    assert reports["stm32f746-disco"].latency_ms < reports["nucleo-f412zg"].latency_ms
    slow = dataclasses.replace(get_board("nucleo-f412zg"), core="cortex-m0plus")
    assert estimate(cand, slow, 2, 1280).latency_ms > reports["nucleo-f412zg"].latency_ms


def test_unknown_core_is_a_clean_error():
    board = dataclasses.replace(get_board("nucleo-f412zg"), core="riscv-e907")
    with pytest.raises(DnasgenError, match="no latency coefficients for core 'riscv-e907'"):
        estimate(mobilenet_v2(0.35, 96), board, 2, 1280)


def test_violation_messages_and_fits():
    assert budget_violations(301_234, 262_144, 10, 20, 5.0, None) == [
        "ram: 301,234 B > budget 262,144 B (by 39,090 B)"]
    assert budget_violations(1, 2, 3_000_000, 1_048_576, 123.45, 100.0) == [
        "flash: 3,000,000 B > budget 1,048,576 B (by 1,951,424 B)",
        "latency: 123.5 ms > budget 100.0 ms (by 23.5 ms)"]
    big = mobilenet_v2(1.0, 224)
    rep = estimate(big, get_board("arduino-nano-33-ble-sense"), 2, 1280, max_latency_ms=100)
    assert not rep.fits
    assert [v.split(":")[0] for v in rep.violations] == ["ram", "flash", "latency"]
    ok = estimate(mobilenet_v2(0.35, 96), get_board("stm32h743"), 2, 1280)
    assert ok.fits and ok.violations == ()


def test_reserve_shrinks_the_budget():
    cand = mobilenet_v2(0.35, 96)
    rep = estimate(cand, get_board("nucleo-f412zg", reserve_ram_kb=150), 2, 1280)
    assert rep.ram_budget_bytes == (256 - 150) * 1024
    # arena 111,760 (in place) + stack 2,048 + statics 296 + DSP scratch 2,564 (the classifier)
    # + preprocessing 4 x 96 x 3
    assert not rep.fits and rep.violations[0].startswith("ram: 117,960 B > budget 108,544 B")


def test_to_dict_has_exactly_the_contract_keys_and_details_has_ops():
    rep = estimate(mobilenet_v2(0.35, 96), get_board("nucleo-f412zg"), 2, 1280)
    uncalibrated = estimate(mobilenet_v2(0.35, 96), get_board("esp32-s3"), 2, 1280)
    d = rep.to_dict()
    assert tuple(d) == REPORT_KEYS
    assert isinstance(d["violations"], list) and isinstance(d["fits"], bool)
    details = rep.details()
    assert len(details["ops"]) == len(build_graph(mobilenet_v2(0.35, 96), 2, 1280).ops)
    assert details["ops"][0]["name"] == "stem"
    text = format_report(rep, per_op=True)
    assert "s6b0.project" in text and "not calibrated" not in text and "fits: yes" in text
    assert "not calibrated" in format_report(uncalibrated)


def test_estimate_is_cached_and_consistent_across_calls():
    rng = random.Random(5)
    space = SearchSpace(resolutions=(64, 96), widths=(0.35, 0.5), kernels=(3, 5), expands=(3, 6),
                        depths=((1,), (1, 2), (1, 2, 3), (1, 2), (1, 2), (1, 2), (1,)))
    board = get_board("esp32-s3")
    for _ in range(20):
        cand = space.sample(rng)
        a, b = estimate(cand, board, 3, 1024), estimate(Candidate.from_json(cand.to_json()), board, 3, 1024)
        assert a.to_dict() == b.to_dict()
        assert graph_cost(cand, 3, 1024) is graph_cost(Candidate.from_json(cand.to_json()), 3, 1024)


def test_report_pickles_with_its_breakdown():
    import pickle
    rep = estimate(mobilenet_v2(0.35, 96), get_board("nucleo-f412zg"), 2, 1280)
    back = pickle.loads(pickle.dumps(rep))
    assert back == rep and back.ops == rep.ops


def test_report_verdict_and_breakdowns_follow_the_figures():
    """fits and the overheads are derived from the stored figures: they can never disagree."""
    from dnasgen.cost import CostReport
    ok = CostReport(macs=1, params=2, flash_bytes=300, ram_bytes=100, latency_ms=1.0, violations=(),
                    arena_bytes=60, model_flash_bytes=250)
    assert ok.fits and (ok.ram_overhead_bytes, ok.code_flash_bytes) == (40, 50)
    over = dataclasses.replace(ok, violations=("ram: 100 B > budget 90 B (by 10 B)",))
    assert not over.fits and over.to_dict()["fits"] is False
