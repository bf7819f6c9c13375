"""Generated C vs the LiteRT reference, bit for bit, on random candidates from a full search space.

Ten candidates (both colours, odd resolutions, kernels 3/5/7, expansions 1-6, the smallest
widths), each exported to a real full-int8 .tflite, generated, compiled once for the host:
  * 20 random int8 tensors: host outputs == LiteRT BUILTIN_REF outputs;
  * random raw frames of every pixel format (odd sizes, one upscaling): preprocess.c ==
    dnasgen.data.preprocess + the quantisation table, byte for byte;
  * `make test` (embedded frames -> preprocess -> invoke vs the reference) passes;
  * the generated arena equals the memory planner's figure (also the cost model's);
  * every model's plan runs some ops in place (the default memory mode): `make qemu` on the
    Cortex-M4 (DSP kernels) passes its embedded vectors too.
"""
from __future__ import annotations

import random
import re

import numpy as np
import pytest

from dnasgen.candidate import DataConfig, SearchSpace
from dnasgen.spec.model import Sensor

from codegen_support import make_spec

SPACE = SearchSpace(resolutions=(32, 33, 40, 48, 49, 56, 64, 75), colors=("grayscale", "rgb"),
                    widths=(0.1, 0.25, 0.35), kernels=(3, 5, 7), expands=(1, 2, 3, 4, 5, 6),
                    depths=((1,), (1, 2), (1, 2), (1, 2, 3), (1, 2), (1, 2, 3), (1,)),
                    head_channels=256, num_classes=3)
DATA = [(75, "rgb"), (75, "grayscale"), (33, "rgb"), (48, "grayscale"), (40, "rgb"),
        (49, "grayscale"), (64, "rgb"), (32, "grayscale"), (56, "rgb"), (75, "grayscale")]
# (width, height, pixel format) per model: odd sizes, every format with both colours, and one
# sensor smaller than the model input (S = 50 < 75: upscaling).
SENSORS = [(97, 83, "rgb565"), (81, 101, "rgb888"), (45, 37, "grayscale"), (62, 49, "yuyv"),
           (55, 41, "rgb888"), (73, 58, "rgb565"), (98, 77, "yuyv"), (39, 33, "grayscale"),
           (64, 50, "rgb565"), (66, 50, "yuyv")]
TENSORS, FRAMES = 20, 3


def candidates():
    rng = random.Random(2024)
    return [SPACE.sample(rng, DataConfig(r, c)) for r, c in DATA]


def test_candidates_cover_the_space():
    cands = candidates()
    kernels = {k for c in cands for s in c.arch.stages for k in s.kernel}
    expands = {e for c in cands for s in c.arch.stages for e in s.expand}
    assert kernels == {3, 5, 7} and expands == {1, 2, 3, 4, 5, 6}
    assert {c.data.color for c in cands} == {"rgb", "grayscale"}
    pairs = {(f, c.data.color) for (_, _, f), c in zip(SENSORS, cands)}
    assert pairs == {(f, col) for f in ("rgb565", "rgb888", "grayscale", "yuyv") for col in ("rgb", "grayscale")}


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    """(candidate, tflite bytes, spec, project dir) per model, generated and built once."""
    from dnasgen.codegen import generate_project
    from dnasgen.export import make_test_model
    from dnasgen.verify.project import run_make
    out = []
    for i, (cand, sensor) in enumerate(zip(candidates(), SENSORS)):
        # The converter reshapes 1x1-spatial residual inputs (model 7): codegen aliases RESHAPE.
        blob = make_test_model(cand, num_classes=SPACE.num_classes, head_channels=SPACE.head_channels,
                               seed=i, calib_n=8)
        spec = make_spec(Sensor(*sensor), name=f"model{i}")
        project = generate_project(blob, spec, cand, tmp_path_factory.mktemp("gen") / f"model{i}")
        run_make(project, "host")
        out.append((cand, blob, spec, project))
    return out


def test_host_outputs_equal_litert_reference(projects):
    from dnasgen.export import ReferenceInterpreter
    from dnasgen.verify.harness import run_tensors
    rng = np.random.default_rng(7)
    exact = 0
    for cand, blob, _, project in projects:
        ref = ReferenceInterpreter(blob)
        x = rng.integers(-128, 128, (TENSORS,) + ref.input_shape[1:], dtype=np.int8)
        got = run_tensors(project, x)
        expected = ref.run_batch(x)
        assert got.shape == expected.shape == (TENSORS, SPACE.num_classes)
        assert np.array_equal(got, expected), f"{cand.to_json()}: C differs from LiteRT"
        exact += len(x)
    assert exact == TENSORS * len(DATA)


def test_preprocessing_equals_python_reference(projects):
    from dnasgen.codegen.vectors import quantize_input, random_frames
    from dnasgen.data.preprocess import frame_bytes, preprocess_frame
    from dnasgen.verify.harness import preprocess_c
    rng = np.random.default_rng(3)
    for cand, blob, spec, project in projects:
        frames = random_frames(spec.sensor, 1, seed=5) + [
            rng.integers(0, 256, frame_bytes(spec.sensor), dtype=np.uint8) for _ in range(FRAMES - 1)]
        shape = (cand.data.resolution, cand.data.resolution, cand.data.channels)
        got = preprocess_c(project, frames, shape)
        want = np.stack([quantize_input(preprocess_frame(f, spec.sensor, cand.data), blob) for f in frames])
        assert got.dtype == np.int8 and np.array_equal(got, want), \
            f"{spec.sensor} -> {cand.data.label}: C preprocessing differs"


def test_embedded_vectors_pass(projects):
    from dnasgen.verify.project import run_make, score_lines
    for _, _, _, project in projects:
        out = run_make(project, "test")
        assert "test: ok, vectors matching: 2" in out and len(score_lines(out)) == 2


@pytest.mark.toolchain
def test_in_place_models_are_bit_exact_on_qemu_m4(projects):
    """Every model runs in place (depthwise strides 1 and 2, kernels 3/5/7, expanding 1x1s): the
    DSP kernels' in-place order on the Cortex-M4 matches the reference on the embedded vectors."""
    from dnasgen.codegen import lower, plan_program
    from dnasgen.verify import toolchain_available
    from dnasgen.verify.project import run_make
    if not toolchain_available():
        pytest.skip("arm-none-eabi-gcc / qemu-system-arm not installed")
    for cand, blob, _, project in projects:
        kinds = {op.kernel for op in lower(blob).ops if op.output in plan_program(lower(blob)).overlaps}
        assert "dwconv" in kinds, cand.to_json()
        assert "test: ok, vectors matching: 2" in run_make(project, "qemu")


def test_generated_arena_is_the_planners(projects):
    from dnasgen.codegen import lower, plan_program
    from dnasgen.cost import plan_graph
    from dnasgen.graph import build_graph
    for cand, blob, _, project in projects:
        config = (project / "dnasgen_config.h").read_text()
        arena = int(re.search(r"#define DN_ARENA_BYTES (\d+)", config).group(1))
        assert arena == plan_program(lower(blob)).arena_bytes
        graph = build_graph(cand, SPACE.num_classes, SPACE.head_channels)
        assert arena == plan_graph(graph).arena_bytes
        assert "static DN_ALIGNED(DN_ARENA_ALIGNMENT) int8_t dn_arena[DN_ARENA_BYTES];" in (project / "model.c").read_text()


def test_regeneration_is_byte_identical(projects, tmp_path):
    from dnasgen.codegen import generate_project
    cand, blob, spec, project = projects[3]
    again = generate_project(blob, spec, cand, tmp_path / "again")
    names = sorted(p.relative_to(project).as_posix() for p in project.rglob("*")
                   if p.is_file() and "build" not in p.relative_to(project).parts)
    assert names == sorted(p.relative_to(again).as_posix() for p in again.rglob("*") if p.is_file())
    for name in names:
        assert (project / name).read_bytes() == (again / name).read_bytes(), name
