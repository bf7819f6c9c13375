"""Cost model: MACs/params anchors, flash and latency formulas, budgets and violations."""
import dataclasses
import random

import pytest

from dnasgen.boards import board_ids, get_board
from dnasgen.candidate import ArchConfig, Candidate, DataConfig, SearchSpace, StageConfig
from dnasgen.cost import (REPORT_KEYS, budget_violations, estimate, footprint_table, format_report,
                          graph_cost, latency_table, plan_graph)
from dnasgen.cost.model import op_flash_bytes
from dnasgen.errors import DnasgenError
from dnasgen.graph import build_graph

FULL_DEPTHS = (1, 2, 3, 4, 3, 3, 1)


def mobilenet_v2(width, res, color="rgb"):
    stages = tuple(StageConfig(d, (3,) * d, ((1 if i == 0 else 6),) * d) for i, d in enumerate(FULL_DEPTHS))
    return Candidate(DataConfig(res, color), ArchConfig(width, stages))


@pytest.mark.parametrize("width,res,params,macs", [
    (0.35, 96, 391_650, 10_656_688), (0.5, 160, 680_970, 48_906_560), (1.0, 224, 2_209_378, 299_496_832)])
def test_keras_anchor_figures(width, res, params, macs):
    rep = estimate(mobilenet_v2(width, res), get_board("stm32h743"), 2, 1280)
    assert (rep.params, rep.macs) == (params, macs)


def test_flash_is_weights_biases_requant_descriptors_code_and_runtime():
    cand = mobilenet_v2(0.35, 96)
    graph = build_graph(cand, 2, 1280)
    stem = graph.ops[0]
    # 3x3x3x16 int8 weights, 16 int32 biases, 16 x (multiplier + shift), descriptor
    assert op_flash_bytes(stem) == 432 + 64 + 128 + footprint_table()["flash"]["op_descriptor_bytes"]
    add = next(op for op in graph.ops if op.kind == "add")
    fl = footprint_table()["flash"]
    assert op_flash_bytes(add) == 32 + fl["op_descriptor_bytes"]          # 28 B per-tensor data, padded
    rep = estimate(cand, get_board("nucleo-f412zg"), 2, 1280)
    code = sum(fl["kernel_code_bytes"][k] for k in ("conv", "dwconv", "add", "mean", "fc"))
    assert rep.flash_bytes == sum(map(op_flash_bytes, graph.ops)) + code + fl["runtime_code_bytes"]
    assert rep.model_flash_bytes + rep.code_flash_bytes == rep.flash_bytes
    assert rep.flash_bytes > rep.params                    # int32 biases and requant data cost extra


def test_kernel_code_counted_once_per_kind_used():
    no_residual = Candidate(DataConfig(64, "grayscale"), ArchConfig(0.35, tuple(
        StageConfig(1, (3,), ((1 if i == 0 else 6),)) for i in range(7))))
    gc = graph_cost(no_residual, 2, 1280)
    assert "add" not in gc.kinds
    fl = footprint_table()["flash"]
    assert gc.code_flash_bytes == sum(fl["kernel_code_bytes"][k] for k in gc.kinds) + fl["runtime_code_bytes"]


def test_ram_is_the_planned_arena_plus_runtime_overhead():
    cand = mobilenet_v2(0.35, 96)
    rep = estimate(cand, get_board("nucleo-f412zg"), 2, 1280)
    ram = footprint_table()["ram"]
    arena = plan_graph(build_graph(cand, 2, 1280)).arena_bytes
    assert rep.arena_bytes == arena == 138_240            # s1b0.dw: 48x48x48 in + 24x24x48 out
    assert rep.ram_bytes == arena + ram["stack_bytes"] + ram["runtime_bytes"]


def test_latency_follows_the_data_file_formula():
    cand = mobilenet_v2(0.35, 96)
    board = get_board("nucleo-f412zg")
    coeffs = latency_table()["cores"]["cortex-m4"]
    cycles = 0.0
    for op in build_graph(cand, 2, 1280).ops:
        k = coeffs["kinds"][op.kind]
        shape = op.in_shape if op.kind == "mean" else op.out_shape
        cycles += coeffs["overhead_cycles"] + k["cycles_per_mac"] * op.macs \
            + k["cycles_per_element"] * shape[0] * shape[1] * shape[2]
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
    assert not rep.fits and rep.violations[0].startswith("ram: 141,312 B > budget 108,544 B")


def test_to_dict_has_exactly_the_contract_keys_and_details_has_ops():
    rep = estimate(mobilenet_v2(0.35, 96), get_board("nucleo-f412zg"), 2, 1280)
    uncalibrated = estimate(mobilenet_v2(0.35, 96), get_board("stm32f746-disco"), 2, 1280)
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
