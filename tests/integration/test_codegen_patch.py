"""Patch-based inference (export.memory: patch) in generated C, against the LiteRT reference.

Three small random candidates (odd 33 px RGB and 40 px grayscale; two with a residual add inside
the patch stage),
exported to real full-int8 .tflite files, generated with the patch loop the cost model chose:
  * 20 random int8 tensors: host outputs == LiteRT BUILTIN_REF;
  * the generated arena (DN_ARENA_BYTES) == the cost model's estimate == the planner on the
    lowered model, and the lock records the patch stage;
  * with the toolchain: `make qemu` passes the embedded vectors on every core, `make size`'s RAM is
    the estimate's exactly and the M4's instructions are within 10 % of the latency estimate.
"""
from __future__ import annotations

import dataclasses
import json
import random
import re

import numpy as np
import pytest

from dnasgen.candidate import DataConfig, SearchSpace
from dnasgen.spec.model import Sensor

from codegen_support import make_spec

SPACE = SearchSpace(resolutions=(33, 40), colors=("grayscale", "rgb"), widths=(0.25, 0.35), kernels=(3, 5, 7),
                    expands=(1, 3, 6), depths=((1,), (1, 2), (1, 2), (1, 2), (1,), (1, 2), (1,)),
                    head_channels=256, num_classes=3)
# (data, sampling seed, sensor): a plain chain (33 px RGB, 4x4 over 6 ops), residual blocks inside
# the patch stage (width 0.25: the stem's output is also the first block's skip; 40 px gray 3x3 and
# 33 px RGB 4x4 over 7 ops, the add's skip input cut out of its patch buffer).
MODELS = [(DataConfig(33, "rgb"), 2, (40, 36, "rgb888")), (DataConfig(40, "grayscale"), 3, (46, 41, "yuyv")),
          (DataConfig(33, "rgb"), 1, (35, 33, "rgb565"))]
TENSORS = 20


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    from dnasgen.codegen import generate_project
    from dnasgen.cost import estimate_spec
    from dnasgen.export import make_test_model
    from dnasgen.verify.project import run_make
    out = []
    for i, (data, seed, sensor) in enumerate(MODELS):
        cand = SPACE.sample(random.Random(seed), data)
        blob = make_test_model(cand, num_classes=SPACE.num_classes, head_channels=SPACE.head_channels,
                               seed=seed, calib_n=4)
        spec = make_spec(Sensor(*sensor), name=f"patch{i}", board="qemu-mps2-an386")
        spec = dataclasses.replace(spec, space=SPACE, export=dataclasses.replace(spec.export, memory="patch"))
        project = generate_project(blob, spec, cand, tmp_path_factory.mktemp("patch") / f"patch{i}")
        run_make(project, "host")
        out.append((cand, blob, spec, estimate_spec(spec, cand), project))
    return out


def test_models_run_patched(projects):
    for cand, _, _, est, project in projects:
        lock = json.loads((project / "dnasgen.lock.json").read_text())
        assert est.patch_grid is not None, cand.to_json()
        assert (lock["model"]["patch"]["grid"], lock["model"]["patch"]["ops"]) == est.patch_grid
        assert "dn_copy_rows(" in (project / "model.c").read_text()
    assert [bool(lock_patch(p)["crops"]) for *_, p in projects] == [False, True, True]


def lock_patch(project):
    return json.loads((project / "dnasgen.lock.json").read_text())["model"]["patch"]


def test_patched_host_outputs_equal_litert_reference(projects):
    from dnasgen.export import ReferenceInterpreter
    from dnasgen.verify.harness import run_tensors
    rng = np.random.default_rng(11)
    for cand, blob, _, _, project in projects:
        ref = ReferenceInterpreter(blob)
        x = rng.integers(-128, 128, (TENSORS,) + ref.input_shape[1:], dtype=np.int8)
        assert np.array_equal(run_tensors(project, x), ref.run_batch(x)), cand.to_json()


def test_patched_arena_is_the_estimate(projects):
    from dnasgen.codegen import lower, plan_program
    for _, blob, _, est, project in projects:
        arena = int(re.search(r"#define DN_ARENA_BYTES (\d+)", (project / "dnasgen_config.h").read_text()).group(1))
        assert arena == est.arena_bytes == plan_program(lower(blob), "patch", est.patch_grid).arena_bytes
        inplace = plan_program(lower(blob), "inplace").arena_bytes
        assert arena < inplace


def test_patched_model_data_bytes_are_priced(projects):
    from dnasgen import abi
    from dnasgen.codegen import lower, plan_program
    from dnasgen.codegen.context import model_context
    from dnasgen.cost.footprint import footprint_table, op_flash_bytes, patch_descriptor_bytes
    from dnasgen.graph import build_graph
    call = footprint_table()["flash"]["op_call_bytes"]
    for cand, blob, _, est, _ in projects:
        program = lower(blob)
        plan = plan_program(program, "patch", est.patch_grid)
        context = model_context(program, plan.offsets, plan.arena_bytes, [0] * abi.INPUT_TABLE_BYTES, plan)
        graph = build_graph(cand, SPACE.num_classes, SPACE.head_channels)
        priced = sum(op_flash_bytes(op) - call for op in graph.ops) + abi.INPUT_TABLE_BYTES
        assert priced + patch_descriptor_bytes(plan.patch, graph) == context["model_data_bytes"]


@pytest.mark.toolchain
def test_patched_models_on_qemu_and_make_size(projects):
    from dnasgen.codegen.qemu import QEMU_TARGETS
    from dnasgen.verify import toolchain_available
    from dnasgen.verify.project import run_make
    if not toolchain_available():
        pytest.skip("arm-none-eabi-gcc / qemu-system-arm not installed")
    for i, (cand, _, spec, est, project) in enumerate(projects):
        out = run_make(project, "qemu")
        assert "test: ok, vectors matching: 2" in out, cand.to_json()
        instructions = int(re.search(r"instructions: (\d+)", out).group(1))
        cycles = est.latency_ms * spec.board.clock_mhz * 1000.0
        assert abs(instructions / cycles - 1) < 0.10, (instructions, cycles)
        ram = int(re.search(r"ram: (\d+) bytes", run_make(project, "size")).group(1))
        assert ram == est.ram_bytes
        if i == 1:          # a residual add inside the patch stage, on every core
            for target in QEMU_TARGETS:
                assert "test: ok, vectors matching: 2" in run_make(project, "qemu", f"CORE={target.core_key}")


@pytest.mark.parametrize("name", ["person_detect.tflite", "pretrainedResnet_quant.tflite"])
def test_compiled_foreign_model_in_patches(name, tmp_path, foreign_model):
    """`dnasgen compile --memory patch` (the smallest arena): TFLM's person_detect (a MobileNetV1
    chain) and MLPerf Tiny's ResNet-8 (a residual add inside the stage): the embedded LiteRT vectors
    pass, the arena is the planner's and smaller than in place, regeneration from the lock is
    byte-identical."""
    from dnasgen.codegen import lower, plan_program
    from dnasgen.codegen.compile import compile_model
    from dnasgen.pipeline.fromlock import generate_from_lock
    from dnasgen.verify.project import run_make
    model = foreign_model(name)
    project = compile_model(model, "qemu-mps2-an386", name="m", out=tmp_path, vectors=3, memory="patch")
    assert "test: ok, vectors matching: 3" in run_make(project, "test")
    lock = json.loads((project / "dnasgen.lock.json").read_text())
    program = lower(model.read_bytes())
    assert lock["memory"] == "patch" and lock["model"]["patch"]["grid"] >= 2
    assert lock["model"]["arena_bytes"] == plan_program(program, "patch").arena_bytes < plan_program(program).arena_bytes
    again = generate_from_lock(project / "dnasgen.lock.json", out=tmp_path / "again")
    assert (again / "model.c").read_bytes() == (project / "model.c").read_bytes()


def test_compile_refuses_an_unknown_memory_mode(tmp_path):
    from dnasgen.codegen.compile import compile_model
    from dnasgen.errors import CodegenError
    with pytest.raises(CodegenError, match="memory mode 'tiles'"):
        compile_model(b"x", "qemu-mps2-an386", out=tmp_path, memory="tiles")
